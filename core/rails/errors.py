"""Collection-rail errors, flat. Adapters raise these; jobs retry the transient ones."""

from __future__ import annotations

from core.errors import KibetiError


class RailError(KibetiError):
    code = "rail_error"


class RailUnavailable(RailError):
    """The provider could not be reached or did not answer: try again later (nothing is known)."""

    code = "rail_unavailable"


class RailOutcomeUnknown(RailUnavailable):
    """The request may have reached the provider (a timeout after sending): never repeated blindly;
    the provider's status settles it."""

    code = "rail_outcome_unknown"


class RailRefused(RailError):
    """The provider refused the request (a reused reference, a refund above what was paid, ...);
    `provider_code` is the provider's own error code, when it gave one."""

    code = "rail_refused"

    def __init__(self, message: str = "", *, provider_code: str = "") -> None:
        super().__init__(message)
        self.provider_code = provider_code


class RailOrderConflict(RailError):
    """An idempotency key reused for another order."""

    code = "payment_conflict"


class UnknownRailOrder(RailError):
    code = "unknown_rail_order"


class RefundTooLarge(RailError):
    code = "refund_too_large"
