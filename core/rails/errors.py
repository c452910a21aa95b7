"""Collection-rail errors, flat. Adapters raise these; jobs retry the transient ones."""

from __future__ import annotations

from core.errors import KibetiError


class RailError(KibetiError):
    code = "rail_error"


class RailUnavailable(RailError):
    """The provider could not be reached or did not answer: try again later (nothing is known)."""

    code = "rail_unavailable"


class RailAnswerUnreadable(RailUnavailable):
    """The provider answered, but not in the shape its API documents (a status answer that is not an
    object, ...): nothing is learnt from it; ask again later."""

    code = "rail_answer_unreadable"


class RailOutcomeUnknown(RailUnavailable):
    """The request may have reached the provider (a timeout after sending): never repeated blindly;
    the provider's status settles it."""

    code = "rail_outcome_unknown"


class RailRefused(RailError):
    """The provider refused the request (a reused reference, a refund above what was paid, ...);
    `provider_code` is the provider's own error code, when it gave one."""

    code = "rail_refused"

    def __init__(self, message: str = "", *, provider_code: str = "", provider_http_status: int = 0) -> None:
        super().__init__(message)
        self.provider_code = provider_code
        self.provider_http_status = provider_http_status  # the HTTP status it came with (0: none)


class RailOrderConflict(RailError):
    """An idempotency key reused for another order."""

    code = "payment_conflict"


class UnknownRailOrder(RailError):
    code = "unknown_rail_order"


class RefundTooLarge(RailError):
    code = "refund_too_large"


class RefundInProgress(RailError):
    """A refund of this order is open (being sent, or its outcome unknown): one at a time."""

    code = "refund_in_progress"


class RefundOnceOnly(RailError):
    """The rail takes one refund per payment and this payment was refunded already."""

    code = "refund_once_only"


class RefundAwaitingOutcome(RailError):
    """An earlier refund of this payment is with the provider and has no definite outcome (pending or
    unknown): nothing is sent again until it is settled or two staff release it."""

    code = "refund_awaiting_outcome"

    def __init__(self, message: str = "", *, refund_id: int = 0) -> None:
        super().__init__(message)
        self.refund_id = refund_id


class RefundNotOpen(RailError):
    """The refund is settled already (booked, refused or released): nothing to release."""

    code = "refund_not_open"


class RefundReleaseNotProposed(RailError):
    """A release is confirmed by a second staff member only after a first one proposed it."""

    code = "refund_release_not_proposed"


class RefundReleaseSamePerson(RailError):
    """Maker-checker: the staff member who proposed the release cannot confirm it."""

    code = "refund_release_same_person"


class RefundStatusUnreadable(RailError):
    """The provider's status answer about an open refund could not be read: nothing was booked or
    released (the amount stays held); ask again later or check the provider's dashboard."""

    code = "refund_status_unreadable"
