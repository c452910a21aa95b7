"""The invoice state machine as a hypothesis stateful test, through the real deposit scanner on a chain
that reorganises: payments of random sizes (and of another token), blocks, reorgs that keep or drop
transactions, and time passing the expiry and the monitoring window.

Invariants after every step: the invoice's confirmed paid total equals the ledger's postings to its
address's account; nothing moves a Settled (or Invalid) invoice; the merchant is credited exactly
when (and once) the invoice is Settled; at the end the books balance."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from core.clock import FixedClock
from core.db.session import make_engine, make_session_factory
from core.fx import service as fx
from core.fx.sources import DemoRateSource
from core.invoices import service as invoices
from core.invoices.models import Invoice, InvoicePayment, PaymentStatus
from core.ledger.models import Posting
from core.ledger.verify import verify
from core.merchants import service as merchants
from core.money import Asset
from core.settlements.models import MerchantCredit
from tests.integration.invoices.conftest import MNEMONIC
from wallets.errors import NodeError
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed, seed_from_mnemonic
from wallets.networks import Network
from wallets.scanning.chain import BlockRef, Transfer
from wallets.scanning.monitor import DepositMonitor, MonitorConfig

TOKEN = "TSimUSDTtokenContract000000000000"
CONFIRMATIONS = 3
TEMPLATE: dict[str, Path] = {}
REACHED: Counter[str] = Counter()  # which states the examples reached (printed with -s)


@dataclass
class ReorgChain:
    """A TRON-like chain in memory whose recent blocks can be replaced (with or without their txs)."""

    network: Network = Network.TRC20
    blocks: list[tuple[str, list[dict[str, object]]]] = field(default_factory=lambda: [("genesis", [])])
    pending: list[dict[str, object]] = field(default_factory=list)

    def pay(self, to: str, amount: int, token: str = TOKEN) -> None:
        self.pending.append({"txid": secrets.token_hex(16), "to": to, "amount": amount, "token": token})

    def produce(self, count: int) -> None:
        for _ in range(count):
            transfers, self.pending = self.pending, []
            self.blocks.append((secrets.token_hex(16), transfers))

    def reorg(self, depth: int, *, keep: bool) -> None:
        depth = min(depth, len(self.blocks) - 1)
        dropped = self.blocks[len(self.blocks) - depth :]
        del self.blocks[len(self.blocks) - depth :]
        moved = [t for _, transfers in dropped for t in transfers] if keep else []
        self.pending = moved + self.pending
        self.produce(depth)  # the new branch is as long, or the monitor would wait for it

    async def tip(self) -> int:
        return len(self.blocks) - 1

    async def block(self, height: int) -> BlockRef:
        if not 0 <= height < len(self.blocks):
            raise NodeError(f"no block {height}")
        return BlockRef(height, self.blocks[height][0])

    async def transfers(self, start: int, end: int) -> list[Transfer]:
        return [
            Transfer(
                str(t["txid"]), i, height, block_hash, str(t["token"]), str(t["to"]), int(str(t["amount"]))
            )
            for height in range(start, end + 1)
            for block_hash, transfers in [self.blocks[height]]
            for i, t in enumerate(transfers)
        ]


class InvoiceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="kibeti-invoice-sm-"))
        shutil.copy(TEMPLATE["db"], self.dir / "k.db")
        self.engine = make_engine(f"sqlite+aiosqlite:///{self.dir / 'k.db'}")
        self.factory = make_session_factory(self.engine)
        self.clock = FixedClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
        self.chain = ReorgChain()
        config = MonitorConfig(confirmations=CONFIRMATIONS, token=TOKEN)
        self.monitor = DepositMonitor(
            source=self.chain, session_factory=self.factory, config=config, clock=self.clock
        )
        self.seen_terminal: str | None = None

    def run(self, coroutine: object) -> object:
        return self.loop.run_until_complete(coroutine)  # type: ignore[arg-type]

    @initialize(amount=st.integers(100, 500_000), tolerance=st.sampled_from([0, 0, 100]))
    def create(self, amount: int, tolerance: int) -> None:
        async def work() -> tuple[str, int, str, int]:
            async with self.factory() as session, session.begin():
                await fx.refresh(session=session, sources=[DemoRateSource()], clock=self.clock)
                merchant = await merchants.create_merchant(
                    session=session, name="Duka", actor="t", clock=self.clock, payment_tolerance_bps=tolerance
                )
                merchant.status = "active"
                seed = Seed(seed_from_mnemonic(MNEMONIC))
                deriver = AddressDeriver({n: seed.account_xpub(n) for n in Network})
                invoice = await invoices.create_invoice(
                    session=session,
                    merchant_id=merchant.id,
                    request=invoices.NewInvoice(amount=str(amount), networks=["USDT-TRC20"]),
                    clock=self.clock,
                    chains=WalletGateway(session_factory=self.factory, deriver=deriver),
                )
                view = await invoices.view(session=session, invoice=invoice)
                method = view.method(Asset.USDT_TRC20)
                assert method is not None
                return invoice.public_id, invoice.id, method.address, method.due.minor

        self.public_id, self.invoice_id, self.address, self.due = self.run(work())  # type: ignore[misc]

    def scan(self) -> None:
        async def work() -> None:
            while not (await self.monitor.step()).caught_up:
                pass

        self.run(work())

    @rule(quarters=st.sampled_from([1, 2, 4, 4, 4, 6]))
    def pay(self, quarters: int) -> None:
        self.chain.pay(self.address, max(1, self.due * quarters // 4))

    @rule(amount=st.integers(1, 10**7))
    def pay_other_token(self, amount: int) -> None:
        self.chain.pay(self.address, amount, token="TOtherToken00000000000000000000000")

    @rule(blocks=st.sampled_from([1, 1, 2, 3]))
    def mine(self, blocks: int) -> None:
        self.chain.produce(blocks)
        self.scan()

    @rule(depth=st.integers(1, 3), keep=st.booleans())
    def reorg(self, depth: int, keep: bool) -> None:
        self.chain.reorg(depth, keep=keep)
        self.scan()

    @rule(minutes=st.sampled_from([1, 1, 1, 2, 5, 16, 60 * 25]))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

        async def work() -> None:
            async with self.factory() as session, session.begin():
                await invoices.expire_due(session=session, now=self.clock.now())

        self.run(work())

    @invariant()
    def paid_total_is_what_the_ledger_posted_to_the_address(self) -> None:
        async def work() -> tuple[int, int, str, int]:
            async with self.factory() as session, session.begin():
                confirmed = await session.execute(
                    select(func.coalesce(func.sum(InvoicePayment.amount_minor), 0)).where(
                        InvoicePayment.invoice_id == self.invoice_id,
                        InvoicePayment.status == PaymentStatus.CONFIRMED.value,
                    )
                )
                account = await invoices.invoice_account_id(
                    session=session, invoice_id=self.invoice_id, asset=Asset.USDT_TRC20
                )
                posted = await session.execute(
                    select(func.coalesce(func.sum(Posting.amount), 0)).where(
                        Posting.account_id == account, Posting.amount > 0
                    )
                )
                status, additional = (
                    await session.execute(
                        select(Invoice.status, Invoice.additional_status).where(Invoice.id == self.invoice_id)
                    )
                ).one()
                REACHED[f"{status}/{additional}"] += 1
                credits = await session.execute(select(func.count()).select_from(MerchantCredit))
                return (
                    int(confirmed.scalar_one()),
                    int(posted.scalar_one()),
                    status,
                    int(credits.scalar_one()),
                )

        if not hasattr(self, "invoice_id"):
            return
        confirmed, posted, status, credits = self.run(work())  # type: ignore[misc]
        assert confirmed == posted
        if self.seen_terminal is not None:
            assert status == self.seen_terminal, f"{self.seen_terminal} moved to {status}"
        if status in ("settled", "invalid"):
            self.seen_terminal = status
        assert credits == (1 if status == "settled" else 0)

    def teardown(self) -> None:
        async def work() -> list[str]:
            async with self.factory() as session:
                report = await verify(session=session)
            await self.engine.dispose()
            return report.problems

        try:
            problems = self.run(work()) if hasattr(self, "invoice_id") else []
            assert not problems, problems
        finally:
            self.loop.close()
            shutil.rmtree(self.dir, ignore_errors=True)


def test_invoice_state_machine(sqlite_template: Path) -> None:
    TEMPLATE["db"] = sqlite_template
    run_state_machine_as_test(
        InvoiceMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(dict(REACHED))  # noqa: T201 - shown with -s: the states the examples reached
