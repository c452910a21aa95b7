"""Fee rule constants shared with outer packages (the table is in models.py)."""

from __future__ import annotations

ANY = "*"
