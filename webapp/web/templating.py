"""One Jinja2 environment for every portal: autoescaped, templates from webapp/web/templates and
each portal's own folder, the viewer's language and formatting handed to every render."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from webapp.web import i18n

WEB_TEMPLATES = Path(__file__).resolve().parent / "templates"


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
    """What templates call to show values: `fmt.money(minor, "KES")`, `fmt.when(moment)`."""

    language: str

    def money(self, minor: int, asset: str) -> str:
        return i18n.money_minor(minor, asset, self.language)

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
