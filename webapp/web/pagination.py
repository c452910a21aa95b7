"""Keyset pagination for list pages: `?before=<id>` (newest first) or `?after=<id>` (oldest first),
never OFFSET, so page 1,000 costs what page 1 costs on an indexed id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, literal_column
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")
PAGE_SIZE = 50
MAX_CURSOR = 2**62


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    rows: list[T]
    next_cursor: int | None  # pass back as the same parameter for the next page


def cursor(raw: str | None) -> int | None:
    """A cursor from the query string; anything but a plain positive number means the first page."""
    if raw is None or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if 0 < value < MAX_CURSOR else None


async def fetch(
    session: AsyncSession,
    statement: Select[Any],
    key: InstrumentedAttribute[int],
    *,
    cursor_value: int | None,
    newest_first: bool = True,
    limit: int = PAGE_SIZE,
) -> KeysetPage[Any]:
    if cursor_value is not None:
        statement = statement.where(key < cursor_value if newest_first else key > cursor_value)
    # the LIMIT is inline, not a bound parameter: once asyncpg's prepared statement goes to a generic
    # plan PostgreSQL cannot see it and, for a selective filter (a name search), walks the key's index
    # past every row instead of using the filter's index (54 -> 5 ms at 100k customers)
    statement = statement.order_by(key.desc() if newest_first else key.asc()).limit(
        literal_column(str(int(limit) + 1))
    )
    rows = list((await session.execute(statement)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return KeysetPage(rows=rows, next_cursor=getattr(rows[-1], key.key) if more and rows else None)
