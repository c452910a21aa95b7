"""Jobs (module-level async functions, run by RQ or the in-process queue, by dotted path).

- `compliance.jobs.monitor_movement(movement_id)`: monitoring rules after the fact (staged by the
  gate through the outbox).
- `compliance.jobs.rescreen_customers()`: re-screen everyone against the active list (after a load).
- `compliance.jobs.check_str_deadlines()`: log overdue STRs (escalated cases past 2 days).
- `compliance.jobs.verify_identity(customer_id)`: the identity-registry check of a new customer
  (staged by registration through the outbox): a match lifts to T1, a mismatch goes to staff.
- `compliance.jobs.expire_reviews()`: refuse held movements nobody decided in time (schedule hourly).
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from compliance import cases, onboarding, reviews
from compliance.defaults import ALERT_SCORE_THRESHOLD
from compliance.gate import enabled_rules, load_history, rule_context, view
from compliance.iprs import UnavailableIprs
from compliance.models import KycProfile, Movement
from compliance.rules import RuleHit, evaluate
from compliance.sanctions import store
from compliance.screening_service import rescreen_all, screenable_ids
from core import runtime

log = structlog.get_logger(__name__)
MONITOR_HISTORY = timedelta(days=400)  # enough to see a 180-360 day dormancy


async def monitor_session(
    session: AsyncSession, movement_id: int, *, alert_threshold: int = ALERT_SCORE_THRESHOLD
) -> list[RuleHit]:
    """Evaluate the enabled monitor-mode rules for one movement; raise one alert per hit scoring at
    least `alert_threshold` (lower-scored hits are logged as observations only)."""
    movement = await session.get(Movement, movement_id)
    if movement is None:
        return []
    configs = await enabled_rules(session, ("monitor",))
    profile = await session.get(KycProfile, movement.customer_id)
    if not configs or profile is None:
        return []
    history = await load_history(
        session, movement.customer_id, since=movement.created_at - MONITOR_HISTORY, before_id=movement.id
    )
    history = [m for m in history if (m.created_at, m.id) < (movement.created_at, movement.id)]
    context = await rule_context(session, profile, movement, movement.created_at)
    hits = evaluate(configs, view(movement), history, context)
    for hit in hits:
        if hit.score < alert_threshold:
            log.info(
                "compliance.monitoring.observation", rule=hit.code, movement_id=movement.id, score=hit.score
            )
            continue
        await cases.alert_rule_hit(
            session=session,
            hit=hit,
            customer_id=movement.customer_id,
            movement_id=movement.id,
            source="rule",
            mode="monitor",
            now=movement.created_at,
        )
    return hits


async def monitor_movement(movement_id: int) -> None:
    rt = runtime.get()
    async with rt.session_factory() as session, session.begin():
        hits = await monitor_session(session, movement_id)
    if hits:
        log.info("compliance.monitoring.hits", movement_id=movement_id, rules=[h.code for h in hits])


RESCREEN_BATCH = 5_000


async def rescreen_customers() -> None:
    """Fan a re-screen out as batch jobs, so every worker process takes a share."""
    rt = runtime.get()
    async with rt.session_factory() as session:
        lists = await store.active_list(session=session)
        ids = await screenable_ids(session=session)
    if lists is None:
        log.warning("compliance.rescreen.no_list")
        return
    for start in range(0, len(ids), RESCREEN_BATCH):
        chunk = ids[start : start + RESCREEN_BATCH]
        rt.queue.enqueue(
            "compliance.jobs.rescreen_batch",
            job_id=f"compliance-rescreen:{lists.version}:{chunk[0]}",
            kwargs={
                "list_version": lists.version,
                "first_customer_id": chunk[0],
                "last_customer_id": chunk[-1],
            },
        )
    log.info("compliance.rescreen.enqueued", customers=len(ids), list_version=lists.version)


async def rescreen_batch(list_version: int, first_customer_id: int, last_customer_id: int) -> None:
    rt = runtime.get()
    async with rt.session_factory() as session:
        lists = await store.active_list(session=session)
    if lists is None or lists.version != list_version:
        log.info("compliance.rescreen.superseded", list_version=list_version)
        return  # a newer list is active; its own re-screen covers these customers
    summary = await rescreen_all(
        session_factory=rt.session_factory,
        lists=lists,
        now=rt.clock.now(),
        first_customer_id=first_customer_id,
        last_customer_id=last_customer_id,
    )
    log.info("compliance.rescreen.batch", screened=summary.screened, outcomes=summary.outcomes)


async def check_str_deadlines() -> None:
    rt = runtime.get()
    async with rt.session_factory() as session:
        overdue = await cases.overdue_strs(session=session, now=rt.clock.now())
    for case in overdue:
        log.warning(
            "compliance.str.overdue",
            case_id=case.id,
            due=case.str_due_at.isoformat() if case.str_due_at else "",
        )


async def verify_identity(customer_id: int) -> None:
    rt = runtime.get()
    registry = getattr(rt.compliance, "verifier", None) or UnavailableIprs()
    async with rt.session_factory() as session, session.begin():
        status = await onboarding.verify_identity(
            session=session, customer_id=customer_id, registry=registry, now=rt.clock.now()
        )
    log.info("compliance.identity.checked", customer_id=customer_id, status=status or "nothing to check")


async def expire_reviews() -> None:
    rt = runtime.get()
    hours = rt.settings.compliance.review_expiry_hours
    async with rt.session_factory() as session, session.begin():
        expired = await reviews.expire(session=session, older_than=timedelta(hours=hours), now=rt.clock.now())
    if expired:
        log.info("compliance.reviews.expired", count=expired, after_hours=hours)
