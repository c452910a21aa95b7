"""Staff actions for the compliance role: alerts, cases (assign, notes, evidence, escalate,
close), STR export, overdue STRs, freezes and T2 review. Never exposed to customers (tipping off)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Self, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from compliance import audit_trail, cases, kyc, onboarding, reports, reviews
from compliance.models import KycDocument, Movement, ScreeningResult
from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from webapp.deps_auth import DbSession, get_keyring, get_runtime, require_permission

router = APIRouter(prefix="/api/staff/compliance", tags=["compliance"])

CasesStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.COMPLIANCE_CASES))]
ReportsStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.COMPLIANCE_REPORTS))]
KycStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.KYC_REVIEW))]
LimitsStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.LIMITS_CHANGE))]
StatusQuery = Annotated[str, Query(alias="status", max_length=16)]
# Ids beyond the columns' range would reach the database driver and fail there (a 500): compliance
# keeps customer ids (and tiers) in 32-bit columns, its own row ids in 64-bit ones.
MAX_CUSTOMER_ID, MAX_ROW_ID = 2**31 - 1, 2**63 - 1
CustomerId = Annotated[int, Path(ge=1, le=MAX_CUSTOMER_ID)]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
TierNumber = Annotated[int, Path(ge=0, le=MAX_CUSTOMER_ID)]
BodyCustomerId = Annotated[int, Field(ge=1, le=MAX_CUSTOMER_ID)]
BodyRowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
T = TypeVar("T")


def actor(staff: SignedInStaff) -> str:
    return f"staff:{staff.id}:{staff.email}"


async def committed(session: AsyncSession, write: Awaitable[T]) -> T:
    """Run one write and commit it (a domain error answers with its own status: webapp.middleware)."""
    result = await write
    await session.commit()
    return result


class RowOut(BaseModel):
    """A response read straight off a table row's attributes of the same names."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, row: Any) -> Self:
        return cls.model_validate(row)


class AlertOut(RowOut):
    id: int
    customer_id: int | None
    source: str
    rule_code: str
    score: int
    summary: str
    status: str
    case_id: int | None
    movement_ids: list[int]
    details: dict[str, Any]
    created_at: datetime


class CaseOut(RowOut):
    id: int
    customer_id: int | None
    title: str
    status: str
    priority: str
    assigned_to: str
    suspicion_at: datetime | None
    str_due_at: datetime | None
    grounds: str
    disposition: str
    created_at: datetime
    closed_at: datetime | None


class EventOut(RowOut):
    id: int
    kind: str
    actor: str
    text: str
    movement_id: int | None
    data: dict[str, Any]
    created_at: datetime


class MovementOut(BaseModel):
    id: int
    customer_id: int
    kind: str
    asset: str
    amount_minor: int
    amount_kes_minor: int
    counterparty: str
    decision: str
    reason_code: str
    created_at: datetime

    @classmethod
    def of(cls, m: Movement) -> MovementOut:
        return cls(
            id=m.id,
            customer_id=m.customer_id,
            kind=m.kind,
            asset=m.asset,
            amount_minor=m.amount_minor,
            amount_kes_minor=m.amount_kes,
            counterparty=m.counterparty,
            decision=m.decision,
            reason_code=m.reason_code,
            created_at=m.created_at,
        )


class CaseDetailOut(BaseModel):
    case: CaseOut
    events: list[EventOut]
    alerts: list[AlertOut]
    movements: list[MovementOut]


class NewCase(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    alert_ids: list[BodyRowId] = Field(default_factory=list, max_length=100)
    customer_id: BodyCustomerId | None = None
    priority: str = Field(default="normal", pattern="^(low|normal|high)$")


class Assign(BaseModel):
    assignee: str = Field(min_length=1, max_length=80)


class Note(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class Evidence(BaseModel):
    movement_id: BodyRowId
    note: str = Field(default="", max_length=1000)


class Escalate(BaseModel):
    grounds: str = Field(min_length=1, max_length=10000)
    suspicion_at: datetime | None = None


class Close(BaseModel):
    disposition: str
    note: str = Field(default="", max_length=5000)


class Dismiss(BaseModel):
    note: str = Field(min_length=1, max_length=1000)


class Freeze(BaseModel):
    frozen: bool
    reason: str = Field(default="", max_length=200)


class T2Decision(BaseModel):
    approve: bool


class ReportOut(RowOut):
    id: int
    reference: str
    report_code: str
    case_id: int | None
    frc_reference: str  # "" until staff record the FRC filing (a drafted STR)
    submitted_at: datetime | None  # when it was filed with the FRC


class StrFiling(BaseModel):
    frc_reference: str = Field(min_length=1, max_length=64)
    filed_at: datetime  # with a time zone, e.g. 2026-03-10T14:00:00+03:00


def now(request: Request) -> datetime:
    return get_runtime(request).clock.now()


@router.get("/alerts", response_model=list[AlertOut])
async def list_alerts(
    session: DbSession,
    _staff: CasesStaff,
    status_filter: StatusQuery = "",
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_CUSTOMER_ID)] = None,
) -> list[AlertOut]:
    found = await cases.list_alerts(session=session, status=status_filter or None, customer_id=customer_id)
    return [AlertOut.of(a) for a in found]


@router.post("/alerts/{alert_id}/dismiss", response_model=AlertOut)
async def dismiss_alert(
    alert_id: RowId, body: Dismiss, request: Request, session: DbSession, staff: CasesStaff
) -> AlertOut:
    written = await committed(
        session,
        cases.dismiss_alert(
            session=session, alert_id=alert_id, actor=actor(staff), note=body.note, now=now(request)
        ),
    )
    return AlertOut.of(written)


@router.get("/cases", response_model=list[CaseOut])
async def list_cases(
    session: DbSession, _staff: CasesStaff, status_filter: StatusQuery = ""
) -> list[CaseOut]:
    found = await cases.list_cases(session=session, status=status_filter or None)
    return [CaseOut.of(c) for c in found]


@router.post("/cases", response_model=CaseOut, status_code=status.HTTP_201_CREATED)
async def open_case(body: NewCase, request: Request, session: DbSession, staff: CasesStaff) -> CaseOut:
    if body.customer_id is not None:
        await kyc.require_customer(session=session, customer_id=body.customer_id)
    written = await committed(
        session,
        cases.open_case(
            session=session,
            title=body.title,
            actor=actor(staff),
            now=now(request),
            alert_ids=body.alert_ids,
            customer_id=body.customer_id,
            priority=body.priority,
        ),
    )
    return CaseOut.of(written)


@router.get("/cases/{case_id}", response_model=CaseDetailOut)
async def get_case(case_id: RowId, session: DbSession, _staff: CasesStaff) -> CaseDetailOut:
    detail = await cases.case_detail(session=session, case_id=case_id)
    return CaseDetailOut(
        case=CaseOut.of(detail.case),
        events=[EventOut.of(e) for e in detail.events],
        alerts=[AlertOut.of(a) for a in detail.alerts],
        movements=[MovementOut.of(m) for m in detail.movements],
    )


@router.post("/cases/{case_id}/assign", response_model=CaseOut)
async def assign(
    case_id: RowId, body: Assign, request: Request, session: DbSession, staff: CasesStaff
) -> CaseOut:
    written = await committed(
        session,
        cases.assign(
            session=session, case_id=case_id, assignee=body.assignee, actor=actor(staff), now=now(request)
        ),
    )
    return CaseOut.of(written)


@router.post("/cases/{case_id}/notes", response_model=EventOut, status_code=status.HTTP_201_CREATED)
async def add_note(
    case_id: RowId, body: Note, request: Request, session: DbSession, staff: CasesStaff
) -> EventOut:
    written = await committed(
        session,
        cases.add_note(
            session=session, case_id=case_id, actor=actor(staff), text=body.text, now=now(request)
        ),
    )
    return EventOut.of(written)


@router.post("/cases/{case_id}/evidence", response_model=EventOut, status_code=status.HTTP_201_CREATED)
async def add_evidence(
    case_id: RowId, body: Evidence, request: Request, session: DbSession, staff: CasesStaff
) -> EventOut:
    written = await committed(
        session,
        cases.add_evidence(
            session=session,
            case_id=case_id,
            movement_id=body.movement_id,
            actor=actor(staff),
            note=body.note,
            now=now(request),
        ),
    )
    return EventOut.of(written)


@router.post("/cases/{case_id}/escalate", response_model=CaseOut)
async def escalate(
    case_id: RowId, body: Escalate, request: Request, session: DbSession, staff: CasesStaff
) -> CaseOut:
    written = await committed(
        session,
        cases.escalate(
            session=session,
            case_id=case_id,
            actor=actor(staff),
            grounds=body.grounds,
            now=now(request),
            suspicion_at=body.suspicion_at,
        ),
    )
    return CaseOut.of(written)


@router.post("/cases/{case_id}/close", response_model=CaseOut)
async def close(
    case_id: RowId, body: Close, request: Request, session: DbSession, staff: CasesStaff
) -> CaseOut:
    written = await committed(
        session,
        cases.close(
            session=session,
            case_id=case_id,
            disposition=body.disposition,
            note=body.note,
            actor=actor(staff),
            now=now(request),
        ),
    )
    return CaseOut.of(written)


@router.post("/cases/{case_id}/str", response_model=ReportOut, status_code=status.HTTP_201_CREATED)
async def export_str(case_id: RowId, request: Request, session: DbSession, staff: ReportsStaff) -> ReportOut:
    written = await committed(
        session,
        reports.export_str(
            session=session,
            case_id=case_id,
            actor=actor(staff),
            now=now(request),
            settings=get_runtime(request).settings.compliance,
        ),
    )
    return ReportOut.of(written)


@router.post("/reports/{report_id}/filing", response_model=ReportOut)
async def record_str_filing(
    report_id: RowId, body: StrFiling, request: Request, session: DbSession, staff: ReportsStaff
) -> ReportOut:
    """The drafted STR was filed with the FRC (goAML): its reference and date; the case is reported."""
    written = await committed(
        session,
        reports.record_str_filing(
            session=session,
            report_id=report_id,
            frc_reference=body.frc_reference,
            filed_at=body.filed_at,
            actor=actor(staff),
            now=now(request),
        ),
    )
    return ReportOut.of(written)


@router.get("/reports/{report_id}/xml")
async def report_xml(report_id: RowId, session: DbSession, _staff: ReportsStaff) -> Response:
    report = await reports.get_report(session=session, report_id=report_id)
    headers = {"Content-Disposition": f'attachment; filename="{report.reference}.xml"'}
    return Response(report.xml, media_type="application/xml", headers=headers)


@router.get("/strs/overdue", response_model=list[CaseOut])
async def overdue(request: Request, session: DbSession, _staff: ReportsStaff) -> list[CaseOut]:
    return [CaseOut.of(c) for c in await cases.overdue_strs(session=session, now=now(request))]


@router.post("/customers/{customer_id}/freeze")
async def freeze(
    customer_id: CustomerId, body: Freeze, request: Request, session: DbSession, staff: CasesStaff
) -> dict[str, Any]:
    await kyc.require_customer(session=session, customer_id=customer_id)
    profile = await committed(
        session,
        kyc.set_frozen(
            session=session,
            customer_id=customer_id,
            frozen=body.frozen,
            reason=body.reason,
            actor=actor(staff),
            now=now(request),
        ),
    )
    return {"customer_id": customer_id, "frozen": profile.frozen}


@router.post("/customers/{customer_id}/t2-review")
async def t2_review(
    customer_id: CustomerId, body: T2Decision, request: Request, session: DbSession, staff: KycStaff
) -> dict[str, Any]:
    await kyc.require_customer(session=session, customer_id=customer_id)
    profile = await committed(
        session,
        kyc.review_t2(
            session=session,
            customer_id=customer_id,
            approve=body.approve,
            reviewer=actor(staff),
            now=now(request),
        ),
    )
    return {"customer_id": customer_id, "tier": profile.tier, "t2_review": profile.t2_review}


class MorePhotos(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        pattern="^(id_unreadable|name_mismatch|dob_mismatch|document_expired|selfie_mismatch)$"
    )


@router.post("/customers/{customer_id}/kyc-more")
async def request_more_photos(
    customer_id: CustomerId, body: MorePhotos, request: Request, session: DbSession, staff: KycStaff
) -> dict[str, Any]:
    """Ask the customer for new ID photos and a selfie (an SMS in their language; audited)."""
    await kyc.require_customer(session=session, customer_id=customer_id)
    profile = await committed(
        session,
        kyc.request_more(
            session=session, customer_id=customer_id, reviewer=actor(staff), reason=body.reason,
            now=now(request),
        ),
    )  # fmt: skip
    return {"customer_id": customer_id, "tier": profile.tier, "t2_review": profile.t2_review}


class T1Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool


class MovementDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    note: str = Field(default="", max_length=500)


@router.post("/customers/{customer_id}/t1-review")
async def t1_review(
    customer_id: CustomerId, body: T1Decision, request: Request, session: DbSession, staff: KycStaff
) -> dict[str, Any]:
    """Approve (T1) or reject an identity the registry did not match, after checking the ID."""
    profile = await committed(
        session,
        onboarding.approve_t1(
            session=session,
            customer_id=customer_id,
            approve=body.approve,
            reviewer=actor(staff),
            now=now(request),
        ),
    )
    return {"customer_id": customer_id, "tier": profile.tier, "identity": profile.iprs_status}


@router.post("/movements/{movement_id}/decide", response_model=MovementOut)
async def decide_movement(
    movement_id: RowId, body: MovementDecision, request: Request, session: DbSession, staff: CasesStaff
) -> MovementOut:
    """Release (approve) or refuse a movement held for review; the customer gets an SMS either way.
    Refused money that had arrived goes to suspense for a refund."""
    movement = await committed(
        session,
        reviews.decide(
            session=session,
            movement_id=movement_id,
            approve=body.approve,
            actor=actor(staff),
            now=now(request),
            note=body.note,
        ),
    )
    return MovementOut.of(movement)


class DocumentOut(RowOut):
    id: int
    kind: str
    content_type: str
    size: int
    created_at: datetime
    retain_until: datetime


class ScreeningOut(BaseModel):
    id: int
    subject_type: str
    outcome: str
    score: float
    list_version: int
    details: dict[str, Any]
    created_at: datetime


class KycOut(BaseModel):
    customer_id: int
    tier: int
    full_name: str
    id_type: str
    id_number: str
    date_of_birth: date | None
    iprs_status: str
    t2_review: str
    frozen: bool
    frozen_reason: str
    sanctions_outcome: str
    documents: list[DocumentOut]
    screenings: list[ScreeningOut]


@router.get("/customers/{customer_id}/kyc", response_model=KycOut)
async def customer_kyc(
    customer_id: CustomerId, request: Request, session: DbSession, staff: KycStaff
) -> KycOut:
    profile = await kyc.get_profile(session=session, customer_id=customer_id)
    if profile is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, {"code": "kyc_profile_not_found", "message": "no KYC profile"}
        )
    await audit_trail.record_read(
        session=session, actor=actor(staff), action="kyc.profile_read", subject=f"customer:{customer_id}",
        now=now(request),
    )  # fmt: skip
    documents = (
        await session.execute(
            select(KycDocument).where(KycDocument.customer_id == customer_id).order_by(KycDocument.id)
        )
    ).scalars()
    screenings = (
        await session.execute(
            select(ScreeningResult)
            .where(ScreeningResult.customer_id == customer_id)
            .order_by(ScreeningResult.id.desc())
            .limit(20)
        )
    ).scalars()
    return KycOut(
        customer_id=customer_id,
        tier=profile.tier,
        full_name=profile.full_name,
        id_type=profile.id_type,
        id_number=profile.id_number,
        date_of_birth=profile.date_of_birth,
        iprs_status=profile.iprs_status,
        t2_review=profile.t2_review,
        frozen=profile.frozen,
        frozen_reason=profile.frozen_reason,
        sanctions_outcome=profile.sanctions_outcome,
        documents=[DocumentOut.of(d) for d in documents],
        screenings=[
            ScreeningOut(
                id=r.id,
                subject_type=r.subject_type,
                outcome=r.outcome,
                score=r.score / 1000,
                list_version=r.list_version,
                details=r.details,
                created_at=r.created_at,
            )
            for r in screenings
        ],
    )


@router.get("/documents/{document_id}")
async def document(document_id: RowId, request: Request, session: DbSession, staff: KycStaff) -> Response:
    """The decrypted ID photo or selfie, for T2 review (never cached)."""
    found = await session.get(KycDocument, document_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, {"code": "document_not_found", "message": "no such document"}
        )
    await audit_trail.record_read(
        session=session, actor=actor(staff), action="kyc.document_read",
        subject=f"customer:{found.customer_id}", now=now(request),
        details={"document_id": found.id, "kind": found.kind},
    )  # fmt: skip
    content = kyc.open_document(found, keyring=get_keyring(get_runtime(request)))
    return Response(content, media_type=found.content_type, headers={"Cache-Control": "no-store"})


class TierOut(BaseModel):
    tier: int
    name: str
    requirements: list[str]
    limits_kes: dict[str, str]


class ProposeLimits(BaseModel):
    # Strings ("15000.00") or whole numbers; parsed strictly by kyc.parse_limit_kes (never floats).
    limits_kes: dict[str, StrictStr | StrictInt] = Field(min_length=1, max_length=5)
    reason: str = Field(min_length=1, max_length=300)


class LimitChangeOut(RowOut):
    id: int
    tier: int
    changes_kes: dict[str, str]
    reason: str
    status: str
    proposed_by: str
    decided_by: str


class Decide(BaseModel):
    approve: bool


@router.get("/tiers", response_model=list[TierOut])
async def tiers(session: DbSession, _staff: LimitsStaff) -> list[TierOut]:
    return [
        TierOut(
            tier=t.tier,
            name=t.name,
            requirements=list(t.requirements),
            limits_kes={name: str(Decimal(getattr(t, name)).scaleb(-2)) for name in kyc.LIMIT_FIELDS},
        )
        for t in await kyc.list_tiers(session=session)
    ]


@router.post(
    "/tiers/{tier}/limit-changes", response_model=LimitChangeOut, status_code=status.HTTP_201_CREATED
)
async def propose_limits(
    tier: TierNumber, body: ProposeLimits, request: Request, session: DbSession, staff: LimitsStaff
) -> LimitChangeOut:
    written = await committed(
        session,
        kyc.propose_limit_change(
            session=session,
            tier=tier,
            limits_kes=body.limits_kes,
            reason=body.reason,
            actor=actor(staff),
            now=now(request),
        ),
    )
    return LimitChangeOut.of(written)


@router.post("/limit-changes/{change_id}/decide", response_model=LimitChangeOut)
async def decide_limits(
    change_id: RowId, body: Decide, request: Request, session: DbSession, staff: LimitsStaff
) -> LimitChangeOut:
    written = await committed(
        session,
        kyc.decide_limit_change(
            session=session, change_id=change_id, approve=body.approve, actor=actor(staff), now=now(request)
        ),
    )
    return LimitChangeOut.of(written)
