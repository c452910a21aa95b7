"""The Daraja simulator's state: transactions, behaviours (steered by tests), counters and limits."""

from __future__ import annotations

import secrets
import string
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

B2C_OUTCOMES = {
    "success": ("0", "The service request is processed successfully."),
    "2040": (
        "2040",
        "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service.",
    ),
    "1": ("1", "The balance is insufficient for the transaction."),
    "8006": ("8006", "The security credential is locked"),
    "2001": ("2001", "The initiator information is invalid."),
    "2": ("2", "Declined due to limit rule: less than the minimum transaction amount."),
    "3": ("3", "Declined due to limit rule: greater than the maximum transaction amount."),
    "4": ("4", "Declined due to limit rule: would exceed daily transfer limit."),
    "SFC_IC0003": ("SFC_IC0003", "The operator does not exist."),
    # B2B: a closed or suspended till/paybill (steer its number to this outcome)
    "2006": ("2006", "Declined due to account rule: The account status does not allow this transaction."),
}
B2B_COMMANDS = ("BusinessBuyGoods", "BusinessPayBill")
STK_OUTCOMES = {
    "success": ("0", "The service request is processed successfully."),
    "1032": ("1032", "Request cancelled by user"),
    "1037": ("1037", "DS timeout user cannot be reached"),
    "2001": ("2001", "The initiator information is invalid."),
    "1": ("1", "The balance is insufficient for the transaction."),
}
CALLBACK_MODES = ("normal", "duplicate", "none", "timeout_only")
B2C_MIN, STK_MIN, TXN_MAX, DAILY_MAX = 10, 1, 250_000, 500_000


@dataclass
class Behaviour:
    outcome: str = "success"
    callback: str = "normal"  # normal | duplicate | none | timeout_only
    delay_s: float | None = None  # None: the simulator's callback_delay_s
    amount_override: str | None = None  # STK: report a different amount in the callback


@dataclass
class Steering:
    """Which behaviour the next request gets: a one-shot queue, then per-MSISDN rules, then the default."""

    default: Behaviour = field(default_factory=Behaviour)
    by_msisdn: dict[str, Behaviour] = field(default_factory=dict)
    queue: deque[Behaviour] = field(default_factory=deque)

    def pick(self, msisdn: str) -> Behaviour:
        if self.queue:
            return self.queue.popleft()
        return self.by_msisdn.get(msisdn, self.default)


@dataclass
class B2CTxn:
    originator_conversation_id: str
    conversation_id: str
    receipt: str
    party_b: str
    amount: Decimal
    command_id: str
    result_code: str
    result_desc: str
    result_url: str
    timeout_url: str
    behaviour: Behaviour
    initiated: str
    completed: bool = False

    @property
    def paid(self) -> bool:
        return self.result_code == "0"


@dataclass
class StkTxn:
    merchant_request_id: str
    checkout_request_id: str
    msisdn: str
    amount: Decimal
    callback_url: str
    behaviour: Behaviour
    result_code: str = ""
    result_desc: str = ""
    receipt: str = ""

    @property
    def pending(self) -> bool:
        return not self.result_code


@dataclass
class C2BTxn:
    """A paybill payment made on a (simulated) handset."""

    trans_id: str
    msisdn: str
    amount: Decimal
    bill_ref: str
    shortcode: str
    trans_time: str
    status: str = "pending"  # pending | rejected | cancelled | completed
    validation: str = ""  # the app's ResultCode, "off" (validation not enabled) or "unreachable"
    confirmations: int = 0  # confirmation deliveries the app answered with 2xx


@dataclass
class SimConfig:
    consumer_key: str = ""  # empty: accept any Basic credentials
    consumer_secret: str = ""
    shortcode: str = "600000"
    passkey: str = ""  # empty: accept any STK password
    initiator_password: str = ""  # empty: accept any decryptable credential
    callback_delay_s: float = 0.05
    tps_limit: int = 0  # 0: no spike arrest by rate (spike_next still works)
    rotate_tokens: bool = True  # a new token invalidates the previous one, as Daraja does
    lock_subscriber: bool = True  # one pending STK per phone (500.001.1001)
    utility_balance: Decimal = Decimal("1000000.00")
    # External C2B validation: off by default at Safaricom (enabled on request); on here, so an
    # unknown account is refused before money moves. A payment can override it.
    c2b_validation: bool = True
    paybill_balance: Decimal = Decimal("0.00")  # OrgAccountBalance in confirmations


@dataclass
class SimState:
    config: SimConfig = field(default_factory=SimConfig)
    b2c_steering: Steering = field(default_factory=Steering)
    stk_steering: Steering = field(default_factory=Steering)
    tokens: list[str] = field(default_factory=list)
    b2c: dict[str, B2CTxn] = field(default_factory=dict)  # B2B transactions too (command_id says)
    b2b_references: dict[str, str] = field(default_factory=dict)  # B2B AccountReference per OCID
    stk: dict[str, StkTxn] = field(default_factory=dict)
    payments: Counter[str] = field(default_factory=Counter)  # money moved per OriginatorConversationID
    requests: Counter[str] = field(default_factory=Counter)  # B2C requests seen per OriginatorConversationID
    daily: Counter[str] = field(default_factory=Counter)
    b2c_times: list[float] = field(default_factory=list)
    recent: deque[float] = field(default_factory=deque)
    spike_next: int = 0
    oauth_calls: int = 0
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    c2b_urls: dict[str, str] = field(default_factory=dict)  # confirmation, validation, response_type
    c2b: dict[str, C2BTxn] = field(default_factory=dict)

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(20)
        self.oauth_calls += 1
        if self.config.rotate_tokens:
            self.tokens = [token]
        else:
            self.tokens.append(token)
        return token

    def token_valid(self, token: str) -> bool:
        return token in self.tokens

    def spike(self) -> bool:
        """True when this request violates the spike arrest policy."""
        if self.spike_next > 0:
            self.spike_next -= 1
            return True
        if self.config.tps_limit <= 0:
            return False
        now = time.monotonic()
        while self.recent and now - self.recent[0] > 1.0:
            self.recent.popleft()
        if len(self.recent) >= self.config.tps_limit:
            return True
        self.recent.append(now)
        return False

    def summary(self) -> dict[str, Any]:
        return {
            "payments": dict(self.payments),
            "requests": dict(self.requests),
            "paid_total": str(sum((t.amount for t in self.b2c.values() if t.paid), Decimal(0))),
            "utility_balance": str(self.config.utility_balance),
            "oauth_calls": self.oauth_calls,
            "b2c_count": len(self.b2c),
            "stk_count": len(self.stk),
            "c2b_count": len(self.c2b),
        }


def receipt() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "S" + "".join(secrets.choice(alphabet) for _ in range(9))


def conversation_id() -> str:
    return f"AG_{datetime.now(UTC):%Y%m%d}_{secrets.token_hex(10)}"


def eat_time() -> str:
    return datetime.now(UTC).strftime("%d.%m.%Y %H:%M:%S")


def describe(txn: B2CTxn | StkTxn | C2BTxn) -> dict[str, Any]:
    out = asdict(txn)
    out["amount"] = str(txn.amount)
    return out
