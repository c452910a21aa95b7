"""Safaricom M-Pesa Daraja: the HTTP client, its wire helpers and the local simulator."""

# Daraja's result codes translated for core (registered on import: core.payments.outcomes)
from payouts.mpesa import results as results
