"""A callback is stored and applied in one transaction (`payouts.callbacks.receive`); when applying
fails, the raw row is still stored, unprocessed, for the reconciler; when it cannot be stored at
all, receive raises (so Daraja is not answered "Accepted")."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.payments import callbacks as callback_log
from core.payments.models import MpesaCallback
from payouts import callbacks

Factory = async_sessionmaker[AsyncSession]
BODY = {"Result": {"ResultCode": 1, "OriginatorConversationID": "q-1"}}  # a status query timed out


async def _rows(session_factory: Factory) -> list[MpesaCallback]:
    async with session_factory() as session:
        return list((await session.execute(select(MpesaCallback).order_by(MpesaCallback.id))).scalars())


async def test_a_callback_is_stored_processed_with_its_outcome(session_factory: Factory) -> None:
    outcome = await callbacks.receive(session_factory, kind="status_timeout", body=BODY, raw="{...}")
    [row] = await _rows(session_factory)
    assert outcome == "recorded"
    assert (row.processed, row.outcome, row.flagged, row.raw) == (True, outcome, False, "{...}")
    assert row.processed_at is not None


async def test_a_malformed_callback_is_stored_flagged(session_factory: Factory) -> None:
    assert await callbacks.receive(session_factory, kind="b2c_result", body=[1], raw="[1]") == "malformed"
    [row] = await _rows(session_factory)
    assert row.processed and row.flagged and row.outcome == "malformed" and row.raw == "[1]"


async def test_a_failure_while_applying_leaves_the_raw_row_for_the_reconciler(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(session: AsyncSession, body: Any) -> tuple[str, str]:
        await session.execute(select(1))
        raise RuntimeError("the handler fell over")

    monkeypatch.setitem(callbacks.HANDLERS, "status_timeout", broken)
    assert await callbacks.receive(session_factory, kind="status_timeout", body=BODY, raw="{...}") == ""
    [row] = await _rows(session_factory)
    assert (row.processed, row.outcome, row.raw) == (False, None, "{...}")

    monkeypatch.undo()  # fixed: the reconciler's pass applies it
    assert await callbacks.process(session_factory, row.id) == "recorded"
    [row] = await _rows(session_factory)
    assert row.processed


async def test_nothing_stored_means_receive_raises(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_database(**_: Any) -> None:
        raise OSError("the database is unreachable")

    monkeypatch.setattr(callback_log, "record", no_database)
    with pytest.raises(OSError):
        await callbacks.receive(session_factory, kind="status_timeout", body=BODY, raw="{}")
