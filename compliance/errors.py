"""Named compliance errors, flat. Each has a stable `code`."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from core.errors import KibetiError

if TYPE_CHECKING:
    from compliance.sanctions.entities import LineError


class ComplianceError(KibetiError):
    code = "compliance_error"
    http_status: ClassVar[int] = 422


class MalformedListFile(ComplianceError, ValueError):
    """A sanctions list file failed validation; nothing was loaded, the previous list stays in force."""

    code = "sanctions_list_malformed"

    def __init__(self, errors: list[LineError]) -> None:
        self.errors = errors
        shown = "\n".join(str(e) for e in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} problem(s) in the sanctions list files:\n{shown}{more}")


class NoSanctionsList(ComplianceError):
    code = "sanctions_list_missing"


class InvalidIdNumber(ComplianceError, ValueError):
    code = "invalid_id_number"


class InvalidDateOfBirth(ComplianceError, ValueError):
    code = "invalid_date_of_birth"


class InvalidDocument(ComplianceError, ValueError):
    code = "invalid_document"


class UnknownTier(ComplianceError, LookupError):
    code = "unknown_kyc_tier"
    http_status: ClassVar[int] = 404


class CaseNotFound(ComplianceError, LookupError):
    code = "case_not_found"
    http_status: ClassVar[int] = 404


class AlertNotFound(ComplianceError, LookupError):
    code = "alert_not_found"
    http_status: ClassVar[int] = 404


class InvalidCaseTransition(ComplianceError, ValueError):
    code = "invalid_case_transition"
    http_status: ClassVar[int] = 409


class ReportNotFound(ComplianceError, LookupError):
    code = "report_not_found"
    http_status: ClassVar[int] = 404


class ReportNotPossible(ComplianceError, ValueError):
    code = "report_not_possible"
    http_status: ClassVar[int] = 409


class CustomerNotFound(ComplianceError, LookupError):
    code = "customer_not_found"
    http_status: ClassVar[int] = 404


class MovementNotFound(ComplianceError, LookupError):
    code = "movement_not_found"
    http_status: ClassVar[int] = 404


class LimitChangeNotFound(ComplianceError, LookupError):
    code = "limit_change_not_found"
    http_status: ClassVar[int] = 404


class LimitChangeNotPending(ComplianceError, ValueError):
    code = "limit_change_not_pending"
    http_status: ClassVar[int] = 409


class UnknownLimit(ComplianceError, ValueError):
    code = "unknown_limit"


class InvalidLimit(ComplianceError, ValueError):
    """A limit amount that is not a plain KES amount, or limits out of order (per-transaction >
    daily > monthly)."""

    code = "invalid_limit"


class InvalidDisposition(ComplianceError, ValueError):
    code = "invalid_disposition"


class InvalidStatusFilter(ComplianceError, ValueError):
    code = "invalid_status"


class InvalidAssignee(ComplianceError, ValueError):
    """The assignee is not an active staff user."""

    code = "invalid_assignee"


class InvalidSuspicionTime(ComplianceError, ValueError):
    code = "invalid_suspicion_at"


class IdentityReviewNotPossible(ComplianceError, ValueError):
    """T1 cannot be approved: no identity on file, or the account is frozen or blocked."""

    code = "identity_review_not_possible"
    http_status: ClassVar[int] = 409


class MovementNotHeld(ComplianceError, ValueError):
    """The movement is not waiting for a review decision (never held, or already decided)."""

    code = "movement_not_held"
    http_status: ClassVar[int] = 409


class MakerCheckerViolation(ComplianceError):
    """The maker of a change cannot also be its checker."""

    code = "maker_checker"
    http_status: ClassVar[int] = 403
