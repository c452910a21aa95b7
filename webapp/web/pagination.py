"""Keyset pagination for list pages: `?before=<id>` (newest first) or `?after=<id>` (oldest first),
never OFFSET. The pages' queries page themselves through core.db.keyset; this reads the cursor a
page was given from the query string."""

from __future__ import annotations

MAX_CURSOR = 2**62


def cursor(raw: str | None) -> int | None:
    """A cursor from the query string; anything but a plain positive number means the first page."""
    if raw is None or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if 0 < value < MAX_CURSOR else None
