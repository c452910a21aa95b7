"""USDT-ERC20 on Ethereum: eth_getLogs-based deposit source, transaction signing and fees."""
