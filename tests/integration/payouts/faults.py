"""Fault injection for the chaos tests: a payout worker's setup (KIBETI_WORKER_SETUP) that builds the
production Runtime, then SIGKILLs its own process with probability KIBETI_FAULT_KILL_AFTER_SEND right
after Daraja accepted a payout and before the database hears of it. Production code has no such path."""

from __future__ import annotations

import os
import secrets
import signal
from typing import Any

from core.runtime import Runtime
from webapp.bootstrap import install as production_install

KILL_AFTER_SEND = "KIBETI_FAULT_KILL_AFTER_SEND"
SETUP = "tests.integration.payouts.faults.install"


def crash_env(probability: str) -> dict[str, str]:
    """The environment of a worker that crashes after a send with this probability."""
    return {"KIBETI_WORKER_SETUP": SETUP, KILL_AFTER_SEND: probability}


def _kill_sometimes(probability: float) -> None:
    if probability > 0 and secrets.randbelow(1_000_000) < probability * 1_000_000:
        os.kill(os.getpid(), signal.SIGKILL)


def install(**kwargs: Any) -> Runtime:
    runtime = production_install(**kwargs)
    probability = float(os.environ.get(KILL_AFTER_SEND, "0") or 0)
    runtime.payout_sent_probe = lambda: _kill_sometimes(probability)
    return runtime
