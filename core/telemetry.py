"""Counting what happens, for whoever watches: core and the channels report events here without
importing a metrics library; webapp installs the sink (Prometheus counters) at start-up.

An event name and a few labels with a small, fixed set of values (a USSD state name, never a phone
number or an amount). A sink that fails never breaks the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

Sink = Callable[[str, dict[str, str]], None]

log = logging.getLogger(__name__)
_sink: Sink | None = None


def install(sink: Sink | None) -> None:
    global _sink
    _sink = sink


def count(event: str, **labels: str) -> None:
    if _sink is None:
        return
    try:
        _sink(event, labels)
    except Exception:  # counting must never cost a customer their hop
        log.warning("telemetry sink failed for %s", event, exc_info=True)
