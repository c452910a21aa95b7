"""Keyset pagination for list pages: `?before=<id>` (newest first) or `?after=<id>` (oldest first),
never OFFSET. The query side is core.db.keyset (re-exported here for the pages that still page a
query themselves); this module reads the cursor from the query string."""

from __future__ import annotations

from core.db.keyset import PAGE_SIZE as PAGE_SIZE
from core.db.keyset import KeysetPage as KeysetPage
from core.db.keyset import fetch as fetch

MAX_CURSOR = 2**62


def cursor(raw: str | None) -> int | None:
    """A cursor from the query string; anything but a plain positive number means the first page."""
    if raw is None or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if 0 < value < MAX_CURSOR else None
