"""Named secrets sealed at rest. The name is the envelope context, so rows cannot be swapped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import clock_of
from core.security import envelope
from core.security.envelope import Keyring
from core.security.errors import EnvelopeError
from core.security.models import StoredSecret


async def put_secret(*, session: AsyncSession, name: str, value: bytes | str, keyring: Keyring) -> None:
    sealed = envelope.seal(value, keyring=keyring, context=f"secret:{name}")
    row, now = await session.get(StoredSecret, name), clock_of(session).now()
    if row is None:
        session.add(StoredSecret(name=name, envelope=sealed, key_id=keyring.current, updated_at=now))
    else:
        row.envelope, row.key_id, row.updated_at = sealed, keyring.current, now
    await session.flush()


async def get_secret(*, session: AsyncSession, name: str, keyring: Keyring) -> bytes:
    row = await session.get(StoredSecret, name)
    if row is None:
        raise EnvelopeError(f"no secret named {name}")
    return envelope.open(row.envelope, keyring=keyring, context=f"secret:{name}")


async def rotate_all(*, session: AsyncSession, keyring: Keyring) -> int:
    """Re-seal every stored secret under the keyring's current key; returns how many changed."""
    rows = (await session.execute(select(StoredSecret).order_by(StoredSecret.name))).scalars().all()
    changed = 0
    for row in rows:
        if envelope.needs_rotation(row.envelope, keyring=keyring):
            row.envelope = envelope.rotate(row.envelope, keyring=keyring, context=f"secret:{row.name}")
            row.key_id, row.updated_at = keyring.current, clock_of(session).now()
            changed += 1
    await session.flush()
    return changed


async def rotate_envelopes(
    *,
    session: AsyncSession,
    model: type[Any],
    attribute: str,
    context_of: Callable[[Any], str],
    keyring: Keyring,
    batch: int = 500,
) -> int:
    """Re-seal an envelope column of any table (e.g. KYC documents) under the current key.

    `context_of(row)` must return the same context the row was sealed with. Returns how many changed.
    """
    changed, offset = 0, 0
    primary = inspect(model).primary_key[0]
    while True:
        rows = (
            (await session.execute(select(model).order_by(primary).offset(offset).limit(batch)))
            .scalars()
            .all()
        )
        if not rows:
            break
        for row in rows:
            sealed = getattr(row, attribute)
            if sealed and envelope.needs_rotation(sealed, keyring=keyring):
                setattr(row, attribute, envelope.rotate(sealed, keyring=keyring, context=context_of(row)))
                changed += 1
        await session.flush()
        offset += batch
    return changed
