"""Merchant balances, fees and settlement to M-Pesa (issue 16).

A settled invoice or a payment from a Kibeti wallet credits the merchant's KES account less the
merchant fee (`service`); settlements pay that balance out through the payout pipeline as a Daraja
B2B (till, paybill) or B2C (phone) payment (`run`), with a statement per settlement (`statement`).
"""
