"""Issue 4, "Done when": `kibeti fx refresh` pulls from the configured sources (the demo source on
the embedded default), `kibeti quote buy 1000 KES USDT-TRC20` prints a full quote, and after
execution the ledger shows exactly its fees and margin."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.clock import SystemClock
from core.flows import accounts
from core.identity import service as identity
from core.ledger import service as ledger
from core.ledger.models import Account, AccountKind, Posting
from core.ledger.verify import verify
from core.money import Asset, Money
from core.quotes import service as quotes
from tests.e2e.journeys.conftest import Stack, eventually, paybill, register
from tests.e2e.ussd.conftest import balance_of

pytestmark = pytest.mark.slow


async def test_cli_quote_then_execution_books_the_fees_exactly(stack: Stack) -> None:
    # a customer registered over USSD, with KES from an M-Pesa paybill (first: a quote lives 60 s
    # on the real clock, and registering and funding can take longer than that on a busy machine)
    phone = stack.phone("+254733000444")
    await register(phone, "1", "Wanjiku Kamau")
    await paybill(stack, phone.number, "1500")

    async def funded() -> bool:
        return Decimal(await balance_of(stack.rt, phone.number, "KES")) == 1500

    await eventually(funded, what="the C2B confirmation")

    refreshed = await stack.kibeti("fx", "refresh")
    assert "USDT/KES" in refreshed.stdout and "DEMO" in refreshed.stdout

    printed = (await stack.kibeti("quote", "buy", "1000", "KES", "USDT-TRC20")).stdout
    for label in (
        "you pay",
        "market rate",
        "your rate",
        "fees total",
        "FX margin",
        "you receive",
        "rate source",
    ):
        assert label in printed, printed
    assert "KES 1,000.00" in printed and "[DEMO RATES]" in printed
    assert re.search(r"^\[sw, \d+ chars\] Nunua USDT: Lipa KES 1,000.00", printed, re.M), printed
    quote_id = int(re.search(r"^quote #(\d+)", printed, re.M).group(1))  # type: ignore[union-attr]
    fee = re.search(r"fees total\s+KES ([\d,.]+)", printed).group(1)  # type: ignore[union-attr]
    margin = re.search(r"FX margin\s+KES ([\d,.]+)", printed).group(1)  # type: ignore[union-attr]
    receive = re.search(r"you receive\s+USDT ([\d.]+)", printed).group(1)  # type: ignore[union-attr]

    # ... takes that quote
    async with stack.rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=phone.number)
        assert customer is not None
        kes_wallet = await accounts.wallet_account_id(session, customer.id, Asset.KES)
        usdt_wallet = await accounts.wallet_account_id(session, customer.id, Asset.USDT_TRC20)
        fee_before = await _system(session, AccountKind.FEE_REVENUE)
        margin_before = await _system(session, AccountKind.FX_REVENUE)
        done = await quotes.execute_quote(
            session=session, quote_id=quote_id, pay_account_id=kes_wallet, receive_account_id=usdt_wallet,
            idempotency_key="e2e-cli-quote", clock=SystemClock(),
        )  # fmt: skip
        await session.commit()
        row = await quotes.get_quote(session=session, quote_id=quote_id)
        postings = (
            await session.execute(
                select(Posting.amount, Account.kind, Account.asset, Account.id)
                .join(Account, Account.id == Posting.account_id)
                .where(Posting.entry_id == done.entry_id)
            )
        ).all()
        assert await _system(session, AccountKind.FEE_REVENUE) - fee_before == Money.of(
            fee.replace(",", ""), Asset.KES
        )
        assert await _system(session, AccountKind.FX_REVENUE) - margin_before == Money.of(margin, Asset.KES)
        report = await verify(session=session)
    by_account = {account_id: (kind, asset, amount) for amount, kind, asset, account_id in postings}
    assert by_account[kes_wallet] == ("wallet", "KES", -100000)
    assert by_account[usdt_wallet] == ("wallet", "USDT-TRC20", Money.of(receive, Asset.USDT_TRC20).minor)
    assert row.fee_total_minor == Money.of(fee.replace(",", ""), Asset.KES).minor
    assert row.margin_minor == Money.of(margin, Asset.KES).minor
    assert Decimal(await balance_of(stack.rt, phone.number, "KES")) == 500
    assert report.ok, report.problems


async def _system(session, kind: AccountKind) -> Money:  # type: ignore[no-untyped-def]
    account = await ledger.system_account(session=session, kind=kind, asset=Asset.KES)
    return await ledger.balance(session=session, account_id=account.id)
