"""Rehash on login: after a successful check, a hash made with older Argon2 parameters is replaced
by a hash of the secret just checked, made with the parameters in force (core/security/hashing.py).

The new hash is written in the caller's transaction, the one that records the successful check: if
it rolls back, the old hash stays and still verifies. The write only replaces the hash that was
checked (`... WHERE id = :id AND <column> = :old`): a PIN or password changed or reset meanwhile
by another transaction is never overwritten with a hash of the old secret.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from sqlalchemy import and_, inspect, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.attributes import set_committed_value

from core.security.hashing import hash_secret, needs_rehash

log = structlog.get_logger(__name__)


async def upgrade_hash(
    *, session: AsyncSession, row: Any, column: InstrumentedAttribute[str], secret: str
) -> bool:
    """Store a current-parameter hash of `secret` in `row`'s `column` when the stored one is not;
    call only after `secret` verified against it. True when a new hash was written."""
    old: str = getattr(row, column.key)
    if not needs_rehash(old):
        return False
    new = await asyncio.to_thread(hash_secret, secret)  # Argon2 off the event loop, as the check
    model = type(row)
    keys = inspect(row).identity or ()
    same_row = [col == value for col, value in zip(inspect(model).primary_key, keys, strict=True)]
    result = await session.execute(
        update(model)
        .where(and_(*same_row), column == old)
        .values({column.key: new})
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False  # changed by another transaction since it was read: theirs stands
    set_committed_value(row, column.key, new)  # the row object agrees with the database
    log.info("hash_upgraded", table=model.__tablename__, row=list(keys))
    return True
