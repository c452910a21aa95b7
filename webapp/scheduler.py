"""The scheduler: relays the outbox and enqueues periodic jobs.

Embedded default: runs as tasks inside the web process. Production: `kibeti scheduler`, one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time

from core import runtime as runtime_module
from core.outbox.service import relay
from core.runtime import Runtime

log = logging.getLogger(__name__)

RELAY_EVERY_SECONDS = 0.5
# (dotted job, interval in seconds); each must exist: a missing one stops the scheduler at start-up
PERIODIC_JOBS: list[tuple[str, float]] = [
    ("core.ledger.jobs.expire_holds", 30),
    ("core.ledger.jobs.rollup_system_accounts", 300),
    ("core.fx.jobs.refresh_rates", 60),
    ("payouts.jobs.reconcile_stuck_payouts", 60),
    ("core.rails.jobs.reconcile_rail_orders", 60),
    ("core.rails.jobs.watch_reversals", 3600),
    ("core.rails.jobs.reconcile_refunds", 60),  # refunds whose outcome is unknown: PesaPal's status
    ("payouts.jobs.check_account_balance", 900),
    ("wallets.jobs.scan_all_networks", 15),
    ("compliance.jobs.check_str_deadlines", 3600),
    ("compliance.jobs.expire_reviews", 3600),
    ("core.flows.jobs.return_expired_claims", 300),
    ("wallets.jobs.track_withdrawals", 20),
    ("wallets.jobs.sweep_deposits", 600),
    ("core.audit.jobs.publish_checkpoint", 3600),
    ("core.audit.jobs.chain_pending", 5),  # money writes' audit rows, queued without the chain lock
    ("core.settlements.jobs.daily_settlements", 300),  # runs once a day, at the set Nairobi hour
    ("channels.webhooks.jobs.sweep_due_deliveries", 5),
    ("core.invoices.jobs.expire_invoices", 15),  # New past expiry -> Expired (and its webhook)
    ("wallets.address_pool.refill_invoice_address_pool", 10),  # invoices never wait on HD counters
    ("channels.sms.jobs.resend_failed", 60),
]


DEFAULT_QUEUE = "default"


def queue_of(job: str) -> str:
    """The queue a job runs on: its module's JOB_QUEUES says (e.g. the signer's jobs), else default."""
    module_name, _, _ = job.rpartition(".")
    module = importlib.import_module(module_name)
    return str(getattr(module, "JOB_QUEUES", {}).get(job, DEFAULT_QUEUE))


def available_jobs() -> list[tuple[str, float]]:
    found = []
    for job, interval in PERIODIC_JOBS:
        module_name, _, attribute = job.rpartition(".")
        if not callable(getattr(importlib.import_module(module_name), attribute, None)):
            raise RuntimeError(f"periodic job {job} does not exist: the scheduler cannot start")
        found.append((job, interval))
    return found


async def run_scheduler(runtime: Runtime, *, stop: asyncio.Event) -> None:
    """Relay the outbox and fire periodic jobs until `stop` is set."""
    runtime_module.install(runtime)
    jobs = available_jobs()
    queues = {job: queue_of(job) for job, _ in jobs}
    next_due = {job: 0.0 for job, _ in jobs}
    while not stop.is_set():
        try:
            await relay(session_factory=runtime.session_factory, queue=runtime.queue)
            now = time.monotonic()
            for job, interval in jobs:
                if now >= next_due[job]:
                    slot = int(time.time() // interval)
                    runtime.queue.enqueue(job, job_id=f"periodic-{job}-{slot}", kwargs={}, queue=queues[job])
                    next_due[job] = now + interval
        except Exception:
            log.exception("scheduler tick failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=RELAY_EVERY_SECONDS)
