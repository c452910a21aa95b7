"""The Notifier adapter: SMS through Africa's Talking, queued through the transactional outbox.

`send_sms` never talks to AT: it stages `channels.sms.jobs.send_sms` in the outbox (deduplicated by
the reference) and returns, so no USSD hop waits on an SMS. With no AT base URL configured the
local Africa's Talking fake is started in-process (the embedded default) and used instead.
"""

from __future__ import annotations

from channels.sms import fake
from core.outbox import service as outbox
from core.runtime import Runtime

JOB = "channels.sms.jobs.send_sms"
_FAKE_KEY = "at_fake_url"


def at_base_url(rt: Runtime) -> str:
    """Where the SDK should post: the configured URL, or the in-process fake's."""
    if rt.settings.at_base_url:
        return rt.settings.at_base_url
    url = rt.extras.get(_FAKE_KEY)
    if not isinstance(url, str):
        url = fake.shared_server().url
        rt.extras[_FAKE_KEY] = url
    return url


class OutboxSmsNotifier:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def send_sms(self, *, phone: str, text: str, reference: str) -> None:
        async with self.rt.session_factory() as session:
            await outbox.enqueue(
                session=session,
                job=JOB,
                kwargs={"phone": phone, "text": text, "reference": reference},
                dedupe_key=f"sms:{reference}"[:160],
                queue="default",
            )
            await session.commit()


def build(runtime: Runtime) -> OutboxSmsNotifier:
    return OutboxSmsNotifier(runtime)
