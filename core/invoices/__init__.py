"""Merchant invoices in KES (or USD), paid in BTC, USDT-ERC20, USDT-TRC20 or by M-Pesa."""
