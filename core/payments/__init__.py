"""M-Pesa money movements as core sees them: STK collections, payouts (B2C/B2B) and the raw callback log.

Core owns the tables and the state transitions; payouts/ (the Daraja adapter and its jobs) calls them.
"""
