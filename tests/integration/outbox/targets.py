"""Job targets for the outbox runner tests (module-level, resolved by dotted path)."""

from __future__ import annotations

from core import runtime
from core.outbox.jobs import marks_row_done
from core.outbox.service import mark_done

calls: list[tuple[str, dict[str, object]]] = []


async def plain(note: str) -> None:
    calls.append(("plain", {"note": note}))


@marks_row_done
async def self_marking(note: str, outbox_id: int | None = None) -> None:
    """Marks its row done only when told to: the runner must leave the row to it either way."""
    calls.append(("self_marking", {"note": note, "outbox_id": outbox_id}))
    if note == "finish" and outbox_id is not None:
        async with runtime.get().session_factory() as session:
            await mark_done(session=session, outbox_id=outbox_id)
            await session.commit()
