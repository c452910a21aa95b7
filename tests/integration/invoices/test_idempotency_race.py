"""Idempotency-Key records under a race: the second writer of a key learns it lost (PostgreSQL: the
plain INSERT ... ON CONFLICT answers no row; SQLite: the flush raises), and a request whose key a
concurrent retry stored while it worked answers that retry's response, with its own work undone."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.auth import api_keys
from core.invoices.models import Invoice
from core.merchants import idempotency
from core.money import Asset
from core.ports import DepositAddress
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.invoices.conftest import Shop
from wallets.models import DepositAddress as DepositAddressRow
from wallets.service import POOL


async def test_second_writer_of_a_key_is_told_and_the_first_response_stays(shop: Shop) -> None:
    first = {"id": "inv_first", "amount": "100.00"}
    async with shop.factory() as session, session.begin():
        assert await idempotency.find(session=session, merchant_id=shop.merchant_id, key="k") is None
        stored = await idempotency.remember(
            session=session, merchant_id=shop.merchant_id, key="k", request_digest="d1", status_code=201,
            response=first, clock=shop.clock,
        )  # fmt: skip
        assert stored is True
    async with shop.factory() as session:
        try:
            again = await idempotency.remember(
                session=session, merchant_id=shop.merchant_id, key="k", request_digest="d2", status_code=201,
                response={"id": "inv_second"}, clock=shop.clock,
            )  # fmt: skip
        except IntegrityError:  # SQLite: the ORM flush
            assert session.bind.dialect.name == "sqlite"
        else:
            assert again is False and session.bind.dialect.name == "postgresql"
        await session.rollback()
        found = await idempotency.find(session=session, merchant_id=shop.merchant_id, key="k")
    assert found is not None
    assert (found.request_digest, found.status_code, found.response) == ("d1", 201, first)


class RaceGateway:
    """The shop's gateway, but a concurrent retry with the same Idempotency-Key stores its response
    (in its own transaction) while this request is giving the invoice its addresses."""

    def __init__(self, shop: Shop, key: str, digest: str, winner: dict[str, Any]) -> None:
        self.shop, self.key, self.digest, self.winner = shop, key, digest, winner

    async def new_owner_addresses(
        self, *, owner_type: str, owner_id: int, assets: list[Asset], session: Any
    ) -> list[DepositAddress]:
        async with self.shop.factory() as other, other.begin():
            await idempotency.remember(
                session=other, merchant_id=self.shop.merchant_id, key=self.key, request_digest=self.digest,
                status_code=201, response=self.winner, clock=self.shop.clock,
            )  # fmt: skip
        return await self.shop.gateway.new_owner_addresses(
            owner_type=owner_type, owner_id=owner_id, assets=assets, session=session
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.shop.gateway, name)


async def test_a_retry_that_stored_the_key_first_is_answered_and_this_work_undone(shop: Shop) -> None:
    async with shop.factory() as session:
        if session.bind.dialect.name == "sqlite":
            pytest.skip("SQLite's writers take the write lock in turn: two requests never race on a key")
    await shop.gateway.refill_address_pool(target=2)  # the claim is the pooled one (a plain statement)
    async with shop.factory() as session, session.begin():
        issued = await api_keys.create_api_key(
            session=session, merchant_id=shop.merchant_id, scopes=["invoices:write"], name="till",
            clock=shop.clock, actor="test",
        )  # fmt: skip
    body = {"amount": "250", "order_id": "race-1"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(b"POST /api/v1/invoices\n" + canonical).hexdigest()
    winner = {"id": "inv_winner", "status": "new"}
    runtime = make_runtime(shop.factory, shop.clock)
    runtime.chains = RaceGateway(shop, "race-key", digest, winner)
    headers = {"Authorization": f"Bearer {issued.plaintext}", "Idempotency-Key": "race-key"}
    async with api_client(runtime) as (_app, client):
        answer: httpx.Response = await client.post("/api/v1/invoices", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.json() == winner and answer.headers.get("Idempotent-Replayed") == "true"
    async with shop.factory() as session:
        assert (await session.execute(select(func.count()).select_from(Invoice))).scalar_one() == 0
        pooled = (
            select(func.count()).select_from(DepositAddressRow).where(DepositAddressRow.owner_type == POOL)
        )
        assert (await session.execute(pooled)).scalar_one() == 6  # the claimed addresses went back
