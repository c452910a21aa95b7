"""Stateful property test: random transfers, holds, posts, voids, FX trades and retried keys.

After every step: each asset nets to zero, no customer account is negative or below its holds, a
hold resolves at most once, and a replayed key never posts twice (balances match a simple model).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from core.db.session import make_engine, make_session_factory
from core.ledger import errors
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money

CUSTOMERS = 3
KES, BTC = Asset.KES, Asset.BTC


class LedgerMachine(RuleBasedStateMachine):
    template: Path

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp())
        shutil.copy(self.template, self.dir / "l.db")
        self.engine = make_engine(f"sqlite+aiosqlite:///{self.dir / 'l.db'}")
        self.session = make_session_factory(self.engine)()
        self.expected: dict[int, int] = {}  # account id -> expected balance (minor)
        self.held: dict[int, int] = {}  # account id -> expected pending
        self.holds: dict[int, tuple[int, int, str]] = {}  # hold id -> (account, amount, status)
        self.used_keys: dict[str, tuple] = {}
        self.counter = 0

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.run(self.session.close())
        self.run(self.engine.dispose())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @initialize()
    def open_accounts(self) -> None:
        async def setup():
            s = self.session
            self.float = (await ledger.system_account(session=s, kind=AccountKind.MPESA_FLOAT, asset=KES)).id
            self.fee = (await ledger.system_account(session=s, kind=AccountKind.FEE_REVENUE, asset=KES)).id
            self.liq_kes = (
                await ledger.system_account(session=s, kind=AccountKind.FX_LIQUIDITY, asset=KES)
            ).id
            self.liq_btc = (
                await ledger.system_account(session=s, kind=AccountKind.FX_LIQUIDITY, asset=BTC)
            ).id
            self.kes = [
                (await ledger.get_or_open_account(session=s, owner_type="customer", owner_id=i, asset=KES)).id
                for i in range(CUSTOMERS)
            ]
            self.btc = [
                (await ledger.get_or_open_account(session=s, owner_type="customer", owner_id=i, asset=BTC)).id
                for i in range(CUSTOMERS)
            ]
            for account in [self.float, self.fee, self.liq_kes, self.liq_btc, *self.kes, *self.btc]:
                self.expected[account] = 0
                self.held[account] = 0

        self.run(setup())

    def _key(self) -> str:
        self.counter += 1
        return f"k{self.counter}"

    def _available(self, account: int) -> int:
        return self.expected[account] - self.held[account]

    @rule(who=st.integers(0, CUSTOMERS - 1), cents=st.integers(1, 500_000))
    def deposit(self, who: int, cents: int) -> None:
        key = self._key()
        legs = [
            PostingRequest(self.float, -Money.from_minor(cents, KES)),
            PostingRequest(self.kes[who], Money.from_minor(cents, KES)),
        ]
        self.run(ledger.post_entry(session=self.session, idempotency_key=key, kind="deposit", postings=legs))
        self.used_keys[key] = ("post", legs)
        self.expected[self.float] -= cents
        self.expected[self.kes[who]] += cents

    @rule(
        a=st.integers(0, CUSTOMERS - 1),
        b=st.integers(0, CUSTOMERS - 1),
        cents=st.integers(1, 300_000),
        fee=st.integers(0, 500),
    )
    def transfer(self, a: int, b: int, cents: int, fee: int) -> None:
        key = self._key()
        source, target = self.kes[a], self.kes[b]
        call = ledger.transfer(
            session=self.session,
            idempotency_key=key,
            from_account_id=source,
            to_account_id=target,
            amount=Money.from_minor(cents, KES),
            fee=Money.from_minor(fee, KES) if fee else None,
            fee_account_id=self.fee,
        )
        if source == target:
            with pytest.raises(errors.InvalidPosting):
                self.run(call)
            return
        if self._available(source) < cents + fee:
            with pytest.raises(errors.InsufficientFunds):
                self.run(call)
            return
        self.run(call)
        self.expected[source] -= cents + fee
        self.expected[target] += cents
        self.expected[self.fee] += fee
        self.used_keys[key] = ("transfer", (source, target, cents, fee))

    @precondition(lambda self: any(v[0] == "transfer" for v in self.used_keys.values()))
    @rule(data=st.data(), same=st.booleans())
    def retry_key(self, data, same: bool) -> None:
        keys = sorted(k for k, v in self.used_keys.items() if v[0] == "transfer")
        key = data.draw(st.sampled_from(keys))
        source, target, cents, fee = self.used_keys[key][1]
        call = ledger.transfer(
            session=self.session,
            idempotency_key=key,
            from_account_id=source,
            to_account_id=target,
            amount=Money.from_minor(cents + (0 if same else 1), KES),
            fee=Money.from_minor(fee, KES) if fee else None,
            fee_account_id=self.fee,
        )
        if same:
            assert self.run(call).replayed
        else:
            with pytest.raises(errors.IdempotencyConflict):
                self.run(call)

    @rule(who=st.integers(0, CUSTOMERS - 1), cents=st.integers(1, 300_000))
    def hold(self, who: int, cents: int) -> None:
        account = self.kes[who]
        call = ledger.place_hold(
            session=self.session,
            idempotency_key=self._key(),
            account_id=account,
            amount=Money.from_minor(cents, KES),
        )
        if self._available(account) < cents:
            with pytest.raises(errors.InsufficientFunds):
                self.run(call)
            return
        result = self.run(call)
        self.holds[result.hold_id] = (account, cents, "pending")
        self.held[account] += cents

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data(), post=st.booleans())
    def resolve(self, data, post: bool) -> None:
        hold_id = data.draw(st.sampled_from(sorted(self.holds)))
        account, cents, status = self.holds[hold_id]
        if post:
            call = ledger.post_hold(
                session=self.session,
                hold_id=hold_id,
                idempotency_key=f"post-{hold_id}",
                postings=[PostingRequest(self.float, Money.from_minor(cents, KES))],
            )
        else:
            call = ledger.void_hold(session=self.session, hold_id=hold_id)
        if status == "pending":
            self.run(call)
            self.held[account] -= cents
            if post:
                self.expected[account] -= cents
                self.expected[self.float] += cents
            self.holds[hold_id] = (account, cents, "posted" if post else "voided")
        elif status == "posted" and post:
            assert self.run(call).replayed  # same key: the first result, nothing posted twice
        elif status == "voided" and not post:
            assert self.run(call) is False
        else:
            with pytest.raises(errors.HoldAlreadyResolved):
                self.run(call)

    @rule(who=st.integers(0, CUSTOMERS - 1), cents=st.integers(1, 100_000), sats=st.integers(1, 10_000_000))
    def buy_btc(self, who: int, cents: int, sats: int) -> None:
        kes, btc = self.kes[who], self.btc[who]
        legs = [
            PostingRequest(kes, -Money.from_minor(cents, KES)),
            PostingRequest(self.liq_kes, Money.from_minor(cents, KES)),
            PostingRequest(self.liq_btc, -Money.from_minor(sats, BTC)),
            PostingRequest(btc, Money.from_minor(sats, BTC)),
        ]
        call = ledger.post_entry(session=self.session, idempotency_key=self._key(), kind="fx", postings=legs)
        if self._available(kes) < cents:
            with pytest.raises(errors.InsufficientFunds):
                self.run(call)
            return
        self.run(call)
        self.expected[kes] -= cents
        self.expected[self.liq_kes] += cents
        self.expected[self.liq_btc] -= sats
        self.expected[btc] += sats

    @invariant()
    def books_balance(self) -> None:
        if not hasattr(self, "float"):
            return
        report = self.run(verify(session=self.session))
        assert report.ok, report.problems
        for account, minor in self.expected.items():
            asset = KES if account not in (*self.btc, self.liq_btc) else BTC
            assert self.run(ledger.balance(session=self.session, account_id=account)) == Money.from_minor(
                minor, asset
            )
        for account in (*self.kes, *self.btc):
            assert self.expected[account] >= self.held[account] >= 0


@pytest.fixture
def machine(sqlite_template):
    LedgerMachine.template = sqlite_template
    return LedgerMachine


def test_ledger_state_machine(machine):
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=20,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
