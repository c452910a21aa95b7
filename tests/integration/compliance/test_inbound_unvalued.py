"""Crypto arriving when no KES rate was ever stored (a fresh install, rates never fetched) cannot be
valued for the limits; at KES 0 it would pass every one. It is credited and held for review with its
own reason (`inbound_unvalued`): the hold is placed (not spendable), staff see the reason on the
alerts desk, and the customer gets the held SMS in English or Swahili (the generic "we are checking
this payment"). With a rate stored the same deposit is valued and credited, not held.
SQLite and PostgreSQL, with the real gate."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance import reviews
from compliance.models import Alert, Movement
from core.clock import FixedClock
from core.flows import accounts
from core.flows.service import CoreFlows
from core.fx import service as fx
from core.fx.sources import DemoRateSource
from core.ledger import service as ledger
from core.ledger.models import AccountKind, Hold, OwnerType
from core.money import Asset, Money
from tests.integration.compliance import issue12
from tests.integration.staff_portal.portal_helpers import make_staff, portal_client, sign_in

Factory = async_sessionmaker[AsyncSession]
USDT = Money.of("5", Asset.USDT_TRC20)
_deposits = itertools.count(1)


@pytest.fixture(autouse=True)
def _no_cached_rates() -> None:
    accounts._rates.clear()  # the display cache is never the limits' rate; start it empty anyway


async def _customer(factory: Factory, clock: FixedClock, phone: str, national_id: str, language: str) -> int:
    rt = issue12.build_runtime(factory, clock)
    return await issue12.register(CoreFlows(rt), phone, national_id, language=language)


async def _deposit(factory: Factory, customer_id: int) -> None:
    """A confirmed USDT (TRC-20) chain deposit to the customer's wallet, booked as the scanner does."""
    from wallets.models import ChainDeposit
    from wallets.networks import Network
    from wallets.scanning import crediting

    deposit = ChainDeposit(
        txid=f"{next(_deposits):064x}", log_index=0, amount_minor=USDT.minor, address="TXaddr", block_height=1
    )
    async with factory() as session, session.begin():
        await crediting.book_deposit(
            session=session,
            network=Network.TRC20,
            deposit=deposit,
            owner_type="customer",
            owner_id=customer_id,
        )


async def _usdt_wallet(factory: Factory, customer_id: int) -> tuple[Money, Money]:
    """(posted balance, available) of the customer's USDT wallet."""
    async with factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer_id, asset=Asset.USDT_TRC20,
            kind=AccountKind.WALLET,
        )  # fmt: skip
        await session.commit()
        return (
            await ledger.balance(session=session, account_id=wallet.id),
            await ledger.available(session=session, account_id=wallet.id),
        )


async def _only_movement(factory: Factory, customer_id: int) -> Movement:
    async with factory() as session:
        rows = await session.execute(select(Movement).where(Movement.customer_id == customer_id))
        [movement] = rows.scalars().all()
        return movement


async def _alerts(factory: Factory, customer_id: int) -> list[Alert]:
    async with factory() as session:
        return list((await session.execute(select(Alert).where(Alert.customer_id == customer_id))).scalars())


@pytest.mark.parametrize(
    ("language", "says"),
    [
        (
            "en",
            "USDT 5.00 reached your Kibeti wallet and is on hold for review: We are checking this payment.",
        ),
        (
            "sw",
            "USDT 5.00 imefika kwenye pochi yako ya Kibeti na imezuiliwa kwa ukaguzi: Tunakagua malipo haya.",
        ),
    ],
)
async def test_a_crypto_deposit_with_no_rate_ever_stored_is_held_as_unvalued(
    factory: Factory, clock: FixedClock, language: str, says: str
) -> None:
    customer_id = await _customer(factory, clock, "+254712400001", "61234567", language)
    await _deposit(factory, customer_id)

    assert await _usdt_wallet(factory, customer_id) == (USDT, Money.zero(Asset.USDT_TRC20))  # here, held
    movement = await _only_movement(factory, customer_id)
    assert (movement.kind, movement.decision, movement.reason_code) == (
        "deposit",
        "review",
        "inbound_unvalued",
    )
    assert movement.amount_kes == 0  # recorded as it is: no value, and held for it
    [alert] = await _alerts(factory, customer_id)
    assert alert.rule_code == "inbound_held" and alert.movement_ids == [movement.id]
    assert alert.details["reason_code"] == "inbound_unvalued" and alert.details["hold_id"]
    assert alert.summary.startswith("deposit of USDT 5.00 (no KES rate was ever stored"), alert.summary
    async with factory() as session:
        hold = (
            await session.execute(select(Hold).where(Hold.idempotency_key == reviews.hold_key(movement.id)))
        ).scalar_one()
    assert (hold.id, hold.status, hold.asset, hold.amount) == (
        alert.details["hold_id"],
        "pending",
        USDT.asset.value,
        USDT.minor,
    )
    assert hold.details["reason_code"] == "inbound_unvalued"
    [held] = await issue12.notices_for(factory, customer_id)
    assert (
        held["code"] == "compliance.sms.inbound_held" and held["values"]["reason_code"] == "inbound_unvalued"
    )
    text = issue12.notice_text(held, language)
    assert text.startswith(says) and text.count("SMS") == 1, text  # the outcome promised once

    compliance = await make_staff(factory, clock, "compliance")
    async with portal_client(factory, clock) as (_app, client, _runtime):
        await sign_in(client, clock, compliance)
        desk = await client.get("/staff/cases")
    assert desk.status_code == 200, desk.text
    assert "(inbound_unvalued)" in desk.text and "no KES rate was ever stored" in desk.text

    async with factory() as session, session.begin():  # staff release it: spendable
        await reviews.decide(
            session=session, movement_id=movement.id, approve=True, actor="staff:1", now=clock.now()
        )
    assert await _usdt_wallet(factory, customer_id) == (USDT, USDT)


async def test_with_a_rate_stored_the_same_deposit_is_valued_and_credited(
    factory: Factory, clock: FixedClock
) -> None:
    async with factory() as session:
        await fx.refresh(session=session, sources=[DemoRateSource()], clock=clock)
        await session.commit()
    customer_id = await _customer(factory, clock, "+254712400002", "62234567", "en")
    await _deposit(factory, customer_id)

    assert await _usdt_wallet(factory, customer_id) == (USDT, USDT)  # spendable
    movement = await _only_movement(factory, customer_id)
    assert (movement.decision, movement.reason_code) == ("allow", "")
    assert movement.amount_kes > 0
    assert await _alerts(factory, customer_id) == []
    assert await issue12.notices_for(factory, customer_id) == []
