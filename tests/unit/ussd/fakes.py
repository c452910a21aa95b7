"""An in-memory CustomerFlows for unit tests of the USSD channel (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from core.addressbook.models import SavedAddressView
from core.errors import KibetiError
from core.flows.errors import AlreadyRegistered, AmountOverLimit, NationalIdTaken
from core.flows.types import (
    AccountStatus,
    BalanceLine,
    CashoutQuote,
    CustomerView,
    PendingLine,
    QuoteView,
    RateLine,
    Receipt,
    Recipient,
    StatementLine,
)
from core.identity.errors import (
    CustomerNotFound,
    NationalIdMismatch,
    OtpExpired,
    OtpInvalid,
    PinIncorrect,
    PinLocked,
)
from core.identity.phone import normalize_phone
from core.identity.pin import check_new_pin
from core.ledger.errors import InsufficientFunds
from core.money import Asset, Money
from core.quotes.errors import AmountTooSmall
from core.settlements.errors import NoSuchTill
from core.settlements.models import MerchantView


class QuoteExpired(KibetiError):
    code = "quote_expired"


RATE = {"BTC": Decimal("13000000"), "USDT": Decimal("129.50")}
FAKE_TILL = "123456"


@dataclass
class FakeFlows:
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 8, 0, tzinfo=UTC))
    customers: dict[str, CustomerView] = field(default_factory=dict)
    pins: dict[int, str] = field(default_factory=dict)
    wrong: dict[int, int] = field(default_factory=dict)
    wallets: dict[tuple[int, Asset], Money] = field(default_factory=dict)
    quotes: dict[str, tuple[QuoteView, int, str]] = field(default_factory=dict)
    executed: dict[str, Receipt] = field(default_factory=dict)
    movements: list[tuple[str, str]] = field(default_factory=list)  # (kind, key)
    sms: list[tuple[str, str]] = field(default_factory=list)
    claims: list[tuple[str, Money]] = field(default_factory=list)
    national_ids: dict[str, str] = field(default_factory=dict)  # phone -> national ID
    demo: bool = False  # quotes from fixed demo rates (the embedded default)
    send_fee: Decimal = Decimal(0)  # a fraction of the amount sent
    waiting: list[PendingLine] = field(default_factory=list)  # pending items
    otp_sent: dict[str, str] = field(default_factory=dict)  # phone -> the live reset code
    otp_tries: dict[str, int] = field(default_factory=dict)
    reset_at: dict[int, datetime] = field(default_factory=dict)  # PIN reset by code (cool-down starts)

    def today(self) -> date:
        return (self.now + timedelta(hours=3)).date()

    def add_customer(
        self, phone: str, name: str = "Amina Wanjiru", pin: str = "4826", language: str = "en"
    ) -> int:
        cid = len(self.customers) + 1
        self.customers[phone] = CustomerView(id=cid, phone=phone, name=name, language=language)
        self.pins[cid] = pin
        self.wallets[(cid, Asset.KES)] = Money.of("5000", Asset.KES)
        self.wallets[(cid, Asset.USDT_TRC20)] = Money.of("25.5", Asset.USDT_TRC20)
        return cid

    def _pin(self, cid: int, pin: str) -> None:
        if self.wrong.get(cid, 0) >= 3:
            raise PinLocked(retry_after=60, locked_until=self.now)
        if self.pins[cid] != pin:
            self.wrong[cid] = self.wrong.get(cid, 0) + 1
            if self.wrong[cid] >= 3:
                raise PinLocked(retry_after=60, locked_until=self.now)
            raise PinIncorrect(attempts_left=3 - self.wrong[cid])
        self.wrong[cid] = 0

    async def find_customer(self, *, phone: str) -> CustomerView | None:
        return self.customers.get(phone)

    async def register(
        self,
        *,
        phone: str,
        name: str,
        national_id: str,
        pin: str,
        language: str,
        idempotency_key: str,
        date_of_birth: date | None = None,
    ) -> CustomerView:
        if phone in self.customers:
            if self.customers[phone].name == name and self.national_ids.get(phone) == national_id:
                return self.customers[phone]
            raise AlreadyRegistered("taken")
        if national_id in self.national_ids.values():
            raise NationalIdTaken("taken")
        self.national_ids[phone] = national_id
        cid = self.add_customer(phone, name=name, pin=pin, language=language)
        self.wallets[(cid, Asset.KES)] = Money.zero(Asset.KES)
        self.movements.append(("register", idempotency_key))
        return self.customers[phone]

    async def check_new_pin(self, *, phone: str, pin: str) -> None:
        check_new_pin(pin, phone=phone)

    def _balance(self, cid: int, asset: Asset) -> Money:
        return self.wallets.get((cid, asset), Money.zero(asset))

    async def balances(self, *, customer_id: int) -> list[BalanceLine]:
        out = []
        for asset in Asset:
            amount = self._balance(customer_id, asset)
            kes = (
                None
                if asset is Asset.KES
                else Money.round_down(amount.amount * RATE[asset.currency], Asset.KES)
            )
            out.append(BalanceLine(asset, amount, amount if asset is Asset.KES else kes))
        return out

    def _quote(
        self, cid: int, kind: str, pay: Money, receive: Money, extra: str = "", fee: Money | None = None
    ) -> QuoteView:
        qid = f"q{len(self.quotes) + 1}"
        fee = fee if fee is not None else Money.zero(pay.asset)
        view = QuoteView(
            qid,
            kind,
            pay,
            receive,
            fee,
            "1 USDT = KES 129.50",
            valid_seconds=60,
            expires_at=self.now + timedelta(seconds=60),
            demo=self.demo and kind != "send",
        )
        self.quotes[qid] = (view, cid, extra)
        return view

    async def quote_buy(self, *, customer_id: int, asset: Asset, kes_amount: Money) -> QuoteView:
        got = Money.round_down(kes_amount.amount / RATE[asset.currency], asset)
        return self._quote(customer_id, "buy", kes_amount, got)

    async def quote_sell(self, *, customer_id: int, amount: Money) -> QuoteView:
        got = Money.round_down(amount.amount * RATE[amount.asset.currency], Asset.KES).whole_units()
        return self._quote(customer_id, "sell", amount, got)

    async def quote_send(self, *, customer_id: int, to_phone: str, amount: Money) -> QuoteView:
        fee = Money.round_up(amount.amount * self.send_fee, amount.asset)
        if not (amount - fee).is_positive():
            raise AmountTooSmall("does not cover the fees")
        return self._quote(customer_id, "send", amount, amount - fee, to_phone, fee)

    async def _confirm(self, cid: int, quote_id: str, pin: str, key: str) -> tuple[QuoteView, str]:
        if key in self.executed:
            return self.quotes[quote_id][0], self.quotes[quote_id][2]
        self._pin(cid, pin)
        view, _, extra = self.quotes[quote_id]
        if self.now >= view.expires_at:
            raise QuoteExpired("expired")
        return view, extra

    async def confirm_buy(
        self, *, customer_id: int, quote_id: str, pin: str, idempotency_key: str
    ) -> Receipt:
        view, _ = await self._confirm(customer_id, quote_id, pin, idempotency_key)
        if idempotency_key not in self.executed:
            self.movements.append(("buy", idempotency_key))
            # a buy from the KES balance is done at once; by M-Pesa it waits for the STK push
            status = "done" if self.quotes[quote_id][2] == "wallet" else "pending"
            self.executed[idempotency_key] = Receipt("R1", status, view.pay)
        return self.executed[idempotency_key]

    async def confirm_sell(
        self, *, customer_id: int, quote_id: str, pin: str, idempotency_key: str
    ) -> Receipt:
        view, _ = await self._confirm(customer_id, quote_id, pin, idempotency_key)
        if idempotency_key not in self.executed:
            self.wallets[(customer_id, view.pay.asset)] = (
                self._balance(customer_id, view.pay.asset) - view.pay
            )
            self.movements.append(("sell", idempotency_key))
            self.executed[idempotency_key] = Receipt("R2", "pending", view.receive)
        return self.executed[idempotency_key]

    async def find_recipient(self, *, customer_id: int, phone_text: str) -> Recipient:
        phone = normalize_phone(phone_text)
        other = self.customers.get(phone)
        return Recipient(phone, other.name if other else None)

    async def confirm_send(
        self, *, customer_id: int, quote_id: str, to_phone: str, pin: str, idempotency_key: str
    ) -> Receipt:
        view, _ = await self._confirm(customer_id, quote_id, pin, idempotency_key)
        if idempotency_key not in self.executed:
            self.wallets[(customer_id, view.pay.asset)] = (
                self._balance(customer_id, view.pay.asset) - view.pay
            )
            self.movements.append(("send", idempotency_key))
            status = "done" if to_phone in self.customers else "claim"
            if status == "claim":
                self.claims.append((to_phone, view.pay))
                self.sms.append((to_phone, "invite"))
            self.executed[idempotency_key] = Receipt("R3", status, view.pay, {"claim_days": "7"})
        return self.executed[idempotency_key]

    async def deposit_address(
        self, *, customer_id: int, asset: Asset, idempotency_key: str, notify: bool = True
    ) -> str:
        self.sms.append(("me", asset.value))
        return {"BTC": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"}.get(
            asset.value, "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
        )

    async def mini_statement(self, *, customer_id: int, limit: int = 5) -> list[StatementLine]:
        return [
            StatementLine(self.now, Money.of("-1250000.50", Asset.KES), "payout"),
            StatementLine(self.now, Money.of("12345.123456", Asset.USDT_TRC20), "buy"),
            StatementLine(self.now, Money.of("0.12345678", Asset.BTC), "deposit"),
            StatementLine(self.now, Money.of("-500", Asset.KES), "send"),
            StatementLine(self.now, Money.of("999999.99", Asset.KES), "collection"),
        ][:limit]

    async def change_pin(self, *, customer_id: int, old_pin: str, new_pin: str) -> None:
        self._pin(customer_id, old_pin)
        self.pins[customer_id] = new_pin

    async def set_language(self, *, customer_id: int, language: str) -> None:
        for phone, view in self.customers.items():
            if view.id == customer_id:
                self.customers[phone] = CustomerView(view.id, view.phone, view.name, language)

    async def account_status(self, *, customer_id: int) -> AccountStatus:
        return AccountStatus(
            "verified",
            "Tier 2",
            Money.of("150000", Asset.KES),
            Money.of("300000", Asset.KES),
            Money.of("123456.78", Asset.KES),
        )

    # --- issue 19: rates, pending, PIN check, forgotten PIN ------------------------------------

    async def rates(self) -> list[RateLine]:
        return [
            RateLine(Asset.BTC, Money.of("13390000", Asset.KES), Money.of("12610000", Asset.KES), self.demo),
            RateLine(
                Asset.USDT_ERC20, Money.of("133.40", Asset.KES), Money.of("125.60", Asset.KES), self.demo
            ),
            RateLine(Asset.USDT_TRC20, None, None, self.demo),
        ]

    async def pending(self, *, customer_id: int) -> list[PendingLine]:
        return list(self.waiting)

    async def check_pin(self, *, customer_id: int, pin: str) -> None:
        self._pin(customer_id, pin)

    async def start_pin_reset(self, *, phone: str) -> None:
        if phone not in self.customers:
            raise CustomerNotFound("not registered")
        self.otp_sent[phone] = "314159"
        self.sms.append((phone, "otp"))

    async def finish_pin_reset(self, *, phone: str, otp: str, national_id: str | None, new_pin: str) -> None:
        check_new_pin(new_pin, phone=phone)
        customer = self.customers[phone]
        if self.otp_sent.get(phone) is None:
            raise OtpExpired("no code")
        if otp != self.otp_sent[phone]:
            self.otp_tries[phone] = self.otp_tries.get(phone, 0) + 1
            raise OtpInvalid(attempts_left=5 - self.otp_tries[phone])
        del self.otp_sent[phone]
        if national_id is None and not customer.pin_reset_pending:
            raise NationalIdMismatch("the ID is needed")
        if national_id is not None and national_id != self.national_ids.get(phone):
            raise NationalIdMismatch("no match")
        self.pins[customer.id] = new_pin
        self.wrong[customer.id] = 0
        self.reset_at[customer.id] = self.now
        self.customers[phone] = replace(customer, pin_reset_pending=False)

    # --- issue 19 (H5a): limits before the PIN, cash out, buy from the wallet, sell by KES, addresses
    limit_kes = None  # set to a Money: amounts worth more are refused before the PIN, naming it
    book = ()  # tests assign a list of SavedAddressView
    cashout_fee = Money.of(30, Asset.KES)

    async def check_amount(self, *, customer_id: int, kind: str, amount: Money) -> None:
        if self.wrong.get(customer_id, 0) >= 3:
            raise PinLocked(retry_after=60, locked_until=self.now)
        kes = amount if amount.asset is Asset.KES else Money.round_down(
            amount.amount * RATE[amount.asset.currency], Asset.KES
        )  # fmt: skip
        if self.limit_kes is not None and kes > self.limit_kes:
            raise AmountOverLimit("amount_over_tx_limit", self.limit_kes)

    async def quote_buy_from_wallet(self, *, customer_id: int, asset: Asset, kes_amount: Money) -> QuoteView:
        got = Money.round_down(kes_amount.amount / RATE[asset.currency], asset)
        return self._quote(customer_id, "buy", kes_amount, got, extra="wallet")

    async def quote_sell_for_kes(self, *, customer_id: int, asset: Asset, kes_amount: Money) -> QuoteView:
        pay = Money.round_up(kes_amount.amount / RATE[asset.currency], asset)
        kept = Money.of("0.40", Asset.KES)
        view = self._quote(customer_id, "sell", pay, kes_amount)
        return replace(view, kept=kept)

    async def cashout_maximum(self, *, customer_id: int) -> Money:
        most = (self._balance(customer_id, Asset.KES) - self.cashout_fee).whole_units()
        return most if most.amount >= 10 else Money.zero(Asset.KES)

    async def quote_cashout(self, *, customer_id: int, amount: Money) -> CashoutQuote:
        whole = amount.whole_units()
        if whole.amount < 10:
            raise AmountTooSmall("under the M-Pesa minimum")
        most = await self.cashout_maximum(customer_id=customer_id)
        if whole > most:
            raise AmountOverLimit("amount_over_balance", most)
        left = self._balance(customer_id, Asset.KES) - whole - self.cashout_fee
        phone = next(p for p, v in self.customers.items() if v.id == customer_id)
        return CashoutQuote(whole, self.cashout_fee, whole + self.cashout_fee, left, phone)

    async def confirm_cashout(
        self, *, customer_id: int, amount: Money, fee: Money, pin: str, idempotency_key: str
    ) -> Receipt:
        if idempotency_key not in self.executed:
            self._pin(customer_id, pin)
            self.wallets[(customer_id, Asset.KES)] = self._balance(customer_id, Asset.KES) - amount - fee
            self.movements.append(("cashout", idempotency_key))
            self.executed[idempotency_key] = Receipt("P1", "pending", amount)
        return self.executed[idempotency_key]

    async def saved_addresses(self, *, customer_id: int) -> list[SavedAddressView]:
        return list(self.book)

    async def quote_withdraw(self, *, customer_id: int, amount: Money, address: str) -> QuoteView:
        fee = Money.round_up(amount.amount * Decimal("0.005"), amount.asset) + Money.of(1, amount.asset)
        if not (amount - fee).is_positive():
            raise AmountTooSmall("does not cover the fees")
        return self._quote(customer_id, "send", amount, amount - fee, address, fee)

    async def confirm_withdraw(
        self, *, customer_id: int, quote_id: str, address: str, pin: str, idempotency_key: str
    ) -> Receipt:
        view, _ = await self._confirm(customer_id, quote_id, pin, idempotency_key)
        if idempotency_key not in self.executed:
            self.wallets[(customer_id, view.pay.asset)] = (
                self._balance(customer_id, view.pay.asset) - view.pay
            )
            self.movements.append(("withdraw", idempotency_key))
            self.executed[idempotency_key] = Receipt("W1", "pending", view.receive, {"address": address})
        return self.executed[idempotency_key]

    # --- pay a merchant (issue 16): till 123456 is "Mama Mboga Stores"

    async def find_merchant(self, *, till: str) -> MerchantView:
        if till.strip() != FAKE_TILL:
            raise NoSuchTill(till.strip())
        return MerchantView(7, "Mama Mboga Stores", FAKE_TILL)

    async def quote_pay_merchant(
        self, *, customer_id: int, till: str, amount: Money, asset: Asset
    ) -> QuoteView:
        await self.find_merchant(till=till)
        if asset is Asset.KES:
            return self._quote(customer_id, "merchant", amount, amount, till)
        pay = Money.round_up(amount.amount / RATE[asset.currency], asset)
        return self._quote(customer_id, "sell", pay, amount, till)

    async def confirm_pay_merchant(
        self, *, customer_id: int, till: str, quote_id: str, pin: str, idempotency_key: str
    ) -> Receipt:
        view, _ = await self._confirm(customer_id, quote_id, pin, idempotency_key)
        if idempotency_key not in self.executed:
            if view.pay > self._balance(customer_id, view.pay.asset):
                raise InsufficientFunds("not enough")
            self.wallets[(customer_id, view.pay.asset)] = (
                self._balance(customer_id, view.pay.asset) - view.pay
            )
            self.movements.append(("merchant", idempotency_key))
            self.sms.append(("merchant", till))
            self.executed[idempotency_key] = Receipt("KP1", "done", view.receive, {"merchant": "Mama Mboga"})
        return self.executed[idempotency_key]
