"""Flood control in the sending path (issue 14 item 6): a 429 with retry_after is waited out and the
request made again; past the retries the RetryAfter reaches the caller; a PIN message's deletion
never queues behind a chat's messages; messages to one chat keep their order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from channels.telegram.pacing import PACED, ChatPacing, SharedBucket
from simulators.telegram_bot_api import DoubleServer

TOKEN = "123456:TEST-token"


def _bot(server: DoubleServer, pacing: ChatPacing) -> ExtBot[int]:
    return ExtBot(TOKEN, base_url=server.base_url, rate_limiter=pacing)


async def test_a_429_is_waited_out_and_sent_again(bot_api: DoubleServer) -> None:
    bot_api.double.fail["sendMessage"] = (429, "Too Many Requests: retry after 1", {"retry_after": 1})
    async with _bot(bot_api, ChatPacing(max_retries=2)) as bot:
        message = await bot.send_message(chat_id=42, text="receipt")
    assert message.text == "receipt"
    assert len(bot_api.double.calls_to("sendMessage", chat_id=42)) == 2  # refused once, then sent


async def test_past_its_retries_the_429_reaches_the_caller(bot_api: DoubleServer) -> None:
    bot_api.double.fail["sendMessage"] = (429, "Too Many Requests: retry after 1", {"retry_after": 1})
    async with _bot(bot_api, ChatPacing(max_retries=0)) as bot:
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(chat_id=42, text="receipt")
    assert refused.value.retry_after == timedelta(seconds=1)  # no DeprecationWarning (PTB_TIMEDELTA)


async def test_one_chats_messages_keep_their_order_and_deletes_are_not_paced(bot_api: DoubleServer) -> None:
    assert "deleteMessage".startswith(PACED) is False and "sendPhoto".startswith(PACED)
    pacing = ChatPacing(chat_interval=0.01, chat_burst=1)
    async with _bot(bot_api, pacing) as bot:
        for n in range(5):
            await bot.send_message(chat_id=7, text=f"m{n}")
        await asyncio.gather(*(bot.send_message(chat_id=100 + n, text="x") for n in range(10)))
        assert await bot.delete_message(chat_id=7, message_id=1)
    assert [c.params["text"] for c in bot_api.double.calls_to("sendMessage", chat_id=7)] == [
        f"m{n}" for n in range(5)
    ]
    assert len(bot_api.double.calls_to("sendMessage")) == 15


async def test_workers_share_one_overall_budget_in_redis(redis_url: str, bot_api: DoubleServer) -> None:
    """Two processes' pacers (two RQ workers' notice bots) draw on the same 30 a second in Redis: once
    one took the burst, the other is told to wait, and a message still goes out after the wait."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        # one token every 100 s after a burst of 3: no refill while the test runs, however slow the machine
        first, second = (SharedBucket(client, 0.01, burst=3, key="test:pace") for _ in range(2))
        assert [await first.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
        assert await second.try_take() > 0, "the other process's burst is spent for this one too"
        async with _bot(bot_api, ChatPacing(per_second=3, shared_redis=client)) as bot:
            assert (await bot.send_message(chat_id=9, text="receipt")).text == "receipt"
    finally:
        await client.aclose()
