"""Issue 7, "Done when" (the embedded default's simulated chains): a customer's USDT-ERC20 deposit
shows in their USSD balance only after 3 confirmations, and a USDT withdrawal leaves with the right
fees booked in the ledger. Issue 11: the demo's deposit address says DEMO; the withdrawal quote
charges the network fee estimate with the 0.5 % fee, so the house pays no gas for it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from compliance import kyc
from compliance.models import KycProfile
from core.identity import service as identity
from core.identity.models import Customer
from core.ledger import service as ledger
from core.ledger.models import Account, Posting
from core.ledger.verify import verify
from core.money import Asset, Money
from core.runtime import Runtime
from simulators.chain import SimulatedChain, sim_path
from tests.e2e.journeys.conftest import PIN, Stack, register, settle
from tests.e2e.ussd.conftest import AtPhone, balance_of
from wallets.models import Withdrawal
from wallets.networks import Network

pytestmark = pytest.mark.slow

USDT = Asset.USDT_ERC20
DESTINATION = "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"  # an ordinary (unlisted) address


async def _scan(rt: Runtime, n: int) -> None:
    """What the scheduler does every 15 s: one scan pass (the simulated chain mines a block first)."""
    rt.queue.enqueue("wallets.jobs.scan_all_networks", job_id=f"e2e-scan-{n}", kwargs={}, queue="default")
    await settle(rt)


async def _ussd_usdt_erc20(phone: AtPhone) -> str:
    """The USDT-ERC20 line of the customer's USSD balances screen."""
    await phone.dial()
    screen: str = await phone.send("1")
    return next(line for line in screen.splitlines() if "USDT-ERC20" in line)


async def test_deposit_after_three_confirmations_then_withdrawal_with_fees(stack: Stack) -> None:
    rt = stack.rt
    phone = stack.phone("+254720000777")
    await register(phone, "1", "Akinyi Odhiambo")

    # the customer asks for a deposit address over USSD (Receive > USDT-ERC20)
    await phone.dial()
    await phone.send("6")
    shown = await phone.send("2")
    assert "DEMO address - do not send real funds" in shown, shown  # the public development keys
    address = re.search(r"0x[0-9a-fA-F]{40}", shown).group(0)  # type: ignore[union-attr]

    paid = await stack.kibeti(
        "chain", "simulate-deposit", "--network", "erc20", "--to", address, "--amount", "25"
    )
    assert paid.stdout.strip()
    seen = []
    for n in range(1, 5):
        await _scan(rt, n)
        seen.append(Decimal(await balance_of(rt, phone.number, USDT.value)))
    # block 1 includes the transfer (1 confirmation); credited at the 3rd confirmation, not before
    assert seen[:2] == [0, 0] and seen[2] == 25, seen
    assert "25" in await _ussd_usdt_erc20(phone)
    credited = [m.message for m in stack.at.messages_for(phone.number) if "received" in m.message]
    assert len(credited) == 1 and "25" in credited[0], credited  # one SMS, whatever the reruns

    # withdrawals need tier 1 (T0 may not withdraw crypto); KYC itself is issue 8's journey
    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=phone.number)
        assert customer is not None
        await kyc.ensure_profile(session=session, customer_id=customer.id, now=rt.clock.now())
        await session.execute(update(Customer).where(Customer.id == customer.id).values(kyc_tier=1))
        await session.execute(update(KycProfile).where(KycProfile.customer_id == customer.id).values(tier=1))
        await session.commit()
        wallet = (
            await session.execute(
                select(Account).where(
                    Account.owner_type == "customer",
                    Account.owner_id == customer.id,
                    Account.asset == USDT.value,
                )
            )
        ).scalar_one()

    # destinations are screened: with no sanctions list loaded the gate holds every withdrawal
    await stack.kibeti("sanctions", "load", "/work/shared/data/sanctions", "--no-rescreen")
    # bad input first: a wrong-network address and letters for an amount are refused, nothing held
    wrong = await stack.kibeti(
        "chain", "withdraw", "--phone", phone.number, "--network", "erc20", "--to", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        "--amount", "10", "--pin", PIN, "--yes", check=False,
    )  # fmt: skip
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr and "address" in wrong.stderr.lower()
    letters = await stack.kibeti(
        "chain", "withdraw", "--phone", phone.number, "--network", "erc20", "--to", DESTINATION,
        "--amount", "ten", "--pin", PIN, "--yes", check=False,
    )  # fmt: skip
    assert letters.returncode == 2 and "Traceback" not in letters.stderr and "--amount" in letters.stderr

    # the customer pays 10 USDT: the 0.5 % withdrawal fee (0.05) and the network fee estimate (the
    # simulated chain's 65,000 gas at 20 gwei = 0.0013 ETH at 3,000 USDT per ETH: 3.90) are deducted,
    # and 6.05 leaves on chain
    sent_out = await stack.kibeti(
        "chain", "withdraw", "--phone", phone.number, "--network", "erc20", "--to", DESTINATION,
        "--amount", "10", "--pin", PIN, "--yes",
    )  # fmt: skip
    assert all(n in sent_out.stdout for n in ("6.05", "0.05", "3.90", "network fee")), sent_out.stdout
    await settle(rt)
    notices = [m.message for m in stack.at.messages_for(phone.number) if "0x7e5f45" in m.message.lower()]
    assert len(notices) == 1 and "6.05" in notices[0], notices  # the customer is told, once
    amount, fee, network_fee = Money.of("6.05", USDT), Money.of("0.05", USDT), Money.of("3.9", USDT)
    async with rt.session_factory() as session:
        ticket = (
            await session.execute(select(Withdrawal).where(Withdrawal.owner_id == customer.id))
        ).scalar_one()
    await settle(rt)  # the outbox hands the send job to the signer queue: the transaction is queued
    async with rt.session_factory() as session:  # amount + fee held, nothing posted yet
        assert await ledger.available(session=session, account_id=wallet.id) == Money.of("15", USDT)
        assert await ledger.balance(session=session, account_id=wallet.id) == Money.of("25", USDT)
        row = await session.get(Withdrawal, ticket.id)
        assert row is not None and row.status == "broadcast", row and row.status
    chain = SimulatedChain(Network.ERC20, sim_path(rt.settings.data_dir, Network.ERC20))
    statuses = []
    for n in range(5, 8):
        await _scan(rt, n)  # mines a block: the first holds the withdrawal
        await _track(rt, n)
        async with rt.session_factory() as session:
            row = await session.get(Withdrawal, ticket.id)
            assert row is not None
            statuses.append(row.status)
    assert statuses == ["broadcast", "broadcast", "confirmed"], statuses  # posted at 3 confirmations
    assert chain.height_of(row.txid) is not None
    sent = [t for t in await chain.transfers(0, await chain.tip()) if t.txid == row.txid]
    assert [(t.to.lower(), t.amount) for t in sent] == [(DESTINATION, 6_050_000)]

    # the chain took what was estimated (65,000 gas at 20 gwei): no gain or loss, no house expense
    async with rt.session_factory() as session:
        assert await ledger.balance(session=session, account_id=wallet.id) == Money.of("15", USDT)
        assert await ledger.available(session=session, account_id=wallet.id) == Money.of("15", USDT)
        entry = await _entry(session, int(row.entry_id))
        assert entry == {
            "custody": amount,
            "fee_revenue": fee,
            "fx_liquidity": network_fee,  # the house's ETH float paid the gas the customer paid for
            "customer": -(amount + fee + network_fee),
        }, entry
        assert (await verify(session=session)).ok
    assert "15" in await _ussd_usdt_erc20(phone)
    books = await stack.kibeti("ledger", "verify")
    assert "Books balance." in books.stdout, books.stdout
    report = await stack.kibeti("chain", "fees")  # exits 1 if any network's fees were not covered
    assert "USDT-ERC20: 1 withdrawal(s)" in report.stdout and "(covered)" in report.stdout, report.stdout

    # a repeated send job (a retry after a crash) pays nothing twice
    rt.queue.enqueue(
        "wallets.jobs.send_withdrawal", job_id="e2e-resend", kwargs={"withdrawal_id": row.id}, queue="wallets"
    )
    await settle(rt)
    await _scan(rt, 8)
    resent = [t for t in await chain.transfers(0, await chain.tip()) if t.to.lower() == DESTINATION]
    assert len(resent) == 1


async def _track(rt: Runtime, n: int) -> None:
    """What the scheduler does every 20 s: confirm, post or void in-flight withdrawals."""
    rt.queue.enqueue("wallets.jobs.track_withdrawals", job_id=f"e2e-track-{n}", kwargs={}, queue="wallets")
    await settle(rt)


async def _entry(session: AsyncSession, entry_id: int) -> dict[str, Money]:
    """An entry's postings by account kind (customer wallets as "customer")."""
    rows = (
        await session.execute(
            select(Account.kind, Account.owner_type, Posting.amount, Account.asset)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id == entry_id)
        )
    ).all()
    return {
        ("customer" if owner == "customer" else kind): Money.from_minor(minor, Asset(asset))
        for kind, owner, minor, asset in rows
    }
