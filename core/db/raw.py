"""One statement on an AsyncSession's own asyncpg connection, inside the session's transaction.

For hot paths (the ledger's posting function) where SQLAlchemy's statement machinery costs more
CPU than the statement: the transaction is the session's (begun here if this is its first
statement, as SQLAlchemy would), and driver errors are translated to SQLAlchemy's DBAPIError
subclasses, as for any other statement. PostgreSQL (asyncpg) only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def run_on_session_connection(
    session: AsyncSession, sql: str, arguments: Sequence[Any], *, rows: bool = False
) -> Any:
    """`fetchrow(sql, *arguments)` on the session's connection: the row (or None); every row
    (`fetch`) with `rows`. An AUTOCOMMIT session runs it outside a transaction, as SQLAlchemy would."""
    connection = await session.connection()
    sync = connection.sync_connection
    # the checked-out connection, without another greenlet hop unless it must be revalidated (I/O)
    pooled = (
        sync.connection
        if sync is not None and not sync.invalidated
        else await connection.get_raw_connection()
    )
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
