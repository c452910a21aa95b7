"""One statement on an AsyncSession's own asyncpg connection, inside the session's transaction.

For hot paths (the ledger's posting function) where SQLAlchemy's statement machinery costs more
CPU than the statement: the transaction is the session's (begun here if this is its first
statement, as SQLAlchemy would), and driver errors are translated to SQLAlchemy's DBAPIError
subclasses, as for any other statement. PostgreSQL (asyncpg) only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import greenlet_spawn


def _open_connection(session: AsyncSession) -> Connection | None:
    """The connection the session's active transaction already holds, found without a greenlet
    hop (what `Session.connection()` would answer); None when the session must begin or connect."""
    sync_session = session.sync_session
    transaction = sync_session._transaction
    if transaction is None or not transaction.is_active:
        return None
    held = transaction._connections.get(sync_session.get_bind())
    return held[0] if held is not None else None


async def run_on_session_connection(
    session: AsyncSession, sql: str, arguments: Sequence[Any], *, rows: bool = False
) -> Any:
    """`fetchrow(sql, *arguments)` on the session's connection: the row (or None); every row
    (`fetch`) with `rows`. An AUTOCOMMIT session runs it outside a transaction, as SQLAlchemy would."""
    # the sync Connection, not AsyncSession.connection()'s AsyncConnection proxy (unused here)
    sync = _open_connection(session)
    if sync is None:
        sync = await greenlet_spawn(session.sync_session.connection)
    # the checked-out connection, without another greenlet hop unless it must be revalidated (I/O)
    pooled = sync.connection if not sync.invalidated else await greenlet_spawn(getattr, sync, "connection")
    adapted: Any = pooled.dbapi_connection  # SQLAlchemy's asyncpg adapter
    async with adapted._execute_mutex:
        if not adapted._started:
            await adapted._start_transaction()
        try:
            if rows:
                return await adapted._connection.fetch(sql, *arguments)
            return await adapted._connection.fetchrow(sql, *arguments)
        except Exception as error:  # translated like SQLAlchemy's own cursor does
            adapted._handle_exception(error)
            raise
