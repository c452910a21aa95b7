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


def utcnow(context: ExecutionContext) -> datetime:
    """Column default (`default=utcnow`, `onupdate=utcnow`; SQLAlchemy passes the execution context
    to a default that takes one argument): the time of the clock the statement's unit of work
    carries (core.db.session), the system clock for a statement run outside one. Not for calling:
    code with a session asks `core.clock.clock_of(session).now()`."""
    clock: Clock = context.execution_options.get(CLOCK_KEY, _SYSTEM_CLOCK)
    return clock.now()


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
