"""PesaPal API 3.0 (JSON): cards and Airtel Money through PesaPal's hosted payment page.

Our own small httpx client, not a PyPI wrapper: the wrappers (pesapal-v3 and the like) are thin
synchronous `requests` code that would block the event loop our jobs run on, keep their token in a
process attribute (workers could not share it through Redis as the Daraja token is), parse amounts
as floats, and record nothing. This client is async, shares the token, reads amounts as Decimal and
stores every call (secrets redacted) in the same table as Daraja's calls.
"""
