"""A staff identity decision (T1 approved or rejected by hand) closes, with a note, the open
identity-registry alerts it answers; other alerts stay open. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from compliance import cases, onboarding
from compliance.models import Alert, KycProfile
from tests.integration.compliance.helpers import add_customer, rule_alert


@pytest.mark.parametrize("approve", [True, False])
async def test_the_identity_decision_closes_the_registry_alert(factory, clock, approve: bool) -> None:  # type: ignore[no-untyped-def]
    async with factory() as session, session.begin():
        await add_customer(session, 60, clock.now())
        session.add(
            KycProfile(customer_id=60, full_name="Amina Wanjiru", id_number="32345678",
                       date_of_birth=date(1991, 1, 1), iprs_status="not_found")
        )  # fmt: skip
        await cases.raise_alert(
            session=session, dedupe_key="kyc:identity:60:not_found", customer_id=60, source="kyc",
            rule_code="identity_not_found", score=50, summary="identity registry: not_found", details={},
            movement_ids=[], now=clock.now(),
        )  # fmt: skip
        await rule_alert(session, clock.now(), dedupe_key="velocity-60", customer_id=60, rule_code="velocity")
    async with factory() as session, session.begin():
        await onboarding.approve_t1(
            session=session, customer_id=60, approve=approve, reviewer="staff:3", now=clock.now()
        )
    async with factory() as session:
        alerts = {a.rule_code: a for a in (await session.execute(select(Alert))).scalars()}
    answered = alerts["identity_not_found"]
    assert answered.status == "dismissed"
    decision = "approved" if approve else "rejected"
    assert answered.details["dismissal_note"] == f"answered by the identity review: T1 {decision} by staff:3"
    assert answered.details["dismissed_by"] == "staff:3"
    assert alerts["velocity"].status == "open"  # not what the identity decision answers
