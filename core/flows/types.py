"""What the customer use cases return, and the interface channels program against.

Channels receive a `CustomerFlows` (the real one is `core.flows.service.CoreFlows`); tests of a
channel may pass a fake that honours the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from core.addressbook.models import SavedAddressView
from core.money import Asset, Money
from core.settlements.models import MerchantView


@dataclass(frozen=True)
class CustomerView:
    id: int
    phone: str
    name: str
    language: str = "en"
    pin_reset_pending: bool = False  # staff reset the PIN: the next dial asks for the SMS code first


@dataclass(frozen=True)
class BalanceLine:
    asset: Asset
    amount: Money
    kes_value: Money | None = None  # None when rates are unavailable


@dataclass(frozen=True)
class QuoteView:
    id: str
    kind: str  # buy | sell | send
    pay: Money
    receive: Money
    fee: Money
    rate: str  # formatted, e.g. "1 USDT = KES 129.50"
    valid_seconds: int
    expires_at: datetime
    demo: bool = False
    network_fee: Money | None = None  # withdrawals: the network fee estimate, part of `fee`
    kept: Money | None = None  # a sell to M-Pesa: the cents that stay in the KES wallet


@dataclass(frozen=True)
class CashoutQuote:
    """KES from the wallet to the customer's own M-Pesa: `amount` arrives, `fee` on top, `left` stays."""

    amount: Money  # whole shillings to M-Pesa
    fee: Money
    total: Money  # what leaves the wallet: amount + fee
    left: Money  # the KES wallet after it
    phone: str


@dataclass(frozen=True)
class Recipient:
    phone: str
    name: str | None  # None: not registered (the funds will wait in a claim)


@dataclass(frozen=True)
class Receipt:
    reference: str
    status: str  # pending | done | claim
    amount: Money
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementLine:
    at: datetime
    amount: Money  # signed: negative = out
    kind: str
    memo: str = ""


@dataclass(frozen=True)
class RateLine:
    """What one unit of an asset costs to buy and fetches when sold, in KES, fees included."""

    asset: Asset
    buy: Money | None  # None: no price now
    sell: Money | None
    demo: bool = False  # fixed demo rates (the embedded default), never a market price


@dataclass(frozen=True)
class PendingLine:
    """Money on its way: a deposit seen on chain but not yet confirmed, or a withdrawal or M-Pesa
    payout held from the wallet until it is final."""

    kind: str  # deposit | withdrawal | payout | hold
    amount: Money
    at: datetime
    confirmations: int | None = None  # a deposit: confirmations so far, of `required`
    required: int | None = None


@dataclass(frozen=True)
class AccountStatus:
    kyc_status: str  # none | pending | verified
    tier: str
    per_transaction: Money | None
    daily_limit: Money | None
    used_today: Money
    monthly_limit: Money | None = None
    used_this_month: Money | None = None
    balance_limit: Money | None = None  # the most the KES wallet may hold
    crypto_withdrawal_limit: Money | None = None  # zero: crypto withdrawals not allowed at this tier
    next_step: str = ""  # what raises the limits: verify_id | identity_review | documents (ussd.kyc.next.*)


class CustomerFlows(Protocol):
    """Every customer operation a channel offers. Money operations take an idempotency key."""

    def today(self) -> date:
        """Today's date in Kenya on the runtime's clock (a date of birth cannot be after it)."""
        ...

    async def find_customer(self, *, phone: str) -> CustomerView | None: ...

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
    ) -> CustomerView: ...

    async def check_new_pin(self, *, phone: str, pin: str) -> None:
        """Raise if the PIN is malformed or trivial (before asking for confirmation)."""
        ...

    async def balances(self, *, customer_id: int) -> list[BalanceLine]: ...

    async def quote_buy(self, *, customer_id: int, asset: Asset, kes_amount: Money) -> QuoteView: ...

    async def confirm_buy(
        self, *, customer_id: int, quote_id: str, pin: str, idempotency_key: str
    ) -> Receipt: ...

    async def quote_sell(self, *, customer_id: int, amount: Money) -> QuoteView: ...

    async def confirm_sell(
        self, *, customer_id: int, quote_id: str, pin: str, idempotency_key: str
    ) -> Receipt: ...

    async def find_recipient(self, *, customer_id: int, phone_text: str) -> Recipient: ...

    async def quote_send(self, *, customer_id: int, to_phone: str, amount: Money) -> QuoteView: ...

    async def confirm_send(
        self, *, customer_id: int, quote_id: str, to_phone: str, pin: str, idempotency_key: str
    ) -> Receipt: ...

    async def deposit_address(
        self, *, customer_id: int, asset: Asset, idempotency_key: str, notify: bool = True
    ) -> str: ...

    async def mini_statement(self, *, customer_id: int, limit: int = 5) -> list[StatementLine]: ...

    async def change_pin(self, *, customer_id: int, old_pin: str, new_pin: str) -> None: ...

    async def set_language(self, *, customer_id: int, language: str) -> None: ...

    async def account_status(self, *, customer_id: int) -> AccountStatus: ...

    # --- issue 19: cash out, buy from the KES wallet, sell by KES value, saved addresses, limits

    async def check_amount(self, *, customer_id: int, kind: str, amount: Money) -> None:
        """Before the PIN: raise what would refuse `amount` for `kind` (buy | sell | send | withdraw):
        a PIN lock, the cool-down, a tier limit (naming the most allowed), a frozen account."""
        ...

    async def quote_buy_from_wallet(
        self, *, customer_id: int, asset: Asset, kes_amount: Money
    ) -> QuoteView: ...

    async def quote_sell_for_kes(self, *, customer_id: int, asset: Asset, kes_amount: Money) -> QuoteView: ...

    async def quote_cashout(self, *, customer_id: int, amount: Money) -> CashoutQuote: ...

    async def cashout_maximum(self, *, customer_id: int) -> Money:
        """The most that can reach M-Pesa from the KES wallet with the fee on top (zero if none)."""
        ...

    async def confirm_cashout(
        self, *, customer_id: int, amount: Money, fee: Money, pin: str, idempotency_key: str
    ) -> Receipt: ...

    async def saved_addresses(self, *, customer_id: int) -> list[SavedAddressView]: ...

    async def quote_withdraw(self, *, customer_id: int, amount: Money, address: str) -> QuoteView: ...

    async def confirm_withdraw(
        self, *, customer_id: int, quote_id: str, address: str, pin: str, idempotency_key: str
    ) -> Receipt: ...

    # --- issue 19: rates, pending items, PIN check, forgotten PIN (self-service or after a staff reset)

    async def rates(self) -> list[RateLine]: ...

    async def pending(self, *, customer_id: int) -> list[PendingLine]: ...

    async def check_pin(self, *, customer_id: int, pin: str) -> None:
        """Raise PinIncorrect (with tries left) or PinLocked; a wrong PIN counts as a try."""
        ...

    async def start_pin_reset(self, *, phone: str) -> None:
        """Send a one-time code by SMS to the registered number (raises if it is not registered)."""
        ...

    async def finish_pin_reset(self, *, phone: str, otp: str, national_id: str | None, new_pin: str) -> None:
        """Set a new PIN from the SMS code and the national ID on file (no ID when staff reset the
        PIN after checking it); money out then waits the 24-hour cool-down."""
        ...

    # --- issue 16: pay a merchant by its Kibeti till code (KES balance, or crypto at a locked quote)

    async def find_merchant(self, *, till: str) -> MerchantView:
        """The active merchant with this till code; NoSuchTill ("No merchant with till 12345")."""
        ...

    async def quote_pay_merchant(
        self, *, customer_id: int, till: str, amount: Money, asset: Asset
    ) -> QuoteView: ...

    async def confirm_pay_merchant(
        self, *, customer_id: int, till: str, quote_id: str, pin: str, idempotency_key: str
    ) -> Receipt: ...
