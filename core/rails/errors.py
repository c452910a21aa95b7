"""Collection-rail errors, flat. Adapters raise these; jobs retry the transient ones."""

from __future__ import annotations

from core.errors import KibetiError


class RailError(KibetiError):
    code = "rail_error"


class RailUnavailable(RailError):
    """The provider could not be reached or did not answer: try again later (nothing is known)."""

    code = "rail_unavailable"


class RailRefused(RailError):
    """The provider refused the request (a reused reference, a refund above what was paid, ...)."""

    code = "rail_refused"


class RailOrderConflict(RailError):
    """An idempotency key reused for another order."""

    code = "payment_conflict"


class UnknownRailOrder(RailError):
    code = "unknown_rail_order"


class RefundTooLarge(RailError):
    code = "refund_too_large"
