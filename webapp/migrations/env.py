"""Alembic environment: one metadata (core.db.base.Base) gathered from every package's models.

Each package keeps its own branch of revisions in <package>/migrations/versions; `upgrade heads`
applies them all. Works on PostgreSQL (asyncpg) and SQLite (aiosqlite, batch mode).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from core.db.base import Base, UTCDateTime
from webapp.schema import import_all_models

import_all_models()
config = context.config


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our UTC type as a plain timezone-aware DateTime, so migrations import nothing of ours."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:  # a failed migration too: its connection is closed, not left to the garbage collector
        await engine.dispose()


existing = config.attributes.get("connection")
if existing is not None:
    _run(existing)
else:
    asyncio.run(_run_async(config.get_main_option("sqlalchemy.url") or ""))
