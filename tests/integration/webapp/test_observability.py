"""/healthz, /readyz, /metrics and `kibeti doctor` (issue 21 items 4 and 7), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core import runtime as runtime_module
from core.config import Settings
from core.payments.models import Payout, PayoutStatus
from core.runtime import Runtime
from tests.cli import kibeti
from webapp.app import create_app
from webapp.bootstrap import build_runtime

AT_TOKEN = "observability-at-callback-token-0123456789"


def _settings(db_url: str, **extra: object) -> Settings:
    return Settings(kibeti_env="test", database_url=db_url, at_callback_token=AT_TOKEN, **extra)  # type: ignore[arg-type]


@pytest.fixture
async def runtime(db_url: str) -> AsyncIterator[Runtime]:
    rt = build_runtime(_settings(db_url))
    previous = runtime_module._current
    runtime_module.install(rt)
    yield rt
    runtime_module._current = previous
    await rt.session_factory.kw["bind"].dispose()


def _client(rt: Runtime) -> httpx.AsyncClient:
    app = create_app(rt, run_scheduler_inside=False)
    app.state.runtime = rt
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120)


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


async def test_ready_on_a_migrated_database(runtime: Runtime) -> None:
    async with _client(runtime) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["migrations"] == {"ok": True, "detail": "at head"}


async def test_not_ready_on_an_unmigrated_database_says_what_to_run(tmp_path: Path) -> None:
    rt = build_runtime(_settings(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"))
    try:
        async with _client(rt) as client:
            response = await client.get("/readyz")
    finally:
        await rt.session_factory.kw["bind"].dispose()
    assert response.status_code == 503
    detail = response.json()["checks"]["database"]["detail"]
    assert "kibeti db upgrade" in detail


async def test_metrics_after_a_ussd_hop_and_a_payout(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        session.add(
            Payout(
                id="p-metrics-1",
                idempotency_key="p-metrics-1",
                phone="254700000001",
                account_id=1,
                amount_minor=50_000,
                hold_id=1,
                status=PayoutStatus.UNKNOWN.value,
                originator_conversation_id="p-metrics-1",
                created_at=runtime.clock.now(),
                updated_at=runtime.clock.now(),
            )
        )
        await session.commit()
    form = {"sessionId": "ATUid_metrics", "serviceCode": "*483*1#", "phoneNumber": "+254700000999"}
    async with _client(runtime) as client:
        hop = await client.post(f"/ussd/{AT_TOKEN}", data={**form, "networkCode": "63902", "text": ""})
        assert hop.status_code == 200
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    ussd = [labels for labels, _ in samples["kibeti_http_request_duration_seconds_count"]]
    assert {"family": "ussd", "method": "POST", "status": "2xx"} in ussd
    assert all(AT_TOKEN not in str(labels) for labels in ussd)  # the path token never becomes a label
    assert ({"state": "unknown"}, 1.0) in samples["kibeti_payouts"]
    assert samples["kibeti_payout_oldest_unknown_age_seconds"][0][1] >= 0
    assert ({"dependency": "database"}, 1.0) in samples["kibeti_dependency_up"]
    for name in (
        "kibeti_outbox_backlog",
        "kibeti_compliance_alerts_open",
        "kibeti_customer_funds_minor_units",
    ):
        assert name in samples, name


def test_doctor_reports_each_check_and_fails_when_not_migrated(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'doctor.db'}", "REDIS_URL": ""}
    result = kibeti("doctor", env=env)
    assert result.returncode == 1
    assert "FAIL database" in result.stdout
    assert "kibeti db upgrade" in result.stdout
    assert kibeti("db", "upgrade", env=env).returncode == 0
    result = kibeti("doctor", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   migrations" in result.stdout
    assert "Kibeti is ready." in result.stdout


def _value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(
        value for found, value in samples.get(name, []) if all(found.get(k) == v for k, v in labels.items())
    )


async def test_ussd_screens_and_drop_offs_per_menu_step(runtime: Runtime) -> None:
    form = {"serviceCode": "*483*1#", "phoneNumber": "+254700000998", "networkCode": "63902"}
    async with _client(runtime) as client:
        before = _samples((await client.get("/metrics")).text)
        for session_id in ("ATUid_drop_1", "ATUid_drop_2"):
            assert (
                await client.post(f"/ussd/{AT_TOKEN}", data={**form, "sessionId": session_id, "text": ""})
            ).status_code == 200
        ended = await client.post(
            f"/ussd/{AT_TOKEN}/events",
            data={
                "sessionId": "ATUid_drop_1",
                "status": "Incomplete",
                "hopsCount": "1",
                "phoneNumber": form["phoneNumber"],
            },
        )
        assert ended.status_code == 200
        after = _samples((await client.get("/metrics")).text)
    shown = _value(after, "kibeti_ussd_screens_total", state="welcome", end="no")
    assert shown - _value(before, "kibeti_ussd_screens_total", state="welcome", end="no") == 2
    dropped = _value(after, "kibeti_ussd_dropped_total", state="welcome")
    assert dropped - _value(before, "kibeti_ussd_dropped_total", state="welcome") == 1
