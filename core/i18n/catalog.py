"""Loading the compiled catalogs and translating codes.

The ``.mo`` files are committed next to the ``.po`` files (``python -m core.i18n.build`` regenerates
them); if a ``.mo`` is missing or older than its ``.po``, it is compiled in memory from the ``.po``.
"""

from __future__ import annotations

import gettext
import io
import string
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from core.i18n.gsm import gsm7_safe

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
LANGUAGES = ("en", "sw")
DEFAULT_LANGUAGE = "en"


def _compile(po_path: Path) -> bytes:
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=po_path.parent.parent.name)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    po_path, mo_path = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo_path.exists() and (not po_path.exists() or mo_path.stat().st_mtime >= po_path.stat().st_mtime):
        return gettext.GNUTranslations(io.BytesIO(mo_path.read_bytes()))
    if po_path.exists():
        return gettext.GNUTranslations(io.BytesIO(_compile(po_path)))
    return gettext.NullTranslations()


def normalize_language(language: str | None) -> str:
    if language in LANGUAGES:  # the common case, every hop: already a code we have
        return language
    code = (language or DEFAULT_LANGUAGE).lower().replace("-", "_").split("_", 1)[0]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


class _Lenient(string.Formatter):
    """str.format that leaves an unknown {placeholder} as it is instead of raising."""

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, str) and key not in kwargs:
            return "{" + key + "}"
        return super().get_value(key, args, kwargs)


_FORMATTER = _Lenient()


class _Missing(dict[str, Any]):
    """`str.format_map` values that leave an unknown {placeholder} as it is (as `_Lenient` does)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


# The catalogs are read once per process and never change while it runs, so a code's text (and
# whether a code exists) is cached: every USSD screen looks up several codes on every hop.
@lru_cache(maxsize=8192)
def lookup(code: str, language: str) -> str:
    """The raw catalog text for `code`: the language's, else English's, else the code itself."""
    text = _catalog(normalize_language(language)).gettext(code)
    if text == code and normalize_language(language) != DEFAULT_LANGUAGE:
        text = _catalog(DEFAULT_LANGUAGE).gettext(code)
    return text


@lru_cache(maxsize=8192)
def has(code: str) -> bool:
    return _catalog(DEFAULT_LANGUAGE).gettext(code) != code


def _format(text: str, values: dict[str, Any]) -> str:
    """`text.format(**values)`, leaving unknown placeholders as they are; unchanged if malformed."""
    try:
        return text.format_map(_Missing(values))
    except (ValueError, IndexError):
        return text
    except (AttributeError, KeyError, TypeError):
        # str.format_map and string.Formatter differ only on odd fields ({0}, {a.b}, {a[0]}): defer
        # to the reference implementation, which raises or answers exactly as before
        try:
            return _FORMATTER.format(text, **values)
        except (ValueError, IndexError):
            return text


@lru_cache(maxsize=4096)
def _plain(code: str, language: str) -> str:
    return gsm7_safe(lookup(code, language))


def translate(code_or_msgid: str, language: str | None = None, **values: Any) -> str:
    """Translate a code into `language` (en/sw) and fill in `values`; GSM-7 safe."""
    lang = normalize_language(language)
    if not values:
        return _plain(code_or_msgid, lang)
    return gsm7_safe(_format(lookup(code_or_msgid, lang), values))


def translator(language: str | None) -> Callable[..., str]:
    """A `t(code, **values)` bound to one language."""
    lang = normalize_language(language)

    def t(code: str, **values: Any) -> str:
        return translate(code, lang, **values)

    return t
