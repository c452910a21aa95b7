"""A merchant suspended, or a key revoked, by another process (whose `forget` never reached this
process's cache of verified keys) is refused here on the very next request, not seconds later.
SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import update

from core.auth import api_keys
from core.auth.models import ApiKey
from core.merchants import service as merchants
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.invoices.conftest import Shop


async def _issue(shop: Shop) -> api_keys.IssuedKey:
    async with shop.factory() as session, session.begin():
        return await api_keys.create_api_key(
            session=session, merchant_id=shop.merchant_id, scopes=["invoices:write"], name="till",
            clock=shop.clock, actor="test",
        )  # fmt: skip


async def test_a_suspension_elsewhere_counts_on_the_next_request(shop: Shop) -> None:
    issued = await _issue(shop)
    runtime = make_runtime(shop.factory, shop.clock)
    runtime.chains = shop.gateway
    auth = {"Authorization": f"Bearer {issued.plaintext}"}
    async with api_client(runtime) as (_app, client):
        first = await client.post("/api/v1/invoices", json={"amount": "100"}, headers=auth)
        assert first.status_code == 201, first.text
        assert api_keys.verified_keys.get(issued.plaintext) is not None  # trusted from here on
        async with shop.factory() as session, session.begin():  # another process: this cache is not told
            await merchants.suspend_merchant(
                session=session, merchant_id=shop.merchant_id, reason="fraud", actor="staff", clock=shop.clock
            )
        refused = await client.post("/api/v1/invoices", json={"amount": "200"}, headers=auth)
    assert refused.status_code == 403 and refused.json()["code"] == "merchant_not_active", refused.text


async def test_a_revocation_elsewhere_counts_on_the_next_request(shop: Shop) -> None:
    issued = await _issue(shop)
    runtime = make_runtime(shop.factory, shop.clock)
    runtime.chains = shop.gateway
    auth = {"Authorization": f"Bearer {issued.plaintext}"}
    async with api_client(runtime) as (_app, client):
        first = await client.post("/api/v1/invoices", json={"amount": "100"}, headers=auth)
        assert first.status_code == 201, first.text
        async with shop.factory() as session, session.begin():  # revoked by another process
            await session.execute(
                update(ApiKey)
                .where(ApiKey.key_id == issued.api_key.key_id)
                .values(revoked_at=shop.clock.now())
            )
        assert api_keys.verified_keys.get(issued.plaintext) is not None  # this process was not told
        refused = await client.post("/api/v1/invoices", json={"amount": "200"}, headers=auth)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized", refused.text
