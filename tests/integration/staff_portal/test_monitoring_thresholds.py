"""Monitoring thresholds under maker-checker (core.configchanges): a finance user proposes a new
high-value threshold on the configuration page, the maker cannot approve it, an admin does, and the
rule engine (compliance.gate.enabled_rules) reads the approved value from its effective time on."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance.gate import enabled_rules
from compliance.seed import ensure_defaults
from core.clock import FixedClock
from core.configchanges import service as changes
from core.configchanges.errors import InvalidChange, SameMakerChecker
from tests.integration.staff_portal.portal_helpers import csrf_of, make_staff, portal_client, sign_in
from tests.integration.staff_portal.test_config_changes_api import _bearer

Factory = async_sessionmaker[AsyncSession]
MODES = ("block", "review", "monitor")


async def _threshold(factory: Factory, at: datetime) -> int:
    async with factory() as session:
        rules = {r.code: r.params for r in await enabled_rules(session, MODES, now=at)}
        return int(rules["high_value"]["threshold_kes"])


async def test_threshold_change_is_read_from_its_effective_time(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        await ensure_defaults(session=session, now=clock.now())
        await session.commit()
    before = await _threshold(session_factory, clock.now())
    later = clock.now() + timedelta(hours=2)
    async with session_factory() as session:
        in_force = {r.code: r.params for r in await enabled_rules(session, MODES, now=clock.now())}
        with pytest.raises(InvalidChange):
            await changes.propose_monitoring_threshold(
                session=session, rule="high_value", param="no_such", value="1", in_force=in_force["high_value"],
                effective_from=None, reason="x", maker_id=1, clock=clock,
            )  # fmt: skip
        await session.rollback()
        change = await changes.propose_monitoring_threshold(
            session=session, rule="high_value", param="threshold_kes", value="500000",
            in_force=in_force["high_value"], effective_from=later, reason="board decision", maker_id=1, clock=clock,
        )  # fmt: skip
        change_id = change.id
        await session.commit()
        assert changes.diff(change) == [("high_value.threshold_kes", str(before), "50000000")]
        with pytest.raises(SameMakerChecker):
            await changes.approve(session=session, change_id=change_id, checker_id=1, clock=clock)
        await session.rollback()
        await changes.approve(session=session, change_id=change_id, checker_id=2, clock=clock)
        await session.commit()
    assert await _threshold(session_factory, clock.now()) == before  # not yet in force
    assert await _threshold(session_factory, later + timedelta(seconds=1)) == 50_000_000


async def test_threshold_maker_checker_on_the_config_page(session_factory: Factory) -> None:
    clock = FixedClock()
    finance = await make_staff(session_factory, clock, "finance")
    admin = await make_staff(session_factory, clock, "admin")
    async with session_factory() as session:
        await ensure_defaults(session=session, now=clock.now())
        await session.commit()
    async with portal_client(session_factory, clock) as (_app, maker, _rt):
        await sign_in(maker, clock, finance)
        page = await maker.get("/staff/config")
        assert 'action="/staff/config/monitoring"' in page.text and "high_value" in page.text
        token = csrf_of(page.text)
        bad = await maker.post(
            "/staff/config/monitoring",
            data={
                "csrf_token": token,
                "rule": "high_value",
                "param": "threshold_kes",
                "value": "abc",
                "reason": "",
            },
        )
        assert bad.status_code == 422 and 'id="e-value"' in bad.text
        proposed = await maker.post(
            "/staff/config/monitoring",
            data={"csrf_token": token, "rule": "velocity", "param": "count_24h", "value": "30",
                  "reason": "Fewer false alerts"},
        )  # fmt: skip
        assert proposed.status_code == 303
        page = await maker.get("/staff/config")
        assert "<ins>30</ins>" in page.text and "<del>20</del>" in page.text
    async with portal_client(session_factory, clock) as (_app, checker, _rt):
        await sign_in(checker, clock, admin)
        page = await checker.get("/staff/config")
        change = re.search(r"/staff/config/changes/(\d+)/approve", page.text)
        assert change is not None
        approved = await checker.post(change.group(0), data={"csrf_token": csrf_of(page.text)})
        assert approved.status_code == 303
    async with session_factory() as session:
        rules = {
            r.code: r.params
            for r in await enabled_rules(session, MODES, now=clock.now() + timedelta(seconds=1))
        }
        assert rules["velocity"]["count_24h"] == 30


async def test_threshold_change_over_the_api(session_factory: Factory) -> None:
    clock = FixedClock()
    finance = await make_staff(session_factory, clock, "finance")
    admin = await make_staff(session_factory, clock, "admin")
    async with session_factory() as session:
        await ensure_defaults(session=session, now=clock.now())
        await session.commit()
    maker, checker = (
        await _bearer(session_factory, clock, finance.id),
        await _bearer(session_factory, clock, admin.id),
    )
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        url = "/api/staff/config/monitoring-changes"
        unknown = await client.post(
            url, headers=maker, json={"rule": "nope", "param": "x", "value": "1", "reason": "r"}
        )
        assert unknown.status_code == 422 and unknown.json()["code"] == "config_change_invalid"
        proposed = await client.post(
            url,
            headers=maker,
            json={"rule": "fan_in", "param": "counterparties_7d", "value": "12", "reason": "r"},
        )
        assert proposed.status_code == 201, proposed.text
        change = proposed.json()
        assert change["previous"]["value"] == 10 and change["payload"]["value"] == 12
        approved = await client.post(f"/api/staff/config/changes/{change['id']}/approve", headers=checker)
        assert approved.status_code == 200 and approved.json()["applied_ref"].startswith("monitoring:fan_in.")
