"""USDT-TRC20 on TRON: deposits from a TronGrid-style events API."""
