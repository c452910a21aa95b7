"""One Jinja2 environment for every portal: autoescaped, templates from webapp/web/templates and
each portal's own folder, the viewer's language and formatting handed to every render."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from core.money import Asset
from webapp.web import i18n

WEB_TEMPLATES = Path(__file__).resolve().parent / "templates"
log = structlog.get_logger("kibeti.web")


@cache
def environment(folders: tuple[str, ...]) -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(WEB_TEMPLATES), *folders]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def make_environment(folders: Iterable[Path]) -> Environment:
    return environment(tuple(str(folder) for folder in folders))


@dataclass(frozen=True)
class Formatter:
    """What templates call to show values: `fmt.money(minor, "KES")`, `fmt.when(moment)`. One per
    render (base_context), so what it remembers lasts one page."""

    language: str
    _unshown: set[str] = field(default_factory=set, compare=False, repr=False)

    def money(self, minor: int, asset: str) -> str:
        """The house format, or, for a stored amount it cannot format (an asset code no Asset has,
        such as a legacy "USDT_TRC20"; a minor amount that is not a number), the raw minor amount and
        code as stored with a marker, logged once per page: one odd row never makes the page a 500.
        Display only: nothing is converted or guessed."""
        try:
            known = Asset(asset)
        except (ValueError, TypeError):
            return self._as_stored("web.money.unknown_asset", minor, asset)
        try:
            return i18n.money_minor(minor, known, self.language)
        except (TypeError, ValueError, ArithmeticError):
            return self._as_stored("web.money.unreadable", minor, asset)

    def _as_stored(self, code: str, minor: object, asset: object) -> str:
        if not self._unshown:
            log.warning("money_shown_as_stored", problem=code, asset=str(asset)[:40])
        self._unshown.add(code)
        return i18n.text(code, self.language, minor=minor, asset=asset)

    def when(self, moment: datetime | None, style: str = "medium") -> str:
        return i18n.when(moment, self.language, style)

    def day(self, moment: datetime | None, style: str = "medium") -> str:
        return i18n.day(moment, self.language, style)

    def number(self, value: int | Decimal) -> str:
        return i18n.number(value, self.language)

    def iso(self, moment: datetime | None) -> str:
        return i18n.iso(moment)


def base_context(language: str) -> dict[str, Any]:
    def t(code: str, **values: Any) -> str:
        return i18n.text(code, language, **values)

    return {"t": t, "fmt": Formatter(language), "language": language, "languages": i18n.LANGUAGES}
