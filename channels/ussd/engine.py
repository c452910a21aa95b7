"""The menu engine: a declared table of states, each rendering a screen and handling one input.

In the spirit of python-telegram-bot's ConversationHandler: a state's `handle` returns the name
of the next state (or a final `Screen`); the engine keeps the history for "0 Back", resets to the
main menu on "00", stores the session, replays a repeated hop's answer, and never lets an
exception become a 5xx.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from channels.ussd.parser import BACK, MAIN, clean
from channels.ussd.screens import SCREEN_LIMIT, fit
from channels.ussd.session import ResumePoint, SessionStore, UssdSession, Writes
from core import telemetry
from core.errors import KibetiError
from core.flows.types import CustomerFlows
from core.i18n import translate
from core.i18n.catalog import has
from core.identity.errors import PinIncorrect, PinLocked

log = logging.getLogger(__name__)

WELCOME = "welcome"
MAIN_MENU = "main"
RESUME = "resume"
PIN_RESET_CODE = "pin.reset.code"  # where a customer whose PIN reset is pending lands on dialling
FORGOT_PIN = "pin.forgot"
FORGOT_INPUT = "99"  # at a PIN prompt (never a PIN: PINs have four digits)
WRONG_PIN = frozenset({"pin_incorrect", "pin_incorrect_left", "pin_incorrect_last"})
PIN_LOCKED = frozenset({"pin_locked", "pin_locked_minutes", "pin_locked_hours"})
# A dropped operation is offered again on a redial within this long of its last screen (the point
# itself lives RESUME_TTL_SECONDS in the store): a redial after a drop comes within a minute or two,
# and an older operation (a merchant payment abandoned minutes ago) is not what the caller dialled for.
RESUME_OFFER_SECONDS = 120

# Errors after which the session cannot usefully continue: shown as END.
TERMINAL_ERRORS = frozenset(
    {
        "pin_locked",
        "pin_locked_minutes",
        "pin_locked_hours",
        "insufficient_funds_final",
        "national_id_taken",
        "service_unavailable",
        "quote_expired",
        "quote_used",
        "rates_unavailable",
        "limit_rate_unavailable",
        "compliance_review",
        "compliance_denied",
        "limit_transaction_exceeded",
        "limit_daily_exceeded",
        "limit_monthly_exceeded",
        "limit_balance_exceeded",
        "limit_crypto_withdrawal_exceeded",
        "tier_crypto_withdrawal_not_allowed",
        "account_frozen",
        "limit_exceeded",
        "withdrawals_cooldown",
        "not_registered",
        "already_registered",
        "phone_taken",
        "customer_blocked",
        "customer_not_found",
        "rate_limited",
        "quote_not_found",
        "generic",
    }
)

# Other packages' error codes shown with one of ours.
ERROR_ALIASES = {
    "quote_already_used": "quote_used",
    "collection_amount_out_of_range": "invalid_amount",
    "payout_amount_out_of_range": "invalid_amount",
    "unsupported_quote": "invalid_amount",
    "payout_daily_limit": "limit_exceeded",
    "payment_idempotency_conflict": "generic",
    "idempotency_conflict": "generic",
    "withdrawal_held_for_review": "compliance_review",  # held, waiting for staff: "under review, SMS"
}


def _code_of(exc: KibetiError) -> str:
    """The `error.<code>` an exception is shown with: ours, another package's alias, or, for a
    withdrawal the compliance gate refused, its decision's own message (as the web portal shows)."""
    code = getattr(exc, "code", "generic") or "generic"
    code = ERROR_ALIASES.get(code, code)
    if code == "withdrawal_refused":  # wallets' WithdrawalRefused: deny, or review by staff
        code = "compliance_review" if getattr(exc, "decision", "") == "review" else "compliance_denied"
    return code


def _explained(exc: KibetiError, code: str, *, at_pin: bool) -> tuple[str, dict[str, Any]]:
    """The more helpful variant of an error when the exception carries its numbers (tries left, how
    long a lock lasts), and an END for a balance that fell short between the quote and the PIN."""
    values: dict[str, Any] = dict(getattr(exc, "values", {}) or {})
    if isinstance(exc, PinIncorrect) and exc.attempts_left > 0:
        return ("pin_incorrect_last", values) if exc.attempts_left == 1 else (
            "pin_incorrect_left", {**values, "left": exc.attempts_left}
        )  # fmt: skip
    if isinstance(exc, PinLocked) and exc.retry_after > 0:
        minutes = -(-exc.retry_after // 60)
        if minutes >= 120:
            return "pin_locked_hours", {**values, "hours": -(-minutes // 60)}
        return "pin_locked_minutes", {**values, "minutes": minutes}
    if code == "insufficient_funds" and at_pin:  # the same quote cannot succeed: asking again helps no one
        return "insufficient_funds_final", values
    return code, values


def _mentions_care(code: str) -> bool:
    """Whether an error's text sends the customer to customer care (read from the English text)."""
    return "customer care" in translate(f"error.{code}", "en").lower()


@dataclass(frozen=True)
class Screen:
    text: str
    end: bool = False


@dataclass(frozen=True)
class Contacts:
    """Where a customer gets help: the customer-care number and the M-Pesa paybill (settings)."""

    care_phone: str = ""
    paybill: str = ""


@dataclass
class Ctx:
    session: UssdSession
    flows: CustomerFlows
    service_code: str
    flash: tuple[str, dict[str, Any]] | None = None
    contacts: Contacts = Contacts()

    @property
    def data(self) -> dict[str, Any]:
        return self.session.data

    @property
    def language(self) -> str:
        return self.session.language

    @property
    def customer_id(self) -> int:
        if self.session.customer_id is None:
            raise KibetiError("no customer in this session")
        return self.session.customer_id

    secret: bytes = b""

    def t(self, code: str, **values: Any) -> str:
        return translate(code, self.language, code=self.service_code, **values)

    def fail(self, code: str, **values: Any) -> str:
        """Show `error.<code>` above the current screen and ask again."""
        self.flash = (code, values)
        return self.session.state

    def end(self, code: str, **values: Any) -> Screen:
        return Screen(self.t(code, **values), end=True)

    def op_key(self, step: str) -> str:
        """An idempotency key from the operation (which survives a resume) and the step."""
        op = self.data.get("op") or self.session.session_id
        return f"ussd:{op}:{step}"

    def begin_op(self, kind: str) -> None:
        self.data.clear()
        self.data["op"] = f"{self.session.session_id}:{uuid.uuid4().hex[:8]}"
        self.data["kind"] = kind


Render = Callable[[Ctx], Awaitable[Screen]]
Handle = Callable[[Ctx, str], Awaitable["str | Screen"]]


@dataclass(frozen=True)
class State:
    """One row of the table. `secret`: the input is a PIN (never kept). `resumable`: mid-operation."""

    name: str
    render: Render
    handle: Handle | None = None
    resumable: bool = False
    secret: bool = False
    describe: Callable[[Ctx], str] | None = None  # for the resume question


@dataclass
class HopRequest:
    session_id: str
    phone: str
    text: str
    service_code: str = ""
    network_code: str = ""


@dataclass
class Engine:
    table: Mapping[str, State]
    store: SessionStore
    flows: CustomerFlows
    secret: bytes = b"dev-only-ussd-secret"
    default_service_code: str = "*483*1#"
    contacts: Contacts = Contacts()
    now: Callable[[], float] = time.time  # epoch seconds: when a resume point was saved

    def _ctx(self, session: UssdSession, code: str) -> Ctx:
        return Ctx(
            session=session, flows=self.flows, service_code=code, secret=self.secret, contacts=self.contacts
        )

    async def hop(self, request: HopRequest) -> Screen:
        """Answer one Africa's Talking callback. Never raises."""
        try:
            return await self._hop(request)
        except Exception:
            log.exception("ussd hop failed")
            language = await self._language_of(request.phone, request.session_id)
            return Screen(translate("error.generic", language), end=True)

    async def _language_of(self, phone: str, session_id: str = "") -> str:
        """The caller's language for a last-resort reply: their session's, else their account's, else
        English. Never raises (it runs after something already went wrong)."""
        try:
            session = await self.store.load(session_id) if session_id else None
            if session is not None and session.phone == phone:
                return session.language
            customer = await self.flows.find_customer(phone=phone)
            return customer.language if customer is not None else "en"
        except Exception:
            log.exception("ussd: no language for the fallback reply")
            return "en"

    async def _hop(self, request: HopRequest) -> Screen:
        code = request.service_code or self.default_service_code
        point: ResumePoint | None = None
        if request.text:
            session = await self.store.load(request.session_id)
        else:  # a first hop: the phone's resume point comes in the same round trip
            session, point = await self.store.load_with_resume(request.session_id, request.phone)
        if session is None:
            if request.text:  # the session timed out (or Redis lost it): the resume point survives
                customer = await self.flows.find_customer(phone=request.phone)
                language = customer.language if customer is not None else "en"
                return Screen(fit(translate("ussd.session_expired", language, code=code)), end=True)
            return await self._start(request, code, point)
        if session.phone != request.phone:  # a session id is bound to the number that opened it
            log.warning("ussd: session %s used by another number", request.session_id[:12])
            return Screen(translate("error.generic", await self._language_of(request.phone)), end=True)
        if session.hops and session.is_last_text(self.secret, request.text):
            # Africa's Talking retried a hop whose answer was slow or lost: the same answer again
            return Screen(session.last_response, end=session.ended)
        if session.ended:  # a new input after END: that session is over
            return Screen(fit(translate("ussd.session_expired", session.language, code=code)), end=True)
        raw = session.input_after_last(self.secret, request.text)
        session.remember_text(self.secret, request.text)
        ctx = self._ctx(session, code)
        screen = await self._advance(ctx, clean(raw))
        return await self._finish(ctx, screen)

    async def _start(self, request: HopRequest, code: str, point: ResumePoint | None) -> Screen:
        session = UssdSession(session_id=request.session_id, phone=request.phone, state=WELCOME)
        session.remember_text(self.secret, request.text)
        ctx = self._ctx(session, code)
        customer = await self.flows.find_customer(phone=request.phone)
        if customer is not None:
            session.customer_id = customer.id
            session.language = customer.language
            session.state = MAIN_MENU
            if customer.pin_reset_pending and PIN_RESET_CODE in self.table:
                session.state = PIN_RESET_CODE  # staff reset the PIN: the code from the SMS, then a new PIN
                session.data = {"kind": "pin_reset", "staff_reset": True}
            elif point is not None and self._offerable(point):
                session.state = RESUME
                session.data = {
                    "resume": {"state": point.state, "data": point.data, "history": point.history}
                }
        screen = await self._render(ctx)
        return await self._finish(ctx, screen)

    def _offerable(self, point: ResumePoint) -> bool:
        """A resume point worth the question: recent, at a resumable screen of its own operation
        (a payment's point at a payment screen), with an amount to name."""
        state = self.table.get(point.state)
        kind = str(point.data.get("kind", ""))
        return (
            state is not None
            and state.resumable
            and bool(kind)
            and point.state.split(".", 1)[0] == kind
            and bool(point.data.get("describe"))
            and 0 <= self.now() - point.saved_at < RESUME_OFFER_SECONDS
        )

    async def _advance(self, ctx: Ctx, value: str) -> Screen:
        session = ctx.session
        state = self.table[session.state]
        if value == MAIN:
            return await self._goto_root(ctx)
        if value == BACK and session.history:
            session.state = session.history.pop()
            return await self._render(ctx)
        if state.handle is None:
            return await self._render(ctx)
        if value == FORGOT_INPUT and self._forgot_pin_offered(ctx, state):
            session.history.append(session.state)  # "0 Back" returns to the PIN prompt
            session.state = FORGOT_PIN
            return await self._render(ctx)
        try:
            outcome = await state.handle(ctx, value)
        except KibetiError as exc:
            outcome = self._on_error(ctx, exc)
        if isinstance(outcome, Screen):
            return outcome
        if outcome not in self.table:  # a menu slot whose service is not built yet
            log.info("ussd: no state %s yet", outcome)
            outcome = ctx.fail("not_available")
        if outcome != session.state:
            if session.state != RESUME:  # the resume question is not a screen to go back to
                session.history.append(session.state)
            session.state = outcome
        return await self._render(ctx)

    def _on_error(self, ctx: Ctx, exc: KibetiError) -> str | Screen:
        code = _code_of(exc)
        if not has(f"error.{code}"):
            log.info("ussd: untranslated error code %s", code)
            code = "generic"
        if code == "service_unavailable":
            log.warning("ussd: service unavailable: %s", getattr(exc, "missing", exc))
        if code == "pin_reset_pending" and PIN_RESET_CODE in self.table:
            return self._to_pin_reset(ctx)
        code, values = _explained(exc, code, at_pin=self.table[ctx.session.state].secret)
        if code in TERMINAL_ERRORS:
            screen = self._with_care(ctx, ctx.end(f"error.{code}", **values), code)
            if code in PIN_LOCKED and FORGOT_PIN in self.table:  # a customer who cannot sign in
                screen = Screen(screen.text + "\n" + ctx.t("ussd.pin.forgot_locked"), end=True)
            return screen
        return ctx.fail(code, **values)

    @staticmethod
    def _to_pin_reset(ctx: Ctx) -> str:
        """Staff reset this customer's PIN (the old one is dead): the SMS code, then a new PIN."""
        ctx.session.history.clear()
        ctx.session.data = {"kind": "pin_reset", "staff_reset": True}
        ctx.session.state = PIN_RESET_CODE
        return PIN_RESET_CODE

    def _forgot_pin_offered(self, ctx: Ctx, state: State) -> bool:
        """A registered customer at a prompt for their PIN can reach the forgotten-PIN reset."""
        return (
            state.secret
            and ctx.session.customer_id is not None
            and not state.name.startswith("pin.")
            and FORGOT_PIN in self.table
        )

    def _with_care(self, ctx: Ctx, screen: Screen, code: str) -> Screen:
        """A message that sends the customer to customer care says how to reach it."""
        if not self.contacts.care_phone or not _mentions_care(code):
            return screen
        line = ctx.t("ussd.help.care_line", care=self.contacts.care_phone)
        return Screen(screen.text + "\n" + line, end=screen.end)

    async def _goto_root(self, ctx: Ctx) -> Screen:
        ctx.session.history.clear()
        ctx.session.data.clear()
        ctx.session.state = MAIN_MENU if ctx.session.customer_id is not None else WELCOME
        return await self._render(ctx)

    async def _render(self, ctx: Ctx, *, retry: bool = True) -> Screen:
        try:
            screen = await self.table[ctx.session.state].render(ctx)
        except KibetiError as exc:
            code = _code_of(exc)
            if code == "service_unavailable":
                log.warning("ussd: service unavailable: %s", getattr(exc, "missing", exc))
            if code not in TERMINAL_ERRORS and retry and ctx.session.history and has(f"error.{code}"):
                # e.g. an amount the quote refuses: back to the screen that asked for it
                ctx.session.state = ctx.session.history.pop()
                ctx.flash = (code, dict(getattr(exc, "values", {}) or {}))
                for refused in ("amount", "describe", "quote"):  # nothing to resume: it was refused
                    ctx.data.pop(refused, None)
                return await self._render(ctx, retry=False)
            final = code if code in TERMINAL_ERRORS else "generic"
            return self._with_care(ctx, ctx.end(f"error.{final}"), final)
        if ctx.flash is not None and not screen.end:
            code, values = ctx.flash
            flash = ctx.t(f"error.{code}", **values)
            if code in WRONG_PIN and self._forgot_pin_offered(ctx, self.table[ctx.session.state]):
                flash += "\n" + ctx.t("ussd.pin.forgot_hint")
            text = flash + "\n" + screen.text
            if len(text) > SCREEN_LIMIT:  # keep the error and the prompt (the last line)
                text = flash + "\n" + screen.text.rsplit("\n", 1)[-1]
            screen = Screen(text, end=False)
        return screen

    async def _finish(self, ctx: Ctx, screen: Screen) -> Screen:
        session = ctx.session
        screen = Screen(fit(screen.text), end=screen.end)
        session.hops += 1
        session.last_response = screen.text
        state = self.table.get(session.state)
        writes = Writes()  # applied together: one Redis round trip
        if screen.end:  # done, declined or refused: nothing to resume (a dropped call never gets here)
            session.close()  # kept until its TTL: a retried final hop gets this answer again
            writes.save = session
            writes.resume_delete(session.phone)
        else:
            writes.save = session
            refused = ctx.flash is not None and not (state is not None and state.secret)
            if state is not None and state.resumable and (refused or not session.data.get("describe")):
                # no amount yet ("Continue your purchase of ?"), or the one typed was refused:
                # only an operation that was valid when dropped is offered again
                writes.resume_delete(session.phone)
            elif state is not None and state.resumable:
                history = list(session.history)
                point = ResumePoint(session.state, dict(session.data), history, saved_at=self.now())
                writes.resume_save(session.phone, point)
            elif session.state == MAIN_MENU:
                writes.resume_delete(session.phone)
        await self.store.write(writes)
        telemetry.count("ussd.screen", state=session.state, end="yes" if screen.end else "no")
        return screen
