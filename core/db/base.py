"""The one declarative base every package's tables hang from, and column helpers.

Money columns are BigInteger minor units (see core.money); timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, MetaData
from sqlalchemy.engine.interfaces import ExecutionContext
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from core.clock import CLOCK_KEY, Clock, SystemClock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_SYSTEM_CLOCK = SystemClock()


def _now_of(context: ExecutionContext) -> datetime:
    clock: Clock = context.execution_options.get(CLOCK_KEY, _SYSTEM_CLOCK)
    return clock.now()


class _ColumnNow:
    """Column default (`default=utcnow`, `onupdate=utcnow`): the time of the clock the statement's
    unit of work carries (core.db.session); the system clock for a statement run outside one. Code
    with a session asks `core.clock.clock_of(session).now()` instead.

    SQLAlchemy passes the execution context to a default that takes one positional argument, which
    it reads from `__code__`. Transitional (issue 13): a call with no argument still answers the
    system clock until the last such call is converted; then this becomes `def utcnow(context)`."""

    __code__ = _now_of.__code__
    __defaults__ = None
    __kwdefaults__ = None

    def __call__(self, context: ExecutionContext | None = None) -> datetime:
        return _SYSTEM_CLOCK.now() if context is None else _now_of(context)


utcnow = _ColumnNow()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both PostgreSQL and SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


MinorUnits = BigInteger


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
