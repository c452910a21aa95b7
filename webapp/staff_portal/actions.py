"""Running one domain write for a page: committed, or rolled back with the refusal as a message in
the viewer's language (a catalog text for the error's code when there is one)."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import KibetiError
from core.i18n.catalog import has
from webapp.web import i18n

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def message(exc: BaseException, language: str) -> str:
    code = f"staff.refused.{getattr(exc, 'code', '')}"
    return (
        i18n.text(code, language) if has(code) else str(exc) or i18n.text("web.error.bad_request", language)
    )


async def attempt(session: AsyncSession, work: Awaitable[T], language: str) -> Outcome[T]:
    """Await `work` and commit; a domain refusal (or a maker-checker PermissionError) rolls back."""
    try:
        value = await work
    except (KibetiError, PermissionError, ValueError, LookupError) as exc:
        await session.rollback()
        return Outcome(None, message(exc, language))
    await session.commit()
    return Outcome(value)
