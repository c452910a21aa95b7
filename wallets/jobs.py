"""Jobs of the wallets package (module-level async functions, run by the job queue).

`scan_all_networks` is fired by the scheduler every few seconds. On a network with a configured
node, the dedicated `kibeti worker chain --network ...` process does the watching, so the job
leaves it alone unless WALLETS_SCAN_IN_SCHEDULER is set; on the embedded default's simulated chains
it mines one block and scans, so a demo deposit confirms after three ticks.
"""

from __future__ import annotations

import logging
import time
from typing import cast

from sqlalchemy import select

from core import runtime
from core.config import WalletSettings
from wallets.adapter import build_monitor, close_source, node_url, simulated
from wallets.erc20.withdrawals import EvmWithdrawals
from wallets.errors import NodeError, ReorgTooDeep, WalletNotConfigured
from wallets.gateway import SEND_JOB, SIGNER_QUEUE
from wallets.models import Withdrawal
from wallets.networks import Network
from wallets.scanning.chain import SimulatedSource
from wallets.withdrawals.signer import sweep_all, withdrawals_for

log = logging.getLogger(__name__)

SCAN_BUDGET_SECONDS = 10.0
# Jobs that open the sealed seed (WALLET_SEED_SEALED) run on the signer's queue, served only by the
# signer worker; the scheduler and the outbox route them there (webapp.scheduler reads this).
SIGNER_JOBS = frozenset({SEND_JOB, "wallets.jobs.track_withdrawals", "wallets.jobs.sweep_deposits"})
JOB_QUEUES = dict.fromkeys(SIGNER_JOBS, SIGNER_QUEUE)


async def scan_all_networks() -> dict[str, int]:
    """One scan pass per network; returns the height reached per network."""
    current = runtime.get()
    settings = current.settings.wallets
    reached: dict[str, int] = {}
    for network in Network:
        try:
            monitor = build_monitor(current, network)
        except WalletNotConfigured:
            continue
        try:
            on_simulation = simulated(current, network)
            if not on_simulation and not settings.wallets_scan_in_scheduler:
                continue
            if on_simulation:
                cast(SimulatedSource, monitor.source).produce(1)
            deadline = time.monotonic() + SCAN_BUDGET_SECONDS
            while True:
                result = await monitor.step()
                reached[network.value] = result.scanned_to
                if result.caught_up or time.monotonic() > deadline:
                    break
        except (NodeError, ReorgTooDeep) as exc:
            log.warning("chain scan failed", extra={"network": network.value, "error": str(exc)})
        except Exception:  # one network's fault must not stop the others; retried next tick
            log.exception("chain scan crashed", extra={"network": network.value})
        finally:
            await close_source(monitor.source)
    return reached


async def send_withdrawal(withdrawal_id: int) -> str:
    """Sign and broadcast one withdrawal (signer worker; enqueued through the outbox)."""
    current = runtime.get()
    async with current.session_factory() as session:
        row = await session.get(Withdrawal, withdrawal_id)
    if row is None:
        return "missing"
    async with withdrawals_for(current, Network(row.network)) as processor:
        return await processor.send(withdrawal_id)


async def track_withdrawals() -> dict[str, int]:
    """Confirm, post or void every in-flight withdrawal; alert staff on a low hot wallet."""
    current = runtime.get()
    keys = bool(current.settings.wallets.wallet_seed_sealed)
    async with current.session_factory() as session:
        rows = (
            await session.execute(
                select(Withdrawal.id, Withdrawal.network).where(
                    Withdrawal.status.in_(["signed", "broadcast"])
                )
            )
        ).tuples()
        by_network: dict[Network, list[int]] = {}
        for withdrawal_id, network in rows:
            by_network.setdefault(Network(network), []).append(withdrawal_id)
    outcome: dict[str, int] = {}
    for network in Network:
        if not (simulated(current, network) or (keys and node_url(current, network))):
            continue
        async with withdrawals_for(current, network) as processor:
            for withdrawal_id in by_network.get(network, []):
                try:
                    status = await processor.track(withdrawal_id)
                except NodeError as exc:
                    log.warning(
                        "withdrawal tracking failed",
                        extra={"withdrawal_id": withdrawal_id, "error": str(exc)},
                    )
                    continue
                outcome[status] = outcome.get(status, 0) + 1
            if isinstance(processor, EvmWithdrawals):
                await _check_hot_wallet(processor, current.settings.wallets)
    return outcome


async def _check_hot_wallet(processor: EvmWithdrawals, settings: WalletSettings) -> None:
    sender = processor.sender
    try:
        token, gas = await sender.token_balance(), await sender.gas_balance()
    except NodeError:
        return
    if token < settings.hot_wallet_min_usdt_minor or gas < settings.hot_wallet_min_gas_wei:
        log.error(
            "hot wallet below threshold: staff must top it up",
            extra={"network": "erc20", "address": sender.hot_address, "usdt_minor": token, "gas_wei": gas},
        )


async def sweep_deposits() -> dict[str, int]:
    """Move USDT from deposit addresses into the hot wallets (signer worker, periodic)."""
    current = runtime.get()
    if not current.settings.wallets.wallet_seed_sealed:
        return {}
    return await sweep_all(current)
