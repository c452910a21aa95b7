"""One chat's updates across API processes (channels.telegram.ordering with Redis): two independent
bots (each its own Runtime, Redis client and PTB Application, as two uvicorn workers have) take one
user's updates in turn, and each is handled once, in order, never two at once; and an update whose
turn-taking script ran in Redis but whose answer was lost (the connection dropped before the reply) is
handled once, not dropped as a redelivery of itself. Real Redis; the lost answer is a TCP proxy in
front of it that swallows one reply."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio
from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from channels.telegram.bot import build_application
from channels.telegram.ordering import PerChatOrder
from core.config import Settings
from core.runtime import Runtime
from core.telegram.store import RedisChatStates
from simulators.telegram_bot_api import DoubleServer
from tests.integration.telegram.conftest import close_runtime
from webapp.bootstrap import build_runtime

TOKEN = "123456:TEST-token"  # the bot_api fixture's
USER = 4242
SEEN = "kibeti:tg:update:"


def _update(update_id: int, user_id: int = USER) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id, "date": 1, "text": f"m{update_id}",
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": "U"},
            },
        },
        None,
    )  # fmt: skip


async def _until(what: str, predicate: Callable[[], Any], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


class Recorder:
    """Stands in for the bot's handlers (group -1, stopping the rest): records each update handled, by
    which bot, and how many of the user's were being handled at once."""

    def __init__(self) -> None:
        self.handled: list[tuple[int, str]] = []
        self.running = 0
        self.most = 0

    def install(self, application: Application, name: str) -> None:  # type: ignore[type-arg]
        async def record(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert isinstance(update, Update)
            self.running += 1
            self.most = max(self.most, self.running)
            await asyncio.sleep(0.03 if not self.handled else 0.002)  # the first is slow: others pile up
            self.handled.append((update.update_id, name))
            self.running -= 1
            raise ApplicationHandlerStop

        application.add_handler(TypeHandler(Update, record), group=-1)


async def _bot(settings: Settings) -> tuple[Runtime, Application]:  # type: ignore[type-arg]
    rt = build_runtime(settings)
    application = build_application(rt)
    await application.initialize()
    await application.start()
    return rt, application


@pytest.fixture
def settings(sqlite_url: str, redis_url: str, bot_api: DoubleServer) -> Settings:
    return Settings(
        kibeti_env="test", database_url=sqlite_url, redis_url=redis_url,
        telegram_bot_token=TOKEN, telegram_api_base_url=bot_api.base_url,
    )  # fmt: skip


async def _stop(*bots: tuple[Runtime, Application]) -> None:  # type: ignore[type-arg]
    for rt, application in bots:
        await application.stop()
        await application.shutdown()
        await close_runtime(rt)


async def test_two_processes_take_one_chats_updates_in_turn_each_once_in_order(
    settings: Settings, redis_client: Any
) -> None:
    recorder = Recorder()
    a, b = await _bot(settings), await _bot(settings)
    recorder.install(a[1], "a")
    recorder.install(b[1], "b")
    ids = list(range(7001, 7013))
    try:
        for n, update_id in enumerate(ids):
            application = (a, b)[n % 2][1]  # Telegram's deliveries land on either process
            await application.update_queue.put(_update(update_id))

            async def reached_redis(update_id: int = update_id) -> bool:
                # Telegram sends the next once this one got its 200; by then it has asked Redis for its turn
                return bool(
                    await redis_client.exists(f"{SEEN}{update_id}")
                    or await redis_client.zscore(f"kibeti:tg:queue:u{USER}", str(update_id)) is not None
                )

            await _until(f"update {update_id} to reach Redis", reached_redis)
        await a[1].update_queue.put(_update(ids[3]))  # a redelivery of one B took, landing on A

        async def all_handled() -> bool:
            return len(recorder.handled) >= len(ids)

        await _until("every update handled", all_handled)
        await _until("both bots idle", _idle(a[1], b[1]))
    finally:
        await _stop(a, b)
    assert [update_id for update_id, _ in recorder.handled] == ids, "lost, doubled or out of order"
    assert recorder.most == 1, "two processes handled the user's updates at the same time"
    assert not await redis_client.exists(f"kibeti:tg:lease:u{USER}"), "the chat was not released"


def _idle(*applications: Application) -> Callable[[], Any]:  # type: ignore[type-arg]
    async def idle() -> bool:
        await asyncio.sleep(0.05)
        return all(
            app.update_queue.empty() and app.update_processor.current_concurrent_updates == 0
            for app in applications
        )

    return idle


class LosingProxy:
    """A TCP proxy in front of Redis that, once, lets a command containing `marker` through to Redis
    and drops Redis's answer (closes the client's connection), as a timeout after Redis acted does."""

    def __init__(self, upstream: tuple[str, int], marker: bytes) -> None:
        self.upstream, self.marker = upstream, marker
        self.dropped = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> LosingProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        losing = False

        async def to_redis() -> None:
            nonlocal losing
            while data := await reader.read(65536):
                if self.dropped == 0 and self.marker in data and b"EVALSHA" in data.upper():
                    losing = True
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def to_client() -> None:
            nonlocal losing
            while data := await up_reader.read(65536):
                if losing and not data.startswith(b"-NOSCRIPT"):
                    self.dropped += 1  # Redis ran it; the client never hears
                    writer.close()
                    up_writer.close()
                    return
                losing = False
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(to_redis(), to_client(), return_exceptions=True)


async def test_an_update_whose_turn_answer_was_lost_is_handled_once(
    settings: Settings, redis_url: str
) -> None:
    """Redis ran the update's check (marked it, read the state) and the connection dropped before the
    answer: redis-py asks again, and the update is handled, once (it was dropped as already seen)."""
    host_port, _, db = redis_url.removeprefix("redis://").partition("/")
    host, _, port = host_port.partition(":")
    update_id = 8101
    proxy = await LosingProxy((host, int(port or 6379)), f"{SEEN}{update_id}".encode()).start()
    recorder = Recorder()
    bot = await _bot(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{proxy.port}/{db}"}))
    recorder.install(bot[1], "a")
    try:
        await bot[1].update_queue.put(_update(update_id))
        await bot[1].update_queue.put(
            _update(update_id + 1)
        )  # the user's next: once it is handled, so was the first

        async def next_handled() -> bool:
            return any(u == update_id + 1 for u, _ in recorder.handled)

        await _until("the user's next update handled", next_handled)
        await bot[1].update_queue.put(_update(update_id))  # and a real redelivery is still dropped
        await bot[1].update_queue.put(_update(update_id + 2))

        async def last_handled() -> bool:
            return any(u == update_id + 2 for u, _ in recorder.handled)

        await _until("the last update handled", last_handled)
    finally:
        await _stop(bot)
        await proxy.close()
    assert proxy.dropped == 1, "the proxy never dropped the answer: the test tested nothing"
    assert [u for u, _ in recorder.handled] == [update_id, update_id + 1, update_id + 2]


async def test_a_chat_whose_holder_died_is_drained_by_the_process_that_queued_behind_it(
    redis_client: Any, redis_url: str
) -> None:
    """Process A dies while handling the user's update (its lease neither released nor renewed); the
    update B queued behind it is not lost: once A's lease lapses, B takes the chat and handles it."""
    clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(2)]
    a, b = (PerChatOrder(states=RedisChatStates(c, lease_ms=300)) for c in clients)
    handled: list[int] = []

    class Bound:
        """What `bind` takes of an Application: its process_update and bot."""

        bot = None

        async def process_update(self, update: object) -> None:
            assert isinstance(update, Update)
            handled.append(update.update_id)

    for processor in (a, b):
        processor.bind(Bound())
        await processor.initialize()
    never = asyncio.Event()

    async def dies() -> None:
        await never.wait()

    async def handled_by_b() -> None:
        handled.append(9102)

    try:
        dying = asyncio.create_task(a.process_update(_update(9101), dies()))

        async def a_holds() -> bool:
            return bool(await redis_client.exists(f"kibeti:tg:lease:u{USER}"))

        await _until("A to hold the chat", a_holds)
        await b.process_update(_update(9102), handled_by_b())  # queued behind A
        assert handled == []
        dying.cancel()  # A dies mid-update
        await asyncio.gather(dying, return_exceptions=True)

        async def b_handled_it() -> bool:
            return handled == [9102]

        await _until("B to take the chat and handle the queued update", b_handled_it)
    finally:
        for processor in (a, b):
            await processor.shutdown()
        for client in clients:
            await client.aclose()
    assert not await redis_client.exists(f"kibeti:tg:lease:u{USER}"), "B released the chat"
