"""The merchant webhook API over HTTP (the real app, both databases): register (secret once), list,
test-send to a local receiver that verifies the signature, the delivery log, redeliver, delete, and
bad input answered as {code, message} with nothing written."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.audit.models import AuditEntry
from core.auth import api_keys
from core.clock import FixedClock
from core.merchants import service as merchants
from core.runtime import Runtime
from core.webhooks.models import WebhookEndpoint
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.webhooks.conftest import Factory, run_staged_deliveries
from tests.integration.webhooks.receiver import Receiver, verify


@pytest.fixture
async def api(session_factory: Factory) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], Runtime]]:
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    async with session_factory() as session, session.begin():
        keys = {}
        for label, scopes in (
            ("shop", ["webhooks:write"]),
            ("reader", ["invoices:read"]),
            ("other", ["webhooks:write"]),
        ):
            merchant = await merchants.create_merchant(
                session=session, name=f"Merchant {label}", actor="t", clock=clock
            )
            merchant.status = "active"
            await session.flush()
            issued = await api_keys.create_api_key(
                session=session, merchant_id=merchant.id, scopes=scopes, name=label, clock=clock, actor="t"
            )
            keys[label] = issued.plaintext
    runtime = make_runtime(session_factory, clock)
    async with api_client(runtime) as (_app, client):
        yield client, keys, runtime


def _auth(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


async def _count(factory: Factory) -> int:
    async with factory() as session:
        return int((await session.execute(select(func.count()).select_from(WebhookEndpoint))).scalar_one())


async def test_register_test_send_log_redeliver_delete(
    api: tuple[httpx.AsyncClient, dict[str, str], Runtime], receiver: Receiver, session_factory: Factory
) -> None:
    client, keys, _runtime = api
    shop = _auth(keys["shop"], **{"Idempotency-Key": "hook-1"})
    body = {"url": receiver.url, "events": ["invoice.processing", "invoice.settled"], "description": "shop"}
    made = await client.post("/api/v1/webhooks", json=body, headers=shop)
    assert made.status_code == 201, made.text
    created: dict[str, Any] = made.json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["secret_hint"] == secret[-4:]
    assert made.headers["cache-control"] == "no-store"
    replay = await client.post("/api/v1/webhooks", json=body, headers=shop)
    assert (
        replay.status_code == 201 and replay.json()["secret"] is None and replay.json()["id"] == created["id"]
    )
    listed = (await client.get("/api/v1/webhooks", headers=_auth(keys["shop"]))).json()["data"]
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    assert await _count(session_factory) == 1

    sent = await client.post(f"/api/v1/webhooks/{created['id']}/test", headers=_auth(keys["shop"]))
    assert sent.status_code == 202
    await run_staged_deliveries(session_factory)
    [got] = receiver.delivered()
    assert got.event["type"] == "webhook.test"
    assert verify(secret, got.body, got.headers["Kibeti-Signature"], now=time.time())

    log = (
        await client.get(f"/api/v1/webhooks/{created['id']}/deliveries", headers=_auth(keys["shop"]))
    ).json()
    [delivery] = log["data"]
    assert delivery["status"] == "delivered" and delivery["event_type"] == "webhook.test"
    detail = (
        await client.get(f"/api/v1/webhooks/deliveries/{delivery['id']}", headers=_auth(keys["shop"]))
    ).json()
    [attempt] = detail["attempt_log"]
    assert attempt["outcome"] == "delivered" and attempt["status_code"] == 200 and attempt["latency_ms"] >= 0

    again = await client.post(
        f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver", headers=_auth(keys["shop"])
    )
    assert again.status_code == 202
    await run_staged_deliveries(session_factory)
    assert len(receiver.delivered()) == 2
    every = (await client.get("/api/v1/webhooks/deliveries?limit=1", headers=_auth(keys["shop"]))).json()
    assert len(every["data"]) == 1 and every["next_cursor"] is not None
    rest = (
        await client.get(
            f"/api/v1/webhooks/deliveries?limit=5&cursor={every['next_cursor']}", headers=_auth(keys["shop"])
        )
    ).json()
    assert len(rest["data"]) == 1 and rest["next_cursor"] is None

    # another merchant sees none of it
    other = _auth(keys["other"])
    for path in (f"/api/v1/webhooks/{created['id']}", f"/api/v1/webhooks/deliveries/{delivery['id']}"):
        answer = await client.get(path, headers=other)
        assert answer.status_code == 404 and set(answer.json()) == {"code", "message"}
    assert (await client.delete(f"/api/v1/webhooks/{created['id']}", headers=other)).status_code == 404

    gone = await client.delete(f"/api/v1/webhooks/{created['id']}", headers=_auth(keys["shop"]))
    assert gone.status_code == 204
    after = await client.get(f"/api/v1/webhooks/{created['id']}", headers=_auth(keys["shop"]))
    assert after.status_code == 404 and after.json()["code"] == "webhook_endpoint_not_found"
    async with session_factory() as session:
        trail = (
            await session.execute(
                select(AuditEntry.actor, AuditEntry.action)
                .where(AuditEntry.action.like("webhook_endpoint.%"))
                .order_by(AuditEntry.seq)
            )
        ).all()
    key_actor = f"api_key:{keys['shop'].split('_')[2]}"
    assert [tuple(row) for row in trail] == [
        (key_actor, "webhook_endpoint.created"),
        (key_actor, "webhook_endpoint.deleted"),
    ]  # the secret is in no audit row
    assert secret not in str(trail)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"url": "not a url"}, 422, "webhook_url_invalid"),
        ({"url": "ftp://example.com/x"}, 422, "webhook_url_invalid"),
        ({"url": "https://user:pw@example.com/"}, 422, "webhook_url_invalid"),
        ({"url": "http://127.0.0.1:9/hook", "events": ["invoice.paid"]}, 422, "webhook_event_unknown"),
        ({"url": "http://127.0.0.1:9/hook", "events": ["webhook.test"]}, 422, "webhook_endpoint_invalid"),
        ({"url": "http://127.0.0.1:9/hook", "colour": "red"}, 422, "invalid_request"),
        ({"events": []}, 422, "invalid_request"),
        ({"url": "http://no-such-host.invalid/hook"}, 422, "webhook_destination_refused"),
        ({"url": "https://" + "a" * 64 + ".example.com/hook"}, 422, "webhook_url_invalid"),
    ],
)
async def test_bad_input_is_answered_with_a_code_and_writes_nothing(
    api: tuple[httpx.AsyncClient, dict[str, str], Runtime],
    session_factory: Factory,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    client, keys, _runtime = api
    answer = await client.post("/api/v1/webhooks", json=body, headers=_auth(keys["shop"]))
    assert answer.status_code == status and answer.json()["code"] == code, answer.text
    assert set(answer.json()) == {"code", "message"} and answer.json()["message"]
    assert "Errno" not in answer.text and "codec" not in answer.text  # plain text, not the resolver's
    assert await _count(session_factory) == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://0x7f000001/hook",
        "https://0.0.0.0/hook",
        "http://93.184.215.14/hook",  # public, but not https
    ],
)
async def test_ssrf_destinations_are_refused_when_private_addresses_are_not_allowed(
    api: tuple[httpx.AsyncClient, dict[str, str], Runtime], session_factory: Factory, url: str
) -> None:
    client, keys, runtime = api
    runtime.settings = runtime.settings.model_copy(
        update={"webhook_allow_private_destinations": False, "webhook_require_https": True}
    )
    answer = await client.post("/api/v1/webhooks", json={"url": url}, headers=_auth(keys["shop"]))
    assert answer.status_code == 422 and answer.json()["code"] == "webhook_destination_refused", answer.text
    assert await _count(session_factory) == 0


async def test_keys_without_the_scope_or_without_a_key_are_refused(
    api: tuple[httpx.AsyncClient, dict[str, str], Runtime],
) -> None:
    client, keys, _runtime = api
    assert (await client.get("/api/v1/webhooks")).json()["code"] == "unauthorized"
    answer = await client.get("/api/v1/webhooks", headers=_auth(keys["reader"]))
    assert answer.status_code == 403 and answer.json()["code"] == "insufficient_scope"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/webhooks/99999999999999999999999",
        "/api/v1/webhooks/0",
        "/api/v1/webhooks/-1",
        "/api/v1/webhooks/abc",
        "/api/v1/webhooks/deliveries/99999999999999999999999",
        "/api/v1/webhooks/deliveries?cursor=99999999999999999999999",
        "/api/v1/webhooks/deliveries?cursor=x",
        "/api/v1/webhooks/deliveries?limit=0",
        "/api/v1/webhooks/9223372036854775807",
    ],
)
async def test_odd_ids_and_cursors_are_a_4xx_never_a_500(
    api: tuple[httpx.AsyncClient, dict[str, str], Runtime], path: str
) -> None:
    client, keys, _runtime = api
    answer = await client.get(path, headers=_auth(keys["shop"]))
    assert 400 <= answer.status_code < 500 and set(answer.json()) == {"code", "message"}, answer.text


async def test_rolling_the_secret_signs_with_both_for_a_day_then_only_the_new_one(
    api: tuple[httpx.AsyncClient, dict[str, str], Runtime], receiver: Receiver, session_factory: Factory
) -> None:
    client, keys, runtime = api
    made = (
        await client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=_auth(keys["shop"]))
    ).json()
    old = made["secret"]
    rolled = await client.post(
        f"/api/v1/webhooks/{made['id']}/roll-secret",
        headers=_auth(keys["shop"], **{"Idempotency-Key": "roll-1"}),
    )
    assert rolled.status_code == 200, rolled.text
    new = rolled.json()["secret"]
    assert new.startswith("whsec_") and new != old and rolled.json()["secret_hint"] == new[-4:]
    replay = await client.post(
        f"/api/v1/webhooks/{made['id']}/roll-secret",
        headers=_auth(keys["shop"], **{"Idempotency-Key": "roll-1"}),
    )
    assert replay.json()["secret"] is None  # not rolled again, and the secret is not stored to replay
    await client.post(f"/api/v1/webhooks/{made['id']}/test", headers=_auth(keys["shop"]))
    await run_staged_deliveries(session_factory)
    [during] = receiver.delivered()
    header = during.headers["Kibeti-Signature"]
    assert header.count("v1=") == 2
    assert verify(new, during.body, header, now=time.time()) and verify(
        old, during.body, header, now=time.time()
    )

    runtime.clock.advance(hours=25)  # type: ignore[attr-defined]
    await client.post(f"/api/v1/webhooks/{made['id']}/test", headers=_auth(keys["shop"]))
    await run_staged_deliveries(session_factory)
    after = receiver.delivered()[1]
    header = after.headers["Kibeti-Signature"]
    assert header.count("v1=") == 1
    later = time.time() + 25 * 3600  # the app's clock moved a day on; the receiver's with it
    assert verify(new, after.body, header, now=later) and not verify(old, after.body, header, now=later)
