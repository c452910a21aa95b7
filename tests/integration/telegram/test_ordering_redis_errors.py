"""A Redis error at the bot's update_id check (channels.telegram.ordering.PerChatOrder): the webhook has
already answered Telegram 200, so the update is never sent again. The check is retried (the update
then handled once, in its user's order, other users' not held up); if Redis never answers the update
is not handled (it may be a redelivery of one already acted on), counted, and its user told to send it
again in their language."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import redis.asyncio
import redis.exceptions
from prometheus_client import REGISTRY
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from telegram import Update

from channels.telegram.ordering import PerChatOrder
from core import telemetry
from core.i18n import translate
from core.telegram.store import MemoryChatStates, RedisChatStates
from tests.integration.telegram.test_ordering import _feed
from webapp.observability.metrics import count_event


class FailingStates(MemoryChatStates):
    """The in-memory store, whose update_id check fails `failures` times for the update_ids given (all
    when None) as redis-py does when Redis is unreachable, then works."""

    def __init__(self, failures: int, update_ids: set[int] | None = None) -> None:
        super().__init__()
        self.failures = failures
        self.update_ids = update_ids
        self.calls: list[int] = []

    async def first_delivery_and_load(
        self, update_id: int, user_id: int
    ) -> tuple[bool, dict[str, Any] | None]:
        self.calls.append(update_id)
        if (self.update_ids is None or update_id in self.update_ids) and self.failures > 0:
            self.failures -= 1
            raise redis.exceptions.ConnectionError("Error 111 connecting to redis:6379. Connection refused.")
        return await super().first_delivery_and_load(update_id, user_id)


class RecordingBot:
    """Stands in for the Bot API (not for Redis): what the processor sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **_: Any) -> None:
        self.sent.append((chat_id, text))


def _update(update_id: int, user_id: int, bot: RecordingBot, language: str = "en") -> Update:
    update = Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id, "date": 1, "text": "hi",
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": "U", "language_code": language},
            },
        },
        None,
    )  # fmt: skip
    update.set_bot(bot)  # type: ignore[arg-type]
    return update


def _counted(reason: str) -> float:
    return REGISTRY.get_sample_value("kibeti_telegram_updates_unchecked_total", {"reason": reason}) or 0.0


async def test_a_redis_blip_at_the_check_is_retried_and_the_update_handled_once_in_order() -> None:
    bot = RecordingBot()
    states = FailingStates(failures=3, update_ids={80})
    processor = PerChatOrder(states=states, retry_delays=(0.05, 0.05, 0.05, 0.05))
    await processor.initialize()
    handled: list[int] = []

    async def handle(update_id: int) -> None:
        handled.append(update_id)

    tasks = await _feed(
        processor,
        [
            (_update(80, 41, bot), handle(80)),  # its check fails three times
            (_update(81, 41, bot), handle(81)),  # the same user's next waits for it
            (_update(90, 42, bot), handle(90)),  # another user's is not held up by the retries
        ],
    )
    await asyncio.sleep(0.02)
    assert handled == [90], "another user's update waited for the retries, or 41's overtook"
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert handled == [90, 80, 81], "the update was lost, handled twice or out of its user's order"
    assert states.calls.count(80) == 4 and states.calls.count(81) == 1
    assert bot.sent == [], "the user was told to send again an update that was handled"
    assert not processor._last


async def test_redis_never_answering_the_update_is_not_handled_counted_and_the_user_told() -> None:
    bot = RecordingBot()
    states = FailingStates(failures=1_000)
    processor = PerChatOrder(states=states, retry_delays=(0.01, 0.01))
    await processor.initialize()
    handled: list[int] = []
    events: list[tuple[str, dict[str, str]]] = []

    def sink(event: str, labels: dict[str, str]) -> None:
        events.append((event, labels))
        count_event(event, labels)

    async def handle(update_id: int) -> None:
        handled.append(update_id)

    before = _counted("ConnectionError")
    previous = telemetry._sink
    telemetry.install(sink)
    try:
        tasks = await _feed(
            processor, [(_update(80, 41, bot, "sw"), handle(80)), (_update(81, 43, bot), handle(81))]
        )
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    finally:
        telemetry.install(previous)
    assert results == [None, None], "the processor raised instead of giving up quietly"
    assert handled == [], "an update whose update_id was never checked ran (it may be a redelivery)"
    assert sorted(states.calls) == [80, 80, 80, 81, 81, 81], "not tried once, then once per retry delay"
    assert events == [("telegram.update_unchecked", {"reason": "ConnectionError"})] * 2
    assert _counted("ConnectionError") == before + 2
    assert sorted(bot.sent) == [
        (41, translate("telegram.redis_unavailable", "sw")),
        (43, translate("telegram.redis_unavailable", "en")),
    ]
    assert translate("telegram.redis_unavailable", "sw") != translate("telegram.redis_unavailable", "en")
    assert not processor._last


async def test_redis_down_at_a_chats_turn_across_processes_the_update_is_counted_and_the_user_told() -> None:
    """The same with the Redis turn-taking (a bound processor, as in production): Redis refusing every
    connection at the update's turn, the update is not handled, counted, and its user told."""
    with socket.socket() as probe:  # a port nothing listens on: every connect is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = redis.asyncio.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))
    processor = PerChatOrder(states=RedisChatStates(client), retry_delays=(0.01, 0.01))
    handled: list[int] = []

    class Bound:
        bot = None

        async def process_update(self, update: object) -> None:  # never reached: nothing is queued
            handled.append(-1)

    processor.bind(Bound())
    await processor.initialize()
    bot = RecordingBot()

    async def handle(update_id: int) -> None:
        handled.append(update_id)

    before = _counted("ConnectionError")
    previous = telemetry._sink
    telemetry.install(count_event)
    try:
        await asyncio.wait_for(processor.process_update(_update(85, 44, bot, "sw"), handle(85)), 5)
    finally:
        telemetry.install(previous)
        await processor.shutdown()
        await client.aclose()
    assert handled == [], "an update whose turn Redis never answered ran (it may be a redelivery)"
    assert _counted("ConnectionError") == before + 1
    assert bot.sent == [(44, translate("telegram.redis_unavailable", "sw"))]
