"""The rail choice, PesaPal's fee in buy quotes, the wire helpers and the refund bound (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.fees.schedule import FeeSchedule
from core.fx.rates import Rate
from core.money import Asset, Money
from core.ports import CollectionState
from core.quotes.maths import Given, QuoteKind, QuoteRequest, Rail, compute_quote
from core.rails import service
from core.rails.choice import Network, collection_rail, network_of
from core.rails.errors import RefundTooLarge
from core.rails.models import OrderStatus, RailOrder
from payouts.pesapal import wire
from payouts.pesapal.client import _dumps


@pytest.mark.parametrize(
    ("phone", "network", "rail"),
    [
        ("+254712345678", Network.SAFARICOM, Rail.MPESA),
        ("+254110000001", Network.SAFARICOM, Rail.MPESA),
        ("+254733000001", Network.AIRTEL, Rail.PESAPAL),
        ("+254100000001", Network.AIRTEL, Rail.PESAPAL),
        ("+254772000001", Network.TELKOM, Rail.PESAPAL),
        ("not a number", Network.OTHER, Rail.PESAPAL),
    ],
)
def test_the_network_picks_the_rail(phone: str, network: Network, rail: Rail) -> None:
    assert network_of(phone) is network
    assert collection_rail(phone) is rail


def test_a_choice_beats_the_network() -> None:
    assert collection_rail("+254712345678", Rail.PESAPAL) is Rail.PESAPAL  # a Safaricom line paying by card
    assert collection_rail("+254733000001", Rail.MPESA) is Rail.MPESA
    assert collection_rail("+254733000001", Rail.WALLET) is Rail.PESAPAL  # not a collection rail


def _rate(value: str = "130.00") -> Rate:
    return Rate("USDT", "KES", Decimal(value), Decimal(value), datetime(2026, 12, 5, tzinfo=UTC), "test")


@given(st.integers(min_value=10, max_value=250_000))
def test_pesapal_buy_charges_its_fee_and_the_kes_leg_nets_to_zero(shillings: int) -> None:
    pay = Money.of(shillings, Asset.KES)
    request = QuoteRequest(
        kind=QuoteKind.BUY, asset=Asset.USDT_TRC20, amount=pay, given=Given.PAY, rail=Rail.PESAPAL
    )
    terms = compute_quote(request, rate=_rate(), schedule=FeeSchedule())
    [fee] = terms.fees
    assert fee.kind == "pesapal" and fee.amount == Money.round_up(pay.amount * Decimal("0.035"), Asset.KES)
    assert terms.liquidity_in is not None
    assert pay == fee.amount + terms.margin + terms.liquidity_in  # every shilling is accounted for
    mpesa = compute_quote(
        QuoteRequest(kind=QuoteKind.BUY, asset=Asset.USDT_TRC20, amount=pay, rail=Rail.MPESA),
        rate=_rate(),
        schedule=FeeSchedule(),
    )
    assert mpesa.fees == () and terms.receive <= mpesa.receive  # the card rail's cost is the customer's


def test_pesapal_buy_keeps_the_mobile_money_limits() -> None:
    from core.quotes.errors import AmountTooSmall

    request = QuoteRequest(
        kind=QuoteKind.BUY, asset=Asset.USDT_TRC20, amount=Money.of("9", Asset.KES), rail=Rail.PESAPAL
    )
    with pytest.raises(AmountTooSmall):
        compute_quote(request, rate=_rate(), schedule=FeeSchedule())


@pytest.mark.parametrize(
    ("body", "state"),
    [
        ({"status_code": 0}, CollectionState.PENDING),
        ({"status_code": 1}, CollectionState.COMPLETED),
        ({"status_code": 2}, CollectionState.FAILED),
        ({"status_code": 3}, CollectionState.REVERSED),
        ({"payment_status_description": "Completed"}, CollectionState.COMPLETED),
        ({"status_code": 9, "payment_status_description": "odd"}, CollectionState.PENDING),
        ({}, CollectionState.PENDING),
    ],
)
def test_transaction_states(body: dict[str, object], state: CollectionState) -> None:
    assert wire.state_of(body) is state


def test_secrets_never_reach_the_stored_call() -> None:
    stored = wire.redact(
        {"consumer_key": "k", "consumer_secret": "s", "nested": [{"token": "t"}], "amount": 1}
    )
    assert stored == {
        "consumer_key": "***",
        "consumer_secret": "***",
        "nested": [{"token": "***"}],
        "amount": 1,
    }


def test_ipn_answer_is_pesapals_shape() -> None:
    assert wire.ipn_answer(notification_type="IPNCHANGE", tracking_id="t", merchant_reference="r", ok=False) == {
        "orderNotificationType": "IPNCHANGE", "orderTrackingId": "t", "orderMerchantReference": "r", "status": 500,
    }  # fmt: skip


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("250000"), places=2))
def test_amounts_go_out_as_exact_json_numbers(amount: Decimal) -> None:
    text = _dumps({"id": "KBT-1", "amount": amount})
    assert json.loads(text, parse_float=Decimal)["amount"] == amount
    assert f'"amount": {amount}' in text


@given(st.text(max_size=60))
def test_merchant_references_are_checked(reference: str) -> None:
    ok = wire.valid_merchant_reference(reference)
    assert ok == (
        0 < len(reference) <= 50 and all(c.isascii() and (c.isalnum() or c in "-_.:") for c in reference)
    )


def _order(status: str, paid: str, refunded: str = "0") -> RailOrder:
    return RailOrder(
        status=status,
        amount_minor=Money.of(paid, Asset.KES).minor,
        refunded_minor=Money.of(refunded, Asset.KES).minor,
    )


def test_a_refund_is_never_above_what_was_paid() -> None:
    service.check_refund(_order(OrderStatus.COMPLETED.value, "500"), Money.of("500", Asset.KES))
    with pytest.raises(RefundTooLarge):
        service.check_refund(_order(OrderStatus.COMPLETED.value, "500"), Money.of("500.01", Asset.KES))
    with pytest.raises(RefundTooLarge):
        service.check_refund(_order(OrderStatus.COMPLETED.value, "500", "400"), Money.of("100.01", Asset.KES))
    with pytest.raises(RefundTooLarge):
        service.check_refund(_order(OrderStatus.PENDING.value, "500"), Money.of("1", Asset.KES))


@pytest.mark.parametrize(
    ("values", "rails"),
    [
        ({}, {"pesapal"}),  # the embedded default: the simulator
        (
            {"pesapal_base_url": "https://pay.pesapal.com/v3"},
            set(),
        ),  # no credentials: no rail, not a fake one
        (
            {
                "pesapal_base_url": "https://pay.pesapal.com/v3",
                "pesapal_consumer_key": "k",
                "pesapal_consumer_secret": "s",
            },
            {"pesapal"},
        ),
    ],
)
def test_pesapal_is_offered_only_when_it_can_work(values: dict[str, str], rails: set[str]) -> None:
    from core.clock import SystemClock
    from core.config import Settings
    from core.runtime import Runtime
    from payouts.pesapal.adapter import build
    from webapp.queues import InProcessJobQueue

    rt = Runtime(settings=Settings(kibeti_env="test", **values), session_factory=None, clock=SystemClock(),  # type: ignore[arg-type]
                 queue=InProcessJobQueue())  # fmt: skip
    assert set(build(rt)) == rails
