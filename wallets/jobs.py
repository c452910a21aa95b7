"""Jobs of the wallets package (module-level async functions, run by the job queue).

`scan_all_networks` is fired by the scheduler every few seconds. On a network with a configured
node, the dedicated `kibeti worker chain --network ...` process does the watching, so the job
leaves it alone unless WALLETS_SCAN_IN_SCHEDULER is set; on the embedded default's simulated chains
it mines one block and scans, so a demo deposit confirms after three ticks.
"""

from __future__ import annotations

import logging
import time

from core import runtime
from wallets.adapter import build_monitor, wallet_settings
from wallets.errors import NodeError, ReorgTooDeep, WalletNotConfigured
from wallets.networks import Network
from wallets.simchain import SimulatedChain

log = logging.getLogger(__name__)

SCAN_BUDGET_SECONDS = 10.0


async def scan_all_networks() -> dict[str, int]:
    """One scan pass per network; returns the height reached per network."""
    current = runtime.get()
    settings = wallet_settings()
    reached: dict[str, int] = {}
    for network in Network:
        try:
            monitor = build_monitor(current, network)
        except WalletNotConfigured:
            continue
        simulated = isinstance(monitor.source, SimulatedChain)
        if not simulated and not settings.wallets_scan_in_scheduler:
            continue
        if isinstance(monitor.source, SimulatedChain):
            monitor.source.produce(1)
        deadline = time.monotonic() + SCAN_BUDGET_SECONDS
        try:
            while True:
                result = await monitor.step()
                reached[network.value] = result.scanned_to
                if result.caught_up or time.monotonic() > deadline:
                    break
        except (NodeError, ReorgTooDeep) as exc:
            log.warning("chain scan failed", extra={"network": network.value, "error": str(exc)})
    return reached
