"""Every screen, in both languages, with the longest plausible values, fits 160 characters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from channels.ussd.engine import TERMINAL_ERRORS, Ctx, Engine
from channels.ussd.screens import SCREEN_LIMIT
from channels.ussd.session import MemorySessionStore, UssdSession
from channels.ussd.states import TABLE
from core.flows.types import AccountStatus, BalanceLine, QuoteView, StatementLine
from core.i18n import translate
from core.i18n.catalog import LOCALE_DIR
from core.money import Asset, Money
from tests.unit.ussd.fakes import FakeFlows

LANGUAGES = ["en", "sw"]
BIG = {
    Asset.KES: Money.of("9999999.99", Asset.KES),
    Asset.BTC: Money.of("21.12345678", Asset.BTC),
    Asset.USDT_ERC20: Money.of("1234567.123456", Asset.USDT_ERC20),
    Asset.USDT_TRC20: Money.of("1234567.123456", Asset.USDT_TRC20),
}
LONG_VALUES = {
    "name": "Wanjiku",  # first names are cut to 20 in the flows
    "code": "*483*123#",
    "asset": "USDT-TRC20",
    "currency": "USDT",
    "balance": "USDT 1,234,567.123456",
    "amount": "USDT 1,234,567.123456",
    "pay": "USDT 1,234,567.123456",
    "get": "KES 159,876,543.00",
    "fee": "USDT 12,345.123456",
    "rate": "1 BTC=KES 12,345,678.90",
    "seconds": "60",
    "who": "Wanjiku Kamau Njoroge Ot",
    "phone": "0712345678",
    "days": "7",
    "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "operation": "",
    "detail": "USDT 1,234,567.123456 -> Wanjiku Kamau Njoroge",
    "status": "haijathibitishwa (Kiwango 2)",
    "left": "2",
    "minutes": "720",
    "hours": "24",
    "per_tx": "KES 9,999,999.99",
    "daily": "KES 9,999,999.99",
    "used": "KES 9,999,999.99",
    "minimum": "KES 10.00",
    "limit": "KES 9,999,999.99",
    "remaining": "KES 9,999,999.99",
    "max": "USDT 1,234,567.123456",  # issue 19: the most allowed, in the asset typed
    "kept": "KES 0.99",
    "how": " Ijayo: picha za kitambulisho na selfie mtandaoni, Kiwango 2.",  # the longest ussd.kyc.next
    "after": "KES 9,999,999.99",
    "label": "Binance Main",
    "network": "TRC20",
    "tail": "Rv8x",
}


class LongFlows(FakeFlows):
    async def balances(self, *, customer_id: int) -> list[BalanceLine]:
        return [BalanceLine(a, m, Money.of("159876543.21", Asset.KES)) for a, m in BIG.items()]

    def _quote(
        self, cid: int, kind: str, pay: Money, receive: Money, extra: str = "", fee: Money | None = None
    ) -> QuoteView:
        view = QuoteView(
            id="123456789", kind=kind, pay=BIG[Asset.USDT_TRC20], receive=Money.of("159876543", Asset.KES),
            fee=Money.of("12345.123456", Asset.USDT_TRC20), rate="1 BTC=KES 12,345,678.90", valid_seconds=60,
            expires_at=self.now + timedelta(seconds=60), demo=True,
        )  # fmt: skip
        self.quotes[view.id] = (view, cid, extra)
        return view

    async def mini_statement(self, *, customer_id: int, limit: int = 5) -> list[StatementLine]:
        at = datetime(2026, 12, 31, tzinfo=UTC)
        return [StatementLine(at, -BIG[Asset.USDT_ERC20], "quote_sell_x") for _ in range(limit)]

    async def account_status(self, *, customer_id: int) -> AccountStatus:
        big = BIG[Asset.KES]
        return AccountStatus("none", "Tier 2", big, big, big)


def _data(state: str) -> dict[str, object]:
    data: dict[str, object] = {
        "op": "s:1", "kind": state.split(".")[0], "asset": Asset.USDT_TRC20.value, "amount": "1234567.123456",
        "amount_asset": Asset.USDT_TRC20.value, "describe": LONG_VALUES["detail"],
        "to_phone": "+254712345678", "to_name": "Wanjiku Kamau Njoroge Otieno Achieng",
        "to": {"id": 1, "label": "Binance Main", "asset": Asset.USDT_TRC20.value,
               "address": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"},  # a saved address (withdraw.*)
    }  # fmt: skip
    if state.startswith("buy."):  # a buy amount is KES, whole shillings
        data.update(amount="250000", amount_asset=Asset.KES.value)
    if state.startswith("merchant."):  # a merchant is paid KES, from any balance
        data.update(amount="9999999.99", till="12345678", merchant_name="Wanjiku Kamau Njoroge Otieno")
    if state == "resume":
        data = {"resume": {"state": "send.confirm", "data": dict(data), "history": ["main"]}}
    return data


PIN_ERRORS = ["invalid_pin", "pin_trivial", "pin_mismatch", "pin_incorrect"]
WRONG_PIN = ["pin_incorrect", "pin_incorrect_left", "pin_incorrect_last"]
AMOUNT_ERRORS = ["invalid_amount", "amount_too_small", "amount_too_large", "insufficient_funds",
                 "amount_below_minimum", "amount_below_payout_minimum", "amount_below_fee"]  # fmt: skip


def flashable(state: str) -> list[str]:
    """The errors a state's handler (or the quote after it) can show above it."""
    if TABLE[state].secret:
        new_pin = state.startswith("reg.") or state in ("account.new_pin", "account.confirm_pin")
        return PIN_ERRORS if new_pin else ["invalid_pin", *WRONG_PIN]
    if state.endswith(".amount"):
        return AMOUNT_ERRORS
    special = {"reg.name": ["invalid_name"], "reg.national_id": ["invalid_national_id"],
               "reg.dob": ["invalid_dob", "dob_too_young"],
               "send.phone": ["invalid_phone", "self_send"]}  # fmt: skip
    return special.get(state, ["invalid_choice"])


# Quote screens asking for the PIN: a wrong PIN shows above the prompt alone when the whole quote
# (with the longest amounts, a BTC rate and the demo label) leaves no room for it.
SHOWN_BEFORE_THE_PIN = frozenset(
    {"buy.quote", "sell.quote", "send.confirm", "cashout.confirm", "withdraw.confirm"}
)


def test_flashable_codes_are_not_terminal() -> None:
    for state in TABLE:
        assert not set(flashable(state)) & TERMINAL_ERRORS


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("state", sorted(TABLE))
async def test_every_state_fits(state: str, language: str) -> None:
    flows = LongFlows()
    engine = Engine(table=TABLE, store=MemorySessionStore(), flows=flows, secret=b"s")
    for unregistered in (False, True):
        session = UssdSession(
            "s", "+254700000000", state, language=language, customer_id=1, data=_data(state)
        )
        if unregistered:
            session.data.pop("to_name", None)
        ctx = Ctx(session=session, flows=flows, service_code="*483*123#", secret=b"s")
        screen = await engine._render(ctx)
        assert len(screen.text) <= SCREEN_LIMIT, (state, len(screen.text), screen.text)
        if screen.end:
            continue
        for code in flashable(state):
            error = translate(f"error.{code}", language, **LONG_VALUES)
            flashed = error + "\n" + screen.text
            if state in SHOWN_BEFORE_THE_PIN and len(flashed) > SCREEN_LIMIT:
                # the customer read the quote one hop ago: the engine keeps the error and the prompt
                ctx.flash = (code, {k: v for k, v in LONG_VALUES.items() if k != "code"})
                flashed = (await engine._render(ctx)).text
                ctx.flash = None
                assert flashed.startswith(error) and flashed.endswith(screen.text.rsplit("\n", 1)[-1])
            assert len(flashed) <= SCREEN_LIMIT, (state, code, len(flashed), flashed)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_ussd_text_fits(language: str) -> None:
    codes = re.findall(
        r'msgid "((?:ussd|error)\.[a-z_.]+)"', (LOCALE_DIR / "en/LC_MESSAGES/messages.po").read_text()
    )
    assert len(codes) > 50
    for code in codes:
        text = translate(code, language, **LONG_VALUES)
        assert len(text) <= SCREEN_LIMIT, (code, len(text), text)


def test_swahili_catalog_is_complete() -> None:
    en = set(re.findall(r'msgid "([a-z_.]+)"', (LOCALE_DIR / "en/LC_MESSAGES/messages.po").read_text()))
    sw_text = (LOCALE_DIR / "sw/LC_MESSAGES/messages.po").read_text()
    for code in en:
        assert translate(code, "sw") != code, code
        assert f'msgid "{code}"' in sw_text, code
