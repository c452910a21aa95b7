"""Named job handlers: the jobs core stages for work outside core (a staff alert and case about a
payment rail), under names core owns. Core never names an outer package: it stages `OPEN_*` below,
and the composition root (webapp.bootstrap) registers the function that does the work.

A name is stored in outbox rows, so it is forever: add names, never rename one. A row staged under
an older name (an outer package's dotted path) runs through an alias the composition root registers
with the handler (`register(..., aliases=...)`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Handler = Callable[..., Awaitable[Any]]

PREFIX = "hook:"  # never a module path: an unregistered name fails as such, not as a missing module
# PesaPal reversed a payment we had credited (kwargs: order_id): an alert and a case for staff
OPEN_REVERSAL_CASE = "hook:rails.open_reversal_case"
# A refund staff must look at (kwargs: kind, order_id, refund_id): an alert, and a case unless a watch
OPEN_REFUND_CASE = "hook:rails.open_refund_case"
# A payout unknown for 30 minutes (kwargs: payout_id): one staff alert
PAYOUT_LONG_UNKNOWN = "hook:payments.payout_long_unknown"
NAMES = frozenset({OPEN_REVERSAL_CASE, OPEN_REFUND_CASE, PAYOUT_LONG_UNKNOWN})

_handlers: dict[str, Handler] = {}


class UnknownHandler(LookupError):
    """A named job with no handler registered in this process (not started through the composition
    root): the outbox row stays undone and is dispatched again, never lost."""


def register(name: str, handler: Handler, *, aliases: Iterable[str] = ()) -> None:
    """Register `handler` for `name` (one of NAMES), and for `aliases`: the names rows staged
    before `name` existed carry."""
    if name not in NAMES:
        raise ValueError(f"{name!r} is not a job name core declares")
    for key in (name, *aliases):
        _handlers[key] = handler


def lookup(name: str) -> Handler | None:
    """The handler registered for `name` or an alias of it; None when there is none."""
    return _handlers.get(name)


def registered() -> dict[str, Handler]:
    return dict(_handlers)
