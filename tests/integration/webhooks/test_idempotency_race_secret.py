"""A webhook endpoint create or roll-secret that loses an Idempotency-Key race (both requests read
the key before either stored it; the other one committed first) answers the winner's stored response
unchanged: marked Idempotent-Replayed and with no secret, since its own secret was rolled back and
never signs anything. Both databases: the race is made deterministic by letting this request's first
look-up of the key miss, as it does when it reads the key just before the winner commits."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.merchants import idempotency
from core.runtime import Runtime
from core.webhooks.models import WebhookEndpoint
from tests.integration.webhooks.conftest import Factory, run_staged_deliveries
from tests.integration.webhooks.receiver import Receiver, verify
from tests.integration.webhooks.test_webhooks_api import _auth, api  # noqa: F401

Api = tuple[httpx.AsyncClient, dict[str, str], Runtime]


def _first_lookup_misses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next request reads the key before the winner's commit (its first look-up finds nothing);
    its later look-up, after its own work is rolled back, reads the database as it is."""
    real_find = idempotency.find
    calls = {"n": 0}

    async def find(**kw: Any) -> idempotency.StoredResponse | None:
        calls["n"] += 1
        return None if calls["n"] == 1 else await real_find(**kw)

    monkeypatch.setattr(idempotency, "find", find)


async def _endpoints(factory: Factory) -> int:
    async with factory() as session:
        return int((await session.execute(select(func.count()).select_from(WebhookEndpoint))).scalar_one())


async def test_a_create_that_loses_the_key_race_replays_the_winner_without_a_secret(
    api: Api,  # noqa: F811
    receiver: Receiver,
    session_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, keys, _runtime = api
    headers = _auth(keys["shop"], **{"Idempotency-Key": "race-hook"})
    body = {"url": receiver.url, "events": ["invoice.settled"], "description": "shop"}
    winner = await client.post("/api/v1/webhooks", json=body, headers=headers)
    assert winner.status_code == 201, winner.text
    assert winner.json()["secret"].startswith("whsec_") and "Idempotent-Replayed" not in winner.headers

    _first_lookup_misses(monkeypatch)
    loser = await client.post("/api/v1/webhooks", json=body, headers=headers)
    assert loser.status_code == 201, loser.text
    assert loser.headers.get("Idempotent-Replayed") == "true"
    assert loser.json()["id"] == winner.json()["id"]
    assert loser.json()["secret"] is None  # not the secret its rolled-back work generated
    assert await _endpoints(session_factory) == 1

    # The winner's secret is the one stored: it signs a test event.
    sent = await client.post(f"/api/v1/webhooks/{winner.json()['id']}/test", headers=_auth(keys["shop"]))
    assert sent.status_code == 202, sent.text
    await run_staged_deliveries(session_factory)
    [delivery] = receiver.delivered()
    header = delivery.headers["Kibeti-Signature"]
    assert verify(winner.json()["secret"], delivery.body, header, now=time.time())


async def test_a_roll_secret_that_loses_the_key_race_replays_the_winner_without_a_secret(
    api: Api,  # noqa: F811
    receiver: Receiver,
    session_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, keys, _runtime = api
    made = await client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=_auth(keys["shop"]))
    assert made.status_code == 201, made.text
    path = f"/api/v1/webhooks/{made.json()['id']}/roll-secret"
    headers = _auth(keys["shop"], **{"Idempotency-Key": "race-roll"})
    winner = await client.post(path, headers=headers)
    assert winner.status_code == 200, winner.text
    rolled = winner.json()["secret"]
    assert rolled.startswith("whsec_") and rolled != made.json()["secret"]

    _first_lookup_misses(monkeypatch)
    loser = await client.post(path, headers=headers)
    assert loser.status_code == 200, loser.text
    assert loser.headers.get("Idempotent-Replayed") == "true"
    assert loser.json()["secret"] is None  # its second roll was rolled back: no secret to show
    assert loser.json()["secret_hint"] == rolled[-4:]

    # Signed with the winner's new secret (and the creation's, for a day): nothing else.
    await client.post(f"/api/v1/webhooks/{made.json()['id']}/test", headers=_auth(keys["shop"]))
    await run_staged_deliveries(session_factory)
    [delivery] = receiver.delivered()
    header = delivery.headers["Kibeti-Signature"]
    assert header.count("v1=") == 2
    assert verify(rolled, delivery.body, header, now=time.time())
    assert verify(made.json()["secret"], delivery.body, header, now=time.time())
