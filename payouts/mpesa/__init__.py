"""Safaricom M-Pesa Daraja: the HTTP client, its wire helpers and the local simulator."""
