"""Fuzz a linked customer's chat in the middle of a sale (a quote waiting for the PIN): random and
malformed updates, forged button data, 5,000-character and emoji answers, photos at the PIN step.
Never a 5xx, never money moved, never a traceback in the chat; the real PIN still works after."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx

from core.i18n import translate
from core.payments.models import MpesaCollection, Payout
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from simulators.telegram_bot_api import DoubleServer
from tests.e2e.telegram.conftest import SECRET, post_update, register, wait_for
from tests.e2e.telegram.test_journeys_http import count, linked_user, quote_token, type_pin
from tests.e2e.telegram.test_webhook_http import _mutate
from tests.e2e.ussd.conftest import balance_of, fund, refresh_rates


def _forged(rng: random.Random, token: str) -> str:
    choices = [
        f"q:{token}:y", f"q:{token[::-1]}:r", f"q:{token}:r\n", "q:00000000:x", "a:sell:9", "a:wd:-1", "a:nope:1",
        "st:999", "st:-1", "l:en", "l:xx", "m:", "m:bal ", "m:pin;", "\u202em:bal", "💸", "a" * 64,
        "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(1, 64))),
    ]  # fmt: skip
    return rng.choice(choices)


async def test_a_linked_chat_mid_sale_survives_anything(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking
) -> None:
    rt = tg_runtime
    await refresh_rates(rt)
    phone = "+254712000501"
    await register(rt, phone)
    await fund(rt, phone, "50", "USDT-TRC20")
    user = await linked_user(rt, client, bot_api, at_fake, phone, 6660501)
    await user.tap("m:sell")
    await user.tap("a:sell:2")
    token = await quote_token((await user.say("10"))[0])

    rng = random.Random(1414)
    bodies: list[dict[str, Any]] = []
    for _ in range(60):
        bodies.append(user.callback(_forged(rng, token)))
    for text in ("x" * 5000, "💸🇰🇪 habari 👋🏾", "12345", "0000", " 4826 5", "١٢٣٤", "/start@other_bot"):
        bodies.append(user.message(text=text))
    bodies.append(user.message(photo=[{"file_id": "p1", "file_unique_id": "pu1", "width": 90, "height": 90}]))
    for _ in range(60):
        bodies.append(_mutate(rng, rng.choice([user.callback("m:bal"), user.message(text="hello")])))
    statuses = []
    for body in bodies:
        response = await client.post(
            f"/telegram/{SECRET}", content=json.dumps(body).encode(),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "content-type": "application/json"},
        )  # fmt: skip
        statuses.append(response.status_code)
    assert [s for s in statuses if s >= 500] == []

    # everything queued is handled before this /start's answer
    seen = len(bot_api.double.sent_to(user.user_id))
    await post_update(
        client, user.message(text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    )
    menu = translate("telegram.menu", "en")
    await wait_for(
        lambda: any(c.params.get("text") == menu for c in bot_api.double.sent_to(user.user_id)[seen:]),
        "the /start after the fuzz",
    )
    sent = [str(c.params.get("text", "")) for c in bot_api.double.sent_to(user.user_id)]
    assert not [t for t in sent if "Traceback" in t or "Exception" in t]
    assert await count(rt, Payout) == 0 and await count(rt, MpesaCollection) == 0
    assert await balance_of(rt, phone, "USDT-TRC20") == "50.000000"

    # the customer can still sell for real afterwards
    user.seen = len(bot_api.double.sent_to(user.user_id))
    await user.tap("m:sell")
    await user.tap("a:sell:2")
    quote = await user.say("10")
    assert "Offer valid until" in quote[-1].params["text"], [c.params.get("text") for c in quote]
    [sold] = await type_pin(user, "4826")
    assert sold.params["text"].startswith("Sold.")
    assert await count(rt, Payout) == 1
