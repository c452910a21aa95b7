"""Named secrets sealed at rest. The name is the envelope context, so rows cannot be swapped."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.base import utcnow
from core.security import envelope
from core.security.envelope import Keyring
from core.security.errors import EnvelopeError
from core.security.models import StoredSecret


async def put_secret(*, session: AsyncSession, name: str, value: bytes | str, keyring: Keyring) -> None:
    sealed = envelope.seal(value, keyring=keyring, context=f"secret:{name}")
    row = await session.get(StoredSecret, name)
    if row is None:
        session.add(StoredSecret(name=name, envelope=sealed, key_id=keyring.current, updated_at=utcnow()))
    else:
        row.envelope, row.key_id, row.updated_at = sealed, keyring.current, utcnow()
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
            row.key_id, row.updated_at = keyring.current, utcnow()
            changed += 1
    await session.flush()
    return changed
