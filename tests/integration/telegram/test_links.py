"""core.telegram link use cases on both databases: a code is needed, one chat per customer and one
customer per Telegram user, unlink, unknown numbers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.config import Settings
from core.identity import service as identity
from core.identity.errors import CustomerNotFound, OtpExpired, OtpInvalid
from core.runtime import Runtime
from core.telegram.errors import NotLinked
from core.telegram.flows import TelegramLinks
from tests.fakes.notifier import FakeNotifier
from tests.integration.telegram.conftest import close_runtime
from webapp.bootstrap import build_runtime


@pytest.fixture
async def links(db_url: str, redis_url: str) -> AsyncIterator[TelegramLinks]:
    rt: Runtime = build_runtime(Settings(kibeti_env="test", database_url=db_url, redis_url=redis_url))
    rt.notifier = FakeNotifier()
    from core import runtime as runtime_module

    runtime_module.install(rt)
    async with rt.session_factory() as session:
        for phone, nid in (("+254712000201", "30000201"), ("+254712000202", "30000202")):
            await identity.register_customer(
                session=session, phone=phone, name="N", national_id=nid, language="en", pin="4826"
            )
        await session.commit()
    yield TelegramLinks(rt)
    await close_runtime(rt)


def _code(links: TelegramLinks) -> str:
    notifier = links.rt.notifier
    assert isinstance(notifier, FakeNotifier)
    return notifier.last_code()


async def test_a_chat_is_linked_only_with_the_sms_code(links: TelegramLinks) -> None:
    assert await links.send_code(phone="0712 000 201") == ("+254712000201", True)
    with pytest.raises(OtpInvalid):
        await links.confirm(telegram_user_id=11, chat_id=11, phone="+254712000201", code="not-it")
    assert await links.linked(telegram_user_id=11) is None
    linked = await links.confirm(telegram_user_id=11, chat_id=11, phone="+254712000201", code=_code(links))
    assert linked is not None and linked.phone == "+254712000201"
    assert (await links.linked(telegram_user_id=11)) == linked
    with pytest.raises(OtpExpired):  # single use
        await links.confirm(telegram_user_id=12, chat_id=12, phone="+254712000201", code=_code(links))


async def test_one_chat_per_customer_and_one_customer_per_user(links: TelegramLinks) -> None:
    await links.send_code(phone="+254712000201")
    await links.confirm(telegram_user_id=21, chat_id=21, phone="+254712000201", code=_code(links))
    await links.send_code(phone="+254712000201")  # the same customer from a new Telegram account
    await links.confirm(telegram_user_id=22, chat_id=22, phone="+254712000201", code=_code(links))
    assert await links.linked(telegram_user_id=21) is None
    await links.send_code(phone="+254712000202")  # that account now proves another number
    moved = await links.confirm(telegram_user_id=22, chat_id=22, phone="+254712000202", code=_code(links))
    assert moved is not None and moved.phone == "+254712000202"
    assert (await links.linked(telegram_user_id=22)) == moved
    await links.unlink(telegram_user_id=22)
    assert await links.linked(telegram_user_id=22) is None
    with pytest.raises(NotLinked):
        await links.unlink(telegram_user_id=22)


async def test_an_unknown_number_proves_itself_then_registers_and_links(links: TelegramLinks) -> None:
    """The code goes to an unregistered number too (it proves the SIM); the typed code links nothing
    until the chat has registered the number, then `link_registered` links it."""
    assert await links.send_code(phone="+254712999999", language="sw") == ("+254712999999", False)
    assert (
        await links.confirm(telegram_user_id=31, chat_id=31, phone="+254712999999", code=_code(links)) is None
    )
    assert await links.linked(telegram_user_id=31) is None
    with pytest.raises(CustomerNotFound):  # nothing registered yet
        await links.link_registered(telegram_user_id=31, chat_id=31, phone="+254712999999")
    async with links.rt.session_factory() as session:
        await identity.register_customer(
            session=session,
            phone="+254712999999",
            name="New",
            national_id="30009999",
            language="sw",
            pin="4826",
        )
        await session.commit()
    linked = await links.link_registered(telegram_user_id=31, chat_id=31, phone="+254712999999")
    assert linked.language == "sw" and (await links.linked(telegram_user_id=31)) == linked
