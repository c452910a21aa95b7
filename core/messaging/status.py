"""Africa's Talking delivery statuses and the order they may replace each other in.

Reports arrive out of order: a final status (Success, Failed, Rejected) is never replaced, and an
intermediate one (Sent, Submitted, Buffered) never replaces a final one.
"""

from __future__ import annotations

FINAL = frozenset({"Success", "Failed", "Rejected"})
INTERMEDIATE = frozenset({"Sent", "Submitted", "Buffered"})
KNOWN = FINAL | INTERMEDIATE
FAILED = frozenset({"Failed", "Rejected"})
ACCEPTED = "Sent"  # what AT's send answer means before any report


def replaces(current: str, incoming: str) -> bool:
    """Whether a report with `incoming` status updates a message now at `current`."""
    if incoming not in KNOWN or current in FINAL:
        return False
    return incoming != current
