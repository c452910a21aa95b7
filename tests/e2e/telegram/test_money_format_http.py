"""Money in chat reads as on every channel that writes text (USSD, SMS): core.money.format_money in
the customer's language ("BTC 0.0003", "USDT 1,234.50", "KES 1,194.00"), never the web's full-scale
"0.00030000 BTC"; a transfer between customers is named by its direction in the statement, as on
USSD and in the app's history (en and sw)."""

from __future__ import annotations

import httpx
import pytest

from core.flows import accounts
from core.i18n import translate
from core.identity import service as identity
from core.ledger import service as ledger
from core.money import Asset, Money, format_money
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from simulators.telegram_bot_api import DoubleServer
from tests.e2e.telegram.conftest import register
from tests.e2e.telegram.test_journeys_http import linked_user, verify
from tests.e2e.ussd.conftest import fund, refresh_rates


async def _send(rt: Runtime, from_phone: str, to_phone: str, amount: Money) -> None:
    async with rt.session_factory() as session:
        sender = await identity.get_customer_by_phone(session=session, phone=from_phone)
        receiver = await identity.get_customer_by_phone(session=session, phone=to_phone)
        assert sender is not None and receiver is not None
        await ledger.transfer(
            session=session, idempotency_key=f"tg-money-{from_phone}", kind="send", amount=amount,
            from_account_id=await accounts.wallet_account_id(session, sender.id, amount.asset),
            to_account_id=await accounts.wallet_account_id(session, receiver.id, amount.asset),
        )  # fmt: skip
        await session.commit()


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_crypto_in_chat_is_written_as_on_ussd_and_sms(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking,
    language: str,
) -> None:  # fmt: skip
    rt = tg_runtime
    await refresh_rates(rt)
    phone, friend = (
        ("+254712000391", "+254712000392") if language == "en" else ("+254712000393", "+254712000394")
    )
    await register(rt, phone, language=language)
    await register(rt, friend, name="Otieno Ouma", language=language)
    await verify(rt, phone)
    await fund(rt, phone, "1234.5", "USDT-TRC20")
    await fund(rt, friend, "0.0005", "BTC")
    await _send(rt, friend, phone, Money.of("0.0003", Asset.BTC))
    user = await linked_user(
        rt, client, bot_api, at_fake, phone, 6660091 if language == "en" else 6660092, language
    )

    def house(amount: str, asset: Asset) -> str:
        return format_money(Money.of(amount, asset), language)

    [balances] = await user.tap("m:bal")
    text = balances.params["text"]
    assert house("0.0003", Asset.BTC) in text and house("1234.5", Asset.USDT_TRC20) in text, text
    assert "0.00030000" not in text and "1234.500000" not in text, text
    await user.tap("m:sell")
    [ask] = await user.tap("a:sell:0")
    assert house("0.0003", Asset.BTC) in ask.params["text"], ask.params["text"]
    [quote] = await user.say("0.0001")
    assert house("0.0001", Asset.BTC) in quote.params["text"], quote.params["text"]
    await user.tap("m:menu")
    [statement] = await user.tap("m:st")
    received = translate("ussd.kind.received", language)
    assert f"+{house('0.0003', Asset.BTC)}  {received}" in statement.params["text"], statement.params["text"]
    assert not statement.params["text"].rstrip().endswith("send"), statement.params["text"]
