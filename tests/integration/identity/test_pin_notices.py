"""PIN notices: staged in the transaction that changed the PIN, sent by the outbox job
(core.identity.jobs, the worker's runtime) through notices.send, which takes what it needs as
arguments, in the customer's language; a row staged under the job's old path still sends."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import runtime as runtime_module
from core.clock import FixedClock
from core.config import Settings
from core.i18n import translate
from core.identity import notices
from core.identity import service as identity
from core.outbox.models import OutboxJob
from core.outbox.service import resolve_job
from core.runtime import Runtime
from tests.fakes.notifier import FakeNotifier
from webapp.queues import InProcessJobQueue

Factory = async_sessionmaker[AsyncSession]
PHONE = "+254712345670"


async def _staged_notice(factory: Factory) -> tuple[int, OutboxJob]:
    async with factory() as session:
        customer = await identity.register_customer(
            session=session, phone=PHONE, name="Wanjiru", national_id="23456789", language="sw",
            pin="4821", clock=FixedClock(),
        )  # fmt: skip
        await notices.stage(session=session, customer=customer, code=notices.PIN_CHANGED, reference="t1")
        await session.commit()
        row = (await session.scalars(select(OutboxJob).where(OutboxJob.job == notices.JOB))).one()
    return customer.id, row


async def test_send_takes_what_it_needs(session_factory: Factory) -> None:
    customer_id, row = await _staged_notice(session_factory)
    notifier = FakeNotifier()
    await notices.send(session_factory=session_factory, notifier=notifier, shortcode="*483*1#", **row.kwargs)
    assert notifier.texts_to(PHONE) == [translate(notices.PIN_CHANGED, "sw", code="*483*1#")]
    assert row.kwargs["customer_id"] == customer_id


@pytest.mark.parametrize("job", [notices.JOB, "core.identity.notices.send_pin_notice"])
async def test_the_job_sends_with_the_installed_runtime(session_factory: Factory, job: str) -> None:
    _, row = await _staged_notice(session_factory)
    notifier = FakeNotifier()
    rt = Runtime(settings=Settings(kibeti_env="test"), session_factory=session_factory, clock=FixedClock(),
                 queue=InProcessJobQueue(), notifier=notifier)  # fmt: skip
    previous = runtime_module._current
    runtime_module.install(rt)  # what the worker entry point does
    try:
        await resolve_job(job)(**row.kwargs)
    finally:
        runtime_module._current = previous
    assert notifier.texts_to(PHONE) == [translate(notices.PIN_CHANGED, "sw", code=rt.settings.at_shortcode)]
