"""The list in force for this process. A load builds a complete new SanctionsList first and then
replaces the reference in one assignment, so screening never sees a half-built list."""

from __future__ import annotations

import threading

from compliance.errors import NoSanctionsList
from compliance.sanctions.loader import SanctionsList

_lock = threading.Lock()
_current: SanctionsList | None = None


def current() -> SanctionsList:
    if _current is None:
        raise NoSanctionsList("no sanctions list loaded: run `kibeti sanctions load PATH`")
    return _current


def current_or_none() -> SanctionsList | None:
    return _current


def swap(new: SanctionsList) -> SanctionsList | None:
    """Put `new` in force; return the previous list."""
    global _current
    with _lock:
        previous, _current = _current, new
    return previous


def clear() -> None:
    global _current
    with _lock:
        _current = None
