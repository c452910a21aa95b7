"""Identity's outbox jobs (module-level, ids in): the worker entry point installs the runtime."""

from __future__ import annotations

from core import runtime
from core.identity import notices


async def send_pin_notice(customer_id: int, code: str, reference: str) -> None:
    """The PIN notice staged by `notices.stage` (JOB), sent with the runtime's notifier."""
    rt = runtime.get()
    await notices.send(
        session_factory=rt.session_factory,
        notifier=rt.notifier,
        shortcode=rt.settings.at_shortcode,
        customer_id=customer_id,
        code=code,
        reference=reference,
    )
