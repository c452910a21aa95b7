"""The Notifier adapter: SMS through Africa's Talking, queued through the transactional outbox.

`send_sms` never talks to AT: it stages `channels.sms.jobs.send_sms` in the outbox (deduplicated by
the reference) and returns, so no USSD hop waits on an SMS. With no AT base URL configured the
Africa's Talking fake bootstrap wired (the embedded default, tests) is used instead.
"""

from __future__ import annotations

from typing import Any

from channels.sms.errors import SmsNotConfigured
from core.outbox import service as outbox
from core.ports import SECRET_PLACEHOLDER
from core.runtime import Runtime
from core.security import envelope

JOB = "channels.sms.jobs.send_sms"


def at_base_url(rt: Runtime) -> str:
    """Where the SDK should post: the configured URL, or the in-process fake's."""
    if rt.settings.at_base_url:
        return rt.settings.at_base_url
    if rt.sms_simulator_url is None:
        raise SmsNotConfigured("AT_BASE_URL is not set: SMS has nowhere to go")
    return rt.sms_simulator_url()


def keyring(rt: Runtime) -> envelope.Keyring:
    """The process's envelope keyring (derived once), shared with the staff API."""
    assert rt.keyring is not None  # Runtime.__post_init__ sets it
    return rt.keyring()


def secret_context(reference: str) -> str:
    """Binds a sealed secret to its SMS: it cannot be moved into another message's row."""
    return f"sms-secret:{reference}"


def render(rt: Runtime, text: str, sealed_secret: str, reference: str) -> str:
    """The text to send: a sealed secret is opened and put in only now."""
    if not sealed_secret:
        return text
    secret = envelope.open(sealed_secret, keyring=keyring(rt), context=secret_context(reference)).decode()
    return text.replace(SECRET_PLACEHOLDER, secret)


class OutboxSmsNotifier:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def send_sms(self, *, phone: str, text: str, reference: str) -> None:
        await self._enqueue(phone=phone, reference=reference, kwargs={"text": text})

    async def send_secret_sms(
        self, *, phone: str, text: str, secret: str, reference: str, session: Any = None
    ) -> None:
        """`text` holds SECRET_PLACEHOLDER; the secret (a one-time code) waits in the outbox sealed
        (no code at rest in clear) and the job renders it when it sends. With `session`, the SMS is
        staged in the caller's transaction (which commits it with the code's row)."""
        sealed = envelope.seal(secret, keyring=keyring(self.rt), context=secret_context(reference))
        kwargs = {"text": text, "sealed_secret": sealed}
        if session is not None:
            await self._stage(session, phone=phone, reference=reference, kwargs=kwargs)
            return
        await self._enqueue(phone=phone, reference=reference, kwargs=kwargs)

    async def _enqueue(self, *, phone: str, reference: str, kwargs: dict[str, str]) -> None:
        async with self.rt.session_factory() as session:
            await self._stage(session, phone=phone, reference=reference, kwargs=kwargs)
            await session.commit()

    async def _stage(self, session: Any, *, phone: str, reference: str, kwargs: dict[str, str]) -> None:
        await outbox.enqueue(
            session=session,
            job=JOB,
            kwargs={"phone": phone, **kwargs, "reference": reference},
            dedupe_key=f"sms:{reference}"[:160],
            queue="default",
        )


def build(runtime: Runtime) -> OutboxSmsNotifier:
    return OutboxSmsNotifier(runtime)
