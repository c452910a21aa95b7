"""Named FX errors. Channels translate by `code` (see core.fx.texts for the rates_unavailable text)."""

from __future__ import annotations

from core.errors import KibetiError


class RatesUnavailable(KibetiError):
    """No fresh rate: quoting stops rather than guessing."""

    code = "rates_unavailable"


class RateSourceError(KibetiError):
    """A provider answered badly (down, slow, malformed). The last good rate is kept."""

    code = "rate_source_error"


class UnknownPair(KibetiError, ValueError):
    code = "unknown_pair"


class OverrideNotAllowed(KibetiError):
    """Only finance staff may propose or approve; maker and checker must be different people."""

    code = "override_not_allowed"


class OverrideNotFound(KibetiError):
    code = "override_not_found"
