"""Withdrawals on the embedded default's simulated chains: the same states and ledger as on a node.
BTC pays its network fee from custody; a hot wallet that cannot cover a withdrawal refuses it and
holds on to the customer's funds; a send retried after a crash never pays twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ledger import service as ledger
from core.ledger.models import Account, AccountKind, OwnerType, Posting, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money
from simulators.chain import GENESIS_FLOAT, SimulatedChain, sim_path
from simulators.chain_withdrawals import SIMULATED_NETWORK_FEE, SimulatedWithdrawals
from wallets.errors import HotWalletInsufficient
from wallets.models import Withdrawal
from wallets.networks import Network
from wallets.withdrawals.lifecycle import request_withdrawal

Factory = async_sessionmaker[AsyncSession]
BTC_DESTINATION = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"  # BIP173's example address
CUSTOMER = 4


async def _fund(sf: Factory, amount: Money) -> int:
    async with sf() as session, session.begin():
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=CUSTOMER, asset=amount.asset
        )
        custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=amount.asset)
        await ledger.post_entry(
            session=session,
            idempotency_key=f"fund-{amount.asset.value}",
            kind="deposit",
            postings=[PostingRequest(custody.id, -amount), PostingRequest(wallet.id, amount)],
        )
        return wallet.id


async def _request(sf: Factory, key: str, amount: Money, fee: Money) -> int:
    async with sf() as session, session.begin():
        row = await request_withdrawal(
            session=session,
            request_key=key,
            network=Network.BTC,
            owner_type=OwnerType.CUSTOMER,
            owner_id=CUSTOMER,
            address=BTC_DESTINATION,
            amount=amount,
            fee=fee,
        )
        return row.id


async def _by_kind(sf: Factory, entry_id: int) -> dict[str, Money]:
    async with sf() as session:
        rows = (
            await session.execute(
                select(Account.kind, Posting.amount)
                .join(Account, Account.id == Posting.account_id)
                .where(Posting.entry_id == entry_id)
            )
        ).all()
    return {kind: Money.from_minor(minor, Asset.BTC) for kind, minor in rows}


async def test_btc_withdrawal_books_the_network_fee_against_custody(
    session_factory: Factory, tmp_path: Path
) -> None:
    wallet_id = await _fund(session_factory, Money.of("0.01", Asset.BTC))
    chain = SimulatedChain(Network.BTC, sim_path(tmp_path, Network.BTC))
    processor = SimulatedWithdrawals(session_factory=session_factory, chain=chain, confirmations=3)
    amount, fee = Money.of("0.005", Asset.BTC), Money.of("0.00002", Asset.BTC)
    withdrawal_id = await _request(session_factory, "btc-1", amount, fee)

    assert await processor.send(withdrawal_id) == "broadcast"
    assert await processor.send(withdrawal_id) == "broadcast"  # a retried job: nothing new is queued
    chain.produce(2)
    assert await processor.track(withdrawal_id) == "broadcast"  # 2 confirmations
    chain.produce(1)
    assert await processor.track(withdrawal_id) == "confirmed"

    outgoing = [t for t in await chain.transfers(0, await chain.tip()) if t.to == BTC_DESTINATION]
    assert [t.amount for t in outgoing] == [500_000]
    network_fee = Money.from_minor(SIMULATED_NETWORK_FEE[Network.BTC], Asset.BTC)
    spent = amount.minor + network_fee.minor
    assert chain.hot_balance() == GENESIS_FLOAT[Network.BTC] - spent
    async with session_factory() as session:
        row = await session.get(Withdrawal, withdrawal_id)
        assert row is not None and row.entry_id
        assert await ledger.balance(session=session, account_id=wallet_id) == Money.of("0.00498", Asset.BTC)
        assert (await verify(session=session)).ok
    assert await _by_kind(session_factory, int(row.entry_id)) == {
        "wallet": -(amount + fee),
        "custody": amount + network_fee,
        "fee_revenue": fee,
        "network_fees": -network_fee,
    }


async def test_a_hot_wallet_short_of_funds_refuses_and_keeps_the_hold(
    session_factory: Factory, tmp_path: Path
) -> None:
    await _fund(session_factory, Money.of("20", Asset.BTC))
    chain = SimulatedChain(Network.BTC, sim_path(tmp_path, Network.BTC))
    processor = SimulatedWithdrawals(session_factory=session_factory, chain=chain, confirmations=3)
    too_much = Money.of("10", Asset.BTC)  # the whole float: the network fee does not fit
    withdrawal_id = await _request(session_factory, "btc-big", too_much, Money.of("0.0001", Asset.BTC))

    with pytest.raises(HotWalletInsufficient, match="hot wallet"):
        await processor.send(withdrawal_id)
    chain.produce(5)
    assert await chain.transfers(1, await chain.tip()) == []
    async with session_factory() as session:
        row = await session.get(Withdrawal, withdrawal_id)
        assert row is not None and row.status == "signed"  # retried by the job queue; funds still held
    # the float is topped up (a deposit to our pool): the retried send goes out, once
    chain.pay("bc1q-house-top-up", 5 * 10**8)
    chain.produce(1)
    assert await processor.send(withdrawal_id) == "broadcast"
    assert await processor.send(withdrawal_id) == "broadcast"
    chain.produce(1)
    sent = [t for t in await chain.transfers(0, await chain.tip()) if t.to == BTC_DESTINATION]
    assert len(sent) == 1
