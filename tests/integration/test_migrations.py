"""Migrations go from empty to head on SQLite and PostgreSQL and match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from core.db.base import Base
from webapp.schema import import_all_models, upgrade


def _diff(sync_url: str) -> list:
    import_all_models()
    engine = create_engine(sync_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_sqlite_from_empty_to_head_matches_models(tmp_path):
    path = tmp_path / "fresh.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    assert "ledger_postings" in inspect(engine).get_table_names()
    engine.dispose()
    assert _diff(f"sqlite:///{path}") == []


async def test_postgres_from_empty_to_head_matches_models(pg_url):
    """pg_url is a database created empty for this test session and migrated by `upgrade`."""
    import_all_models()
    engine = create_async_engine(pg_url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
            )
        )
    await engine.dispose()
    assert "ledger_postings" in tables
    assert diff == []
