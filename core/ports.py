"""Ports: what core needs from the outside world. Adapters live in their own packages and are wired
by webapp.bootstrap. The consumer (core) owns these interfaces; change them here, deliberately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from core.money import Asset, Money


class Notifier(Protocol):
    """Tell a person something (SMS; later Telegram). Implementations enqueue, never block a hop."""

    async def send_sms(self, *, phone: str, text: str, reference: str) -> None:
        """Queue one SMS to an E.164 number. `reference` makes the send idempotent."""
        ...


SECRET_PLACEHOLDER = "{secret}"  # noqa: S105 - a template slot, not a secret


@runtime_checkable
class SecretSmsNotifier(Protocol):
    """A Notifier that keeps a secret (a one-time code) sealed until the SMS is sent."""

    async def send_secret_sms(
        self, *, phone: str, text: str, secret: str, reference: str, session: Any = None
    ) -> None:
        """Queue `text` with SECRET_PLACEHOLDER standing for `secret`, which is stored sealed.

        `session`: the caller's open AsyncSession; the SMS is staged in its transaction (the caller
        commits). A second session would wait on the first's SQLite write lock: a deadlock."""
        ...


class JobQueue(Protocol):
    """Run a job (a module-level async function, by dotted path) later, at least once."""

    def enqueue(self, job: str, *, job_id: str, kwargs: dict[str, Any], queue: str = "default") -> None: ...

    def is_pending(self, job_id: str) -> bool:
        """True while the job is queued, scheduled or running (used to re-dispatch lost jobs)."""
        ...


@dataclass(frozen=True)
class DepositAddress:
    asset: Asset
    address: str
    derivation_index: int
    demo: bool = False  # from the public development keys: never fund it


class ChainGateway(Protocol):
    """Bitcoin, Ethereum (USDT-ERC20) and TRON (USDT-TRC20): addresses and withdrawals."""

    async def deposit_address(
        self, *, owner_type: str, owner_id: int, asset: Asset, session: Any = None
    ) -> DepositAddress:
        """The owner's one address on the asset's network (allocated the first time). With `session`
        (an AsyncSession in a transaction) it is written in the caller's transaction."""
        ...

    async def new_owner_addresses(
        self, *, owner_type: str, owner_id: int, assets: list[Asset], session: Any
    ) -> list[DepositAddress]:
        """One fresh address per asset for an owner that has none yet (a new invoice), in the
        caller's transaction, in few round trips: the index counters stay locked until it commits."""
        ...

    def validate_address(self, *, asset: Asset, address: str) -> str:
        """Return the canonical form or raise core.errors.InvalidAddress with a clear message."""
        ...

    async def network_fee(self, *, asset: Asset, address: str, amount: Money) -> Money:
        """The network's fee for withdrawing `amount` to `address` now, estimated, in `asset`."""
        ...

    async def request_withdrawal(
        self,
        *,
        session: Any,
        request_key: str,
        owner_type: str,
        owner_id: int,
        asset: Asset,
        address: str,
        amount: Money,
        fee: Money,
        amount_kes: Money | None = None,
        network_fee: Money | None = None,
    ) -> WithdrawalTicket:
        """Screen the destination, hold `amount + fee` and stage the send, all in the caller's
        transaction (`session`, an AsyncSession); idempotent per `request_key`. `network_fee` is
        the part of `fee` charged for the network fee (settled against the chain's actual fee)."""
        ...


@dataclass(frozen=True)
class PendingDeposit:
    """A deposit seen on chain, not yet credited: its confirmations so far, of those required."""

    asset: Asset
    amount: Money
    confirmations: int
    required: int
    seen_at: datetime


@runtime_checkable
class DepositWatch(Protocol):
    """A ChainGateway that can tell a customer's deposits still waiting for confirmations."""

    async def pending_deposits(self, *, owner_type: str, owner_id: int) -> list[PendingDeposit]: ...


@dataclass(frozen=True)
class WithdrawalTicket:
    withdrawal_id: int
    status: str
    address: str  # the canonical destination


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    REVIEW = "review"


@dataclass(frozen=True)
class GateResult:
    decision: Decision
    reason_code: str = ""  # translated by channels, e.g. "limit_daily_exceeded"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


@dataclass(frozen=True)
class MovementCheck:
    """A money movement about to happen, as the compliance gate sees it."""

    customer_id: int
    kind: str  # buy | sell | send | withdraw | deposit | receive
    amount: Money
    amount_kes: Money  # the KES value, for limits
    counterparty: str = ""  # phone, address or merchant id
    reference: str = ""  # the movement's own key (a payout's), for `ComplianceGate.reverse`
    # "customer" (limits, monitoring); "merchant": a merchant's refund to a payer, screened only
    owner_type: str = "customer"
    # False: money that arrived with no KES rate ever stored, so amount_kes (zero) is no value and no
    # limit can be checked; check_inbound holds it for review (compliance reason inbound_unvalued)
    valued: bool = True


@dataclass(frozen=True)
class CustomerLimits:
    """A customer's KYC tier and its limits (KES), with what counts against them so far.

    A zero crypto_withdrawal means crypto withdrawals are not allowed at this tier. Days and months are
    the compliance package's periods (Nairobi calendar).
    """

    tier: int
    kyc_status: str  # none | pending | verified
    per_transaction: Money
    daily: Money
    monthly: Money
    balance: Money  # the most a KES wallet may hold
    crypto_withdrawal: Money
    used_today: Money
    used_this_month: Money
    # what raises the limits next: verify_id | identity_review | documents | "" (nothing: top tier)
    next_step: str = ""
    frozen: bool = False  # an account hold: money out is refused until staff lift it


@dataclass(frozen=True)
class IdentityClaim:
    """Who a new customer says they are (registration on any channel)."""

    customer_id: int
    full_name: str
    id_number: str
    date_of_birth: date


class ComplianceGate(Protocol):
    async def check(self, movement: MovementCheck, *, session: Any = None) -> GateResult:
        """Decide and record the movement. With `session` (an AsyncSession in a transaction) it is
        recorded in the caller's transaction, which the caller commits (on a refusal too:
        core.errors.RecordedRefusal); without, in its own."""
        ...

    async def limits(self, customer_id: int) -> CustomerLimits:
        """The customer's tier and limits (read only: records no movement)."""
        ...

    async def reverse(self, *, reference: str) -> int:
        """The movement checked under `reference` did not happen after all (M-Pesa refused the
        payout and everything came back): it stops counting against the customer's limits.
        Idempotent; returns how many movements it reversed."""
        ...

    async def register_identity(self, *, session: Any, claim: IdentityClaim) -> str:
        """Write the KYC profile and screen the name (+ DOB) against the loaded lists, in the caller's
        transaction (`session`, an AsyncSession); stage the identity-registry check. Returns the
        screening outcome: clear | review | alert | block | pending (no list loaded). A block freezes."""
        ...

    async def check_inbound(
        self, *, session: Any, movement: MovementCheck, account_id: int, reference: str
    ) -> GateResult:
        """Money that has already arrived and was just credited to `account_id` in `session`: record
        it as a movement and check it (per-transaction and balance limits, freeze, sanctions; one
        that could not be valued, `movement.valued` False, is held). Not ALLOW means the credit is
        held (not spendable), a review alert is raised and the customer is told by SMS, all in the
        caller's transaction. Idempotent per `reference`."""
        ...

    async def screen_business(self, *, session: Any, subject_ref: str, names: list[str]) -> str:
        """Screen a business name and its directors' names against the loaded lists in the caller's
        transaction (alerts and cases as for customers). Returns the worst outcome: clear | review |
        alert | block, or pending when no list is loaded and the gate does not fail closed."""
        ...


@dataclass(frozen=True)
class IdentityCheck:
    """An identity register's answer (IPRS, usually through a KYC provider)."""

    status: str  # matched | mismatch | not_found | unavailable
    reference: str = ""
    mismatches: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return self.status == "matched"


class IdentityRegistry(Protocol):
    """Kenya's Integrated Population Registration System: does this ID belong to this name and DOB?"""

    async def verify(self, *, id_number: str, full_name: str, date_of_birth: date) -> IdentityCheck: ...


@dataclass(frozen=True)
class RateQuote:
    base: str  # e.g. "USD", "BTC", "USDT"
    quote: str  # e.g. "KES", "USD"
    rate: str  # Decimal as string, exact as the source gave it
    source: str


class RateSource(Protocol):
    name: str

    async def fetch(self) -> list[RateQuote]: ...


class CollectionState(StrEnum):
    """Where a collection stands, as the provider's own status query says (never a notification)."""

    PENDING = "pending"  # not paid (yet): PesaPal INVALID, an STK prompt not answered
    COMPLETED = "completed"
    FAILED = "failed"
    REVERSED = "reversed"  # paid, then taken back (a card chargeback, a reversed mobile payment)


@dataclass(frozen=True)
class CollectionStarted:
    provider_reference: str  # PesaPal's order tracking id; Daraja's CheckoutRequestID
    redirect_url: str = ""  # where the customer pays (a hosted page); "" for a prompt on the phone
    provider_request_id: str = ""  # Daraja's MerchantRequestID; "" when the provider has none


@dataclass(frozen=True)
class CollectionResult:
    state: CollectionState
    merchant_reference: str  # our reference, as the provider echoes it
    amount: Decimal | None = None  # what the provider says was paid, in `currency`
    currency: str = ""
    confirmation: str = ""  # the provider's receipt (PesaPal confirmation_code, M-Pesa receipt)
    method: str = ""  # e.g. "Visa", "AirtelKE", "M-Pesa"
    description: str = ""


class CollectionRail(Protocol):
    """A way to collect KES from a customer (Daraja STK push, PesaPal hosted page): start a
    collection for an amount and our reference, learn its final status, refund it. Called from jobs,
    never inside a USSD hop. Use cases pick the rail by name (core.rails.choice), never by type."""

    name: str

    async def start_collection(
        self, *, reference: str, phone: str, amount: Money, description: str
    ) -> CollectionStarted: ...

    async def collection_status(self, *, provider_reference: str) -> CollectionResult: ...

    async def refund_collection(self, *, confirmation: str, amount: Money, remarks: str) -> bool:
        """Ask the provider to give `amount` back; True when it accepted the request."""
        ...

    async def cancel_collection(self, *, provider_reference: str) -> bool:
        """Withdraw a collection the customer has not paid; True when the provider cancelled it."""
        ...
