"""The webhook: both secrets or 403 (the body never logged), and no update shape ever gets a 5xx or
a traceback in a chat: a fuzz of random and malformed updates, then the bot still answers."""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import httpx
import pytest

from core.runtime import Runtime
from simulators.telegram_bot_api import DoubleServer
from tests.e2e.telegram.conftest import SECRET, TelegramUser, post_update, wait_for

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MARKER = "body-marker-+254712000555"


@pytest.mark.parametrize(
    ("path_secret", "header"),
    [
        (SECRET, None),  # the path alone is not enough
        (SECRET, "wrong"),
        ("wrong", SECRET),  # nor the header alone
        ("", SECRET),
        (SECRET, SECRET + "x"),
    ],
)
async def test_wrong_or_missing_secret_is_403_and_not_logged(
    tg_runtime: Runtime,
    client: httpx.AsyncClient,
    bot_api: DoubleServer,
    caplog: pytest.LogCaptureFixture,
    path_secret: str,
    header: str | None,
) -> None:
    user = TelegramUser(client, bot_api.double, user_id=5552001)
    update = user.message(
        text=f"/start {MARKER}", entities=[{"type": "bot_command", "offset": 0, "length": 6}]
    )
    headers = {SECRET_HEADER: header} if header is not None else {}
    with caplog.at_level(logging.DEBUG):
        response = await client.post(f"/telegram/{path_secret}", json=update, headers=headers)
    assert response.status_code in (403, 404, 405) if not path_secret else response.status_code == 403
    assert MARKER not in caplog.text
    assert bot_api.double.calls == [], "a refused update reaches no bot"


async def test_the_right_secrets_are_answered_200_at_once(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer
) -> None:
    user = TelegramUser(client, bot_api.double, user_id=5552002)
    [welcome] = await user.command("/start")
    assert welcome.params["chat_id"] == str(user.user_id)


def _valid_updates(user: TelegramUser) -> list[dict[str, Any]]:
    chat = {"id": user.user_id, "type": "private"}
    group = {"id": -100123, "type": "supergroup", "title": "Chama"}
    return [
        user.message(text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]),
        user.message(text="x" * 5000),
        user.message(text="💸🇰🇪 habari 👋🏾"),
        user.message(sticker={"file_id": "s1", "file_unique_id": "u1", "width": 512, "height": 512,
                              "is_animated": False, "is_video": False, "type": "regular"}),
        user.message(photo=[{"file_id": "p1", "file_unique_id": "pu1", "width": 90, "height": 90}]),
        user.message(document={"file_id": "d1", "file_unique_id": "du1", "file_name": "id.pdf"}),
        user.message(contact={"phone_number": "+254712000999", "first_name": "X"}),  # no user_id
        user.message(contact={"phone_number": "not a number at all", "first_name": "X", "user_id": user.user_id}),
        user.message(text="/nosuchcommand", entities=[{"type": "bot_command", "offset": 0, "length": 14}]),
        {"update_id": 1, "edited_message": {"message_id": 3, "date": 1, "edit_date": 2, "chat": chat,
                                             "from": user.sender, "text": "/start"}},
        {"update_id": 2, "message": {"message_id": 4, "date": 1, "chat": group, "from": user.sender,
                                      "text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}},
        {"update_id": 3, "channel_post": {"message_id": 5, "date": 1, "chat": {"id": -1009, "type": "channel"},
                                           "text": "hi"}},
        {"update_id": 4, "inline_query": {"id": "iq1", "from": user.sender, "query": "balance", "offset": ""}},
        {"update_id": 5, "callback_query": {"id": "c1", "chat_instance": "ci", "from": user.sender,
                                             "data": "m:bal;DROP TABLE", "message": {"message_id": 1, "date": 1,
                                                                                      "chat": chat, "text": "x"}}},
        {"update_id": 6, "callback_query": {"id": "c2", "chat_instance": "ci", "from": user.sender,
                                             "data": "\u0000" * 64}},
        {"update_id": 7, "callback_query": {"id": "c3", "chat_instance": "ci", "from": user.sender,
                                             "game_short_name": "g"}},
        {"update_id": 8, "my_chat_member": {"chat": chat, "from": user.sender, "date": 1,
                                             "old_chat_member": {"status": "member", "user": user.sender},
                                             "new_chat_member": {"status": "kicked", "user": user.sender,
                                                                 "until_date": 0}}},
    ]  # fmt: skip


def _junk(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.randint(-(2**63), 2**63)
    if kind == 1:
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(0, 40)))
    if kind == 2:
        return None
    if kind == 3:
        return rng.random() > 0.5
    if kind == 4:
        return rng.random() * 1e9
    if kind == 5:
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["update_id", "message", "chat", "from", "id", "text", "data", "callback_query", "contact",
            "type", "entities", "user_id", "phone_number", "date", "message_id", rng.choice("abcxyz")]  # fmt: skip
    return {rng.choice(keys): _junk(rng, depth + 1) for _ in range(rng.randrange(5))}


def _mutate(rng: random.Random, value: Any) -> Any:
    if isinstance(value, dict) and value:
        copy = dict(value)
        key = rng.choice(list(copy))
        action = rng.randrange(3)
        if action == 0:
            del copy[key]
        elif action == 1:
            copy[key] = _junk(rng, 2)
        else:
            copy[key] = _mutate(rng, copy[key])
        return copy
    if isinstance(value, list) and value:
        return [_mutate(rng, v) for v in value]
    return _junk(rng, 3)


async def test_fuzzed_updates_never_get_a_5xx(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(1414)
    user = TelegramUser(client, bot_api.double, user_id=5552003)
    bodies: list[bytes] = [json.dumps(u).encode() for u in _valid_updates(user)]
    for _ in range(150):
        base = rng.choice(_valid_updates(user))
        bodies.append(json.dumps(_mutate(rng, _mutate(rng, base))).encode())
    for _ in range(50):
        bodies.append(json.dumps(_junk(rng)).encode())
    bodies += [b"", b"not json", b"[]", b"null", b"{" * 5000, b'{"update_id": "1"', "ü".encode("latin-1")]

    statuses = []
    for body in bodies:
        response = await client.post(
            f"/telegram/{SECRET}",
            content=body,
            headers={SECRET_HEADER: SECRET, "content-type": "application/json"},
        )
        statuses.append(response.status_code)
    assert [s for s in statuses if s >= 500] == []
    valid = len(_valid_updates(user))
    assert statuses[:valid] == [200] * valid  # every real update shape is taken (then answered or ignored)
    assert set(statuses) <= {200, 400}  # 400: not JSON, or not an Update PTB can read

    # The bot survived all of it: a plain /start is still answered, after everything queued before it.
    before = len(bot_api.double.sent_to(user.user_id))
    response = await post_update(
        client, user.message(text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    )
    assert response.status_code == 200
    await wait_for(
        lambda: any("share your phone number" in str(c.params.get("text")) for c in bot_api.double.sent_to(user.user_id)[before:]),
        "the bot to answer /start after the fuzz",
    )  # fmt: skip
    sent = [str(c.params.get("text", "")) for c in bot_api.double.calls if c.method == "sendMessage"]
    assert not [t for t in sent if "Traceback" in t or "Error" in t]
    assert not bot_api.double.calls_to("sendMessage", chat_id=-100123), "group chats get no answer"
    assert not bot_api.double.calls_to("sendMessage", chat_id=-1009), "channels get no answer"
