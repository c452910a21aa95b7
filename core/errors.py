"""Named domain errors of core, flat. Channels map them to texts in the user's language by class;
HTTP answers them through one handler (webapp.middleware) as `{code, message}` with `http_status`."""

from __future__ import annotations

from typing import ClassVar


class KibetiError(Exception):
    """Base of every domain error. `code` is the stable key channels translate and API clients read;
    `http_status` is the HTTP status the one error handler answers with (400 unless a class says)."""

    code: str = "error"
    http_status: ClassVar[int] = 400


class RecordedRefusal(KibetiError):
    """A refusal whose record (a compliance movement, a case) was written in the caller's transaction:
    the unit of work commits before the error goes on (any other error rolls the transaction back).

    `acted_on`: the request was carried out as far as it may go (money held for a review), so the
    quote or request it used is spent: a second confirm must not hold the money again."""

    acted_on = False


class InvalidAmount(KibetiError, ValueError):
    code = "invalid_amount"


class CurrencyMismatch(KibetiError, ValueError):
    code = "currency_mismatch"


class ConfigError(KibetiError):
    code = "config_error"
