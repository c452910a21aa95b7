#!/usr/bin/env bash
# Rebuild TestUSDT.json (ABI + bytecode) from TestUSDT.sol with the `solc` npm package (solcjs),
# pinned in ../node/package.json. Usage: bash tests/integration/wallets/contracts/build.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -d "$here/../node/node_modules/solc" ] || npm ci --prefix "$here/../node" --no-audit --no-fund
node "$here/build.js"
