"""A withdrawal held for compliance review spends its quote: the money is held once, and confirming
the same quote again (a double tap, a new idempotency key) is refused instead of holding it twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import KibetiError
from core.ledger import service as ledger
from core.ledger.types import AccountKind
from core.money import Asset, Money
from tests.integration.wallets.fake_chains import FakeTron
from tests.integration.wallets.test_withdrawal_fees import (
    PIN,
    POLICY,
    TRON_CONTRACT,
    TRON_PAYEE,
    _customer,
    _flows,
)
from tests.integration.wallets.test_withdrawal_review import ReviewEverything
from wallets.errors import WithdrawalHeldForReview
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.models import Withdrawal
from wallets.networks import Network
from wallets.withdrawals.fees import NetworkFeeEstimator

USDT = Asset.USDT_TRC20


@pytest.fixture
def tron_url() -> Iterator[str]:
    fake = FakeTron()
    url = fake.start()
    fake.chain.produce(1)
    yield url
    fake.stop()


async def test_a_held_withdrawal_spends_its_quote(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, tron_url: str
) -> None:
    sf = session_factory
    estimator = NetworkFeeEstimator(
        policy=POLICY, deriver=deriver, node_urls={Network.TRC20: tron_url}, trc20_contract=TRON_CONTRACT
    )
    gateway = WalletGateway(
        session_factory=sf, deriver=deriver, fee_estimator=estimator, gate=ReviewEverything()
    )
    flows = _flows(sf, gateway)
    customer = await _customer(sf, USDT, Money.of(500, USDT))
    quote = await flows.quote_withdraw(customer_id=customer, amount=Money.of(100, USDT), address=TRON_PAYEE)

    with pytest.raises(WithdrawalHeldForReview):
        await flows.confirm_withdraw(
            customer_id=customer, quote_id=quote.id, address=TRON_PAYEE, pin=PIN, idempotency_key="tap-1"
        )
    with pytest.raises(KibetiError) as second:
        await flows.confirm_withdraw(
            customer_id=customer, quote_id=quote.id, address=TRON_PAYEE, pin=PIN, idempotency_key="tap-2"
        )
    assert second.value.code == "quote_already_used"

    async with sf() as session:
        held = await session.scalar(select(func.count()).select_from(Withdrawal))
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=customer, asset=USDT, kind=AccountKind.WALLET
        )
        available = await ledger.available(session=session, account_id=wallet.id)
        await session.commit()
    assert held == 1
    assert available == Money.of(400, USDT)  # 100 held once, not twice
