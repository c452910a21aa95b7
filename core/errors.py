"""Named domain errors of core, flat. Channels map them to texts in the user's language by class."""

from __future__ import annotations


class KibetiError(Exception):
    """Base of every domain error. `code` is the stable key channels translate."""

    code = "error"


class InvalidAmount(KibetiError, ValueError):
    code = "invalid_amount"


class CurrencyMismatch(KibetiError, ValueError):
    code = "currency_mismatch"


class ConfigError(KibetiError):
    code = "config_error"
