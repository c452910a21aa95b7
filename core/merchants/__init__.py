"""Merchants: the businesses API keys are issued to. A key names a merchant that exists."""
