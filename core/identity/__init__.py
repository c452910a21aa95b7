"""Customers, identified by phone number: registration, language, PINs and OTPs."""
