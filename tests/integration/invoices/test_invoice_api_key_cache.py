"""The merchant API trusts a checked key for a few seconds per process (no key or merchant round
trip per call), yet a revocation in this process is honoured on the very next call."""

from __future__ import annotations

from core.auth import api_keys
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.invoices.conftest import Shop


async def test_cached_key_still_refused_once_revoked(shop: Shop) -> None:
    async with shop.factory() as session, session.begin():
        issued = await api_keys.create_api_key(
            session=session,
            merchant_id=shop.merchant_id,
            scopes=["invoices:write"],
            name="till",
            clock=shop.clock,
            actor="test",
        )
    runtime = make_runtime(shop.factory, shop.clock)
    runtime.chains = shop.gateway
    auth = {"Authorization": f"Bearer {issued.plaintext}"}
    async with api_client(runtime) as (_app, client):
        first = await client.post("/api/v1/invoices", json={"amount": "100"}, headers=auth)
        assert first.status_code == 201, first.text
        assert api_keys.verified_keys.get(issued.plaintext) is not None
        second = await client.post("/api/v1/invoices", json={"amount": "200"}, headers=auth)
        assert second.status_code == 201, second.text
        read = await client.get(f"/api/v1/invoices/{first.json()['id']}", headers=auth)
        assert read.status_code == 403 and read.json()["code"] == "insufficient_scope"  # not from the cache
        async with shop.factory() as session, session.begin():
            await api_keys.revoke_api_key(
                session=session, key_id=issued.api_key.key_id, clock=shop.clock, actor="test"
            )
        refused = await client.post("/api/v1/invoices", json={"amount": "300"}, headers=auth)
        assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"


def test_cache_entries_expire_and_need_the_whole_key() -> None:
    cache = api_keys.VerifiedKeyCache(ttl_seconds=60)
    key = api_keys.VerifiedKey(
        key_id="k1", merchant_id=1, scopes=frozenset({"invoices:write"}), prefix="kbt_live_"
    )
    cache.put("kbt_live_k1_secret", key)
    assert cache.get("kbt_live_k1_secret") == key
    assert cache.get("kbt_live_k1_other") is None  # the same key id with another secret: not trusted
    cache.forget("k1")
    assert cache.get("kbt_live_k1_secret") is None
    stale = api_keys.VerifiedKeyCache(ttl_seconds=0)
    stale.put("kbt_live_k1_secret", key)
    assert stale.get("kbt_live_k1_secret") is None
