"""The KES value of a crypto movement for the limits and the compliance gate comes from the rate
quotes use, read when the movement is checked (an approved override, else the newest rate no older
than FxPolicy's max_age), never from the balances screen's few-seconds display cache. With no fresh
rate the movement is refused with 'try again shortly' (English and Swahili), never checked against a
stale value or a zero. On PostgreSQL with the real gate."""

from __future__ import annotations

from decimal import ROUND_UP, Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance import jobs
from compliance.models import Movement
from compliance.seed import ensure_defaults
from core.clock import FixedClock
from core.flows import accounts
from core.flows.errors import LimitRateUnavailable
from core.flows.service import CoreFlows
from core.fx import service as fx
from core.fx.policy import FxPolicy
from core.fx.sources import DemoRateSource
from core.i18n import translate
from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.money import Asset, Money
from tests.integration.compliance import issue12

Factory = async_sessionmaker[AsyncSession]
SENDER, FRIEND = "+254712300001", "+254712300002"
AMOUNT = Money.of("0.001", Asset.BTC)


@pytest.fixture
async def pg(pg_session_factory, clock):  # type: ignore[no-untyped-def]
    async with pg_session_factory() as session, session.begin():
        await ensure_defaults(session=session, now=clock.now())
    accounts._rates.clear()
    return pg_session_factory


async def _refresh(factory, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    async with factory() as session:
        await fx.refresh(session=session, sources=[DemoRateSource()], clock=clock)
        await session.commit()


async def _give_btc(factory, customer_id: int) -> None:  # type: ignore[no-untyped-def]
    async with factory() as session, session.begin():
        custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=Asset.BTC)
        wallet = await accounts.wallet_account_id(session, customer_id, Asset.BTC)
        await ledger.transfer(
            session=session, idempotency_key=f"test-btc:{customer_id}", from_account_id=custody.id,
            to_account_id=wallet, amount=Money.of("0.01", Asset.BTC), kind="deposit",
        )  # fmt: skip


async def _btc(factory, customer_id: int) -> Money:  # type: ignore[no-untyped-def]
    async with factory() as session:
        return await accounts.available(session, customer_id, Asset.BTC)


async def _sends(factory) -> list[Movement]:  # type: ignore[no-untyped-def]
    async with factory() as session:
        return list((await session.scalars(select(Movement).where(Movement.kind == "send"))).all())


async def test_a_send_with_only_a_stale_rate_is_refused_though_the_display_cache_has_a_bid(
    pg: Factory, clock: FixedClock
) -> None:
    rt = issue12.build_runtime(pg, clock)
    flows = CoreFlows(rt)
    sender = await issue12.register(flows, SENDER, "53234567")
    await issue12.register(flows, FRIEND, "54234567", name="Otieno Juma")
    await jobs.verify_identity(sender)  # Tier 1: BTC 0.001 is well inside its limits
    await _give_btc(pg, sender)
    await _refresh(pg, clock)
    shown = {line.asset: line.kes_value for line in await flows.balances(customer_id=sender)}
    btc_shown = shown[Asset.BTC]
    assert btc_shown is not None and btc_shown.is_positive()  # the display cache has the bid

    clock.advance(seconds=FxPolicy().max_age.total_seconds() + 60)  # the stored rate is stale now
    # the balances screen still shows its cached bid for a few seconds (display only) ...
    assert {line.asset: line.kes_value for line in await flows.balances(customer_id=sender)} == shown
    # ... the limits do not take it: told at the amount step, and refused at the PIN
    with pytest.raises(LimitRateUnavailable):
        await flows.check_amount(customer_id=sender, kind="send", amount=AMOUNT)
    quote = await flows.quote_send(customer_id=sender, to_phone=FRIEND, amount=AMOUNT)  # a send needs no rate
    with pytest.raises(LimitRateUnavailable) as refused:
        await flows.confirm_send(
            customer_id=sender, quote_id=quote.id, to_phone=FRIEND, pin=issue12.PIN, idempotency_key="stale"
        )
    assert refused.value.code == "limit_rate_unavailable" and refused.value.http_status == 503
    assert await _btc(pg, sender) == Money.of("0.01", Asset.BTC)  # nothing moved
    assert await _sends(pg) == []  # and nothing was checked against a stale (or zero) value

    await _refresh(pg, clock)  # a fresh rate: the same send goes through, valued at it
    await flows.check_amount(customer_id=sender, kind="send", amount=AMOUNT)
    quote = await flows.quote_send(customer_id=sender, to_phone=FRIEND, amount=AMOUNT)
    await flows.confirm_send(
        customer_id=sender, quote_id=quote.id, to_phone=FRIEND, pin=issue12.PIN, idempotency_key="fresh"
    )
    async with pg() as session:
        rate = await fx.latest_rate(session=session, base="BTC", quote="KES", clock=clock)
    [movement] = await _sends(pg)
    expected = (AMOUNT.amount * rate.ask).quantize(Decimal("0.01"), rounding=ROUND_UP)
    assert movement.amount_kes == Money.of(expected, Asset.KES).minor


async def test_with_no_rate_at_all_a_crypto_send_is_refused_not_valued_at_zero(
    pg: Factory, clock: FixedClock
) -> None:
    rt = issue12.build_runtime(pg, clock)
    flows = CoreFlows(rt)
    sender = await issue12.register(flows, SENDER, "55234567")
    await issue12.register(flows, FRIEND, "56234567", name="Otieno Juma")
    await _give_btc(pg, sender)
    quote = await flows.quote_send(customer_id=sender, to_phone=FRIEND, amount=AMOUNT)
    with pytest.raises(LimitRateUnavailable):
        await flows.confirm_send(
            customer_id=sender, quote_id=quote.id, to_phone=FRIEND, pin=issue12.PIN, idempotency_key="none"
        )
    assert await _btc(pg, sender) == Money.of("0.01", Asset.BTC) and await _sends(pg) == []


@pytest.mark.parametrize(("language", "words"), [("en", "Try again shortly"), ("sw", "Jaribu tena")])
def test_the_refusal_says_try_again_shortly_in_the_customers_language(language: str, words: str) -> None:
    text = translate("error.limit_rate_unavailable", language)
    assert words in text and text != "error.limit_rate_unavailable"


async def test_money_arriving_with_only_a_stale_rate_is_valued_at_it_not_at_zero(
    pg: Factory, clock: FixedClock
) -> None:
    """Money that arrived is never refused, so an incoming credit cannot wait for a fresh rate; but a
    zero value would let it pass every limit. It is valued at the newest rate however old."""
    from core.inbound import service as inbound

    async with pg() as session:
        assert await inbound.kes_value(session, AMOUNT, clock) is None  # no rate ever: no value (held)
    await _refresh(pg, clock)
    async with pg() as session:
        rate = await fx.latest_rate(session=session, base="BTC", quote="KES", clock=clock)
        fresh = await inbound.kes_value(session, AMOUNT, clock)
    clock.advance(seconds=FxPolicy().max_age.total_seconds() + 3600)
    async with pg() as session:
        with pytest.raises(LimitRateUnavailable):  # what the outgoing flows would do
            await accounts.limit_value(session, AMOUNT, clock)
        stale = await inbound.kes_value(session, AMOUNT, clock)
    expected = Money.of((AMOUNT.amount * rate.ask).quantize(Decimal("0.01"), rounding=ROUND_UP), Asset.KES)
    assert fresh == stale == expected and stale.is_positive()
