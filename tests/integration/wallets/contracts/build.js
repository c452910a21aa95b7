// Compile TestUSDT.sol with solcjs (standard JSON, EVM "paris" so ganache 7.9 and py-evm both run it).
const fs = require("fs");
const path = require("path");
const solc = require(path.join(__dirname, "..", "node", "node_modules", "solc"));
const source = fs.readFileSync(path.join(__dirname, "TestUSDT.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "TestUSDT.sol": { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "paris",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
for (const error of output.errors || []) {
  console.error(error.formattedMessage);
  if (error.severity === "error") process.exit(1);
}
const contract = output.contracts["TestUSDT.sol"].TestUSDT;
const artifact = {
  contractName: "TestUSDT",
  compiler: "solc " + solc.version(),
  evmVersion: "paris",
  abi: contract.abi,
  bytecode: "0x" + contract.evm.bytecode.object,
};
fs.writeFileSync(path.join(__dirname, "TestUSDT.json"), JSON.stringify(artifact, null, 1) + "\n");
console.log("wrote TestUSDT.json with " + solc.version());
