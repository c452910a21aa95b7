"""The deposit monitor, one per network: scan new blocks, match transfers against our addresses,
follow reorgs, credit after N confirmations, back off on node errors.

State lives in the database (cursor = height + hash, recent block hashes, one row per detected
transfer), so any number of restarts, or two monitors at once, credit each deposit exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.db.session import clock_of_factory
from core.outbox import service as outbox
from wallets import service
from wallets.errors import NodeError, ReorgTooDeep, WalletNotConfigured
from wallets.models import ChainDeposit, DepositAddress
from wallets.networks import Network
from wallets.scanning import crediting
from wallets.scanning import invoices as invoice_payments
from wallets.scanning.chain import BlockRef, ChainSource, Transfer
from wallets.service import DepositStatus, match_key

log = logging.getLogger(__name__)
DEPOSIT_NOTICE_JOB = "core.flows.jobs.deposit_credited"
DEPOSIT_SEEN_JOB = "core.flows.notices.deposit_seen"  # issue 19: "we see it coming" before confirmations


@dataclass(frozen=True)
class MonitorConfig:
    confirmations: int = 3
    batch_blocks: int = 500  # blocks per transfers() call
    start_height: int = 0  # first block to scan when there is no cursor yet
    dust_minor: int = 0  # deposits of our asset below this go to suspense
    token: str = ""  # our token's contract ("" = the native coin, BTC)
    keep_blocks: int = 2000  # recent block hashes kept to find a fork point
    backoff_base: float = 1.0
    backoff_cap: float = 60.0


@dataclass(frozen=True)
class StepResult:
    tip: int
    scanned_to: int
    detected: int = 0
    credited: int = 0
    suspense: int = 0
    orphaned: int = 0
    reorg: bool = False

    @property
    def caught_up(self) -> bool:
        return self.scanned_to >= self.tip


def backoff_delay(failures: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Exponential back-off with full jitter: uniform in [0, min(cap, base * 2**failures)]."""
    return rng.uniform(0, min(cap, base * 2 ** min(failures, 30)))


class DepositMonitor:
    def __init__(
        self,
        *,
        source: ChainSource,
        session_factory: async_sessionmaker[AsyncSession],
        config: MonitorConfig,
        on_progress: Callable[[StepResult], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if source.network is not Network.BTC and not config.token:
            # Without the token contract every token sent to us would be credited as USDT.
            raise WalletNotConfigured(f"{source.network.label}: the USDT contract address is not configured")
        self.source = source
        self.network = source.network
        self._sessions = session_factory
        self.config = config
        self._on_progress = on_progress
        self._now = (clock or clock_of_factory(session_factory)).now
        # match key -> deposit address id. Plain str -> int: not tracked by the garbage collector,
        # so 100,000s of watched addresses add no GC cost to every scan.
        self._watched: dict[str, int] = {}
        self._last_address_id = 0
        self._token_key = match_key(self.network, config.token) if config.token else ""

    # --- one pass ---------------------------------------------------------------------------

    async def step(self) -> StepResult:
        """Scan at most one batch of new blocks, then credit what has enough confirmations."""
        tip = await self.source.tip()
        await self._refresh_addresses()
        cursor, reorged, orphaned = await self._checked_cursor(tip)
        detected = 0
        scanned_to = cursor.height
        if cursor.height < tip:
            end = min(cursor.height + self.config.batch_blocks, tip)
            transfers = await self.source.transfers(cursor.height + 1, end)
            end_block = await self.source.block(end)
            detected = await self._record(transfers, end_block)
            scanned_to = end
        credited, suspense, late_orphans = await self._settle(tip)
        async with self._sessions() as session, session.begin():
            await service.record_tip(session=session, network=self.network, tip=tip)
        result = StepResult(
            tip=tip,
            scanned_to=scanned_to,
            detected=detected,
            credited=credited,
            suspense=suspense,
            orphaned=orphaned + late_orphans,
            reorg=reorged or late_orphans > 0,
        )
        if self._on_progress is not None:
            self._on_progress(result)
        return result

    async def _refresh_addresses(self) -> None:
        async with self._sessions() as session:
            rows = await service.addresses_after(
                session=session, network=self.network, after_id=self._last_address_id
            )
        for address_id, address in rows:
            self._watched[match_key(self.network, address)] = address_id
            self._last_address_id = max(self._last_address_id, address_id)

    async def _checked_cursor(self, tip: int) -> tuple[BlockRef, bool, int]:
        """The cursor, after verifying its block is still on the node's best chain."""
        async with self._sessions() as session:
            cursor = await service.get_cursor(session=session, network=self.network)
        if cursor is None or not cursor.block_hash:
            return BlockRef(self.config.start_height - 1, ""), False, 0
        if cursor.height > tip:
            # A lagging node (or one behind a load balancer) is not a reorg: wait, never rewind on it.
            raise NodeError(f"{self.network.label} node is at {tip}, behind our cursor {cursor.height}")
        node_block = await self.source.block(cursor.height)
        if node_block.hash == cursor.block_hash:
            return BlockRef(cursor.height, cursor.block_hash), False, 0
        fork, orphaned = await self._rewind_to_fork(cursor.height, tip)
        return fork, True, orphaned

    async def _rewind_to_fork(self, from_height: int, tip: int) -> tuple[BlockRef, int]:
        """Walk back over the blocks we remember to the highest one the node still has."""
        async with self._sessions() as session:
            remembered = await service.recent_blocks(
                session=session, network=self.network, at_or_below=from_height
            )
        fork: BlockRef | None = None
        for block in remembered:
            if block.height > tip:
                continue
            if (await self.source.block(block.height)).hash == block.block_hash:
                fork = BlockRef(block.height, block.block_hash)
                break
        if fork is None:
            if from_height - self.config.start_height > self.config.keep_blocks:
                log.critical(
                    "chain reorg deeper than remembered blocks", extra={"network": self.network.value}
                )
                raise ReorgTooDeep(
                    f"{self.network.label}: no remembered block at or below {from_height} is canonical"
                )
            fork = BlockRef(self.config.start_height - 1, "")  # shallow chain: rescan from the start
        async with self._sessions() as session, session.begin():
            result = await service.rewind(
                session=session, network=self.network, fork_height=fork.height, fork_hash=fork.hash
            )
            await invoice_payments.orphaned(
                session=session, network=self.network, deposit_ids=result.orphaned_ids, now=self._now()
            )
        if result.settled_above_fork:
            # Credited deposits were in the orphaned blocks: the ledger stays; staff must look.
            log.critical(
                "reorg removed blocks with already credited deposits",
                extra={"network": self.network.value, "deposit_ids": result.settled_above_fork},
            )
        log.warning(
            "chain reorg: rewound",
            extra={"network": self.network.value, "fork_height": fork.height, "orphaned": result.orphaned},
        )
        return fork, result.orphaned

    def _classify(self, transfer: Transfer) -> tuple[int, str] | None:
        """(our deposit address id, suspense reason) or None when the transfer is not to us."""
        row = self._watched.get(match_key(self.network, transfer.to))
        if row is None:
            return None
        if self._token_key and match_key(self.network, transfer.token) != self._token_key:
            return row, "unknown_token"
        if transfer.amount <= 0:  # zero-value transfers ("address poisoning"): recorded, never booked
            return row, "zero_value"
        if transfer.amount >= service.MAX_MINOR:
            return row, "amount_out_of_range"
        if transfer.amount < self.config.dust_minor:
            return row, "dust"
        return row, ""

    async def _record(self, transfers: list[Transfer], end_block: BlockRef) -> int:
        detected = 0
        async with self._sessions() as session, session.begin():
            for found in transfers:
                match = self._classify(found)
                if match is None:
                    continue
                row, reason = match
                transfer = found
                if not transfer.block_hash:  # the API gives no block hash (TronGrid events): ask for it
                    block_hash = (await self.source.block(found.height)).hash
                    transfer = dataclasses.replace(found, block_hash=block_hash)
                if await service.record_detection(
                    session=session,
                    network=self.network,
                    transfer=transfer,
                    deposit_address_id=row,
                    reason=reason,
                ):
                    detected += 1
                    if not reason:
                        await self._stage_seen_notice(session, row, transfer)
                    await invoice_payments.detected(
                        session=session,
                        network=self.network,
                        address_id=row,
                        transfer=transfer,
                        reason=reason,
                        now=self._now(),
                    )
            await service.set_cursor(
                session=session, network=self.network, height=end_block.height, block_hash=end_block.hash
            )
            await service.prune_blocks(
                session=session, network=self.network, below=end_block.height - self.config.keep_blocks
            )
        return detected

    # --- confirmations and crediting ----------------------------------------------------------

    async def _settle(self, tip: int) -> tuple[int, int, int]:
        """Credit detections with enough confirmations whose block is still canonical."""
        max_height = tip - self.config.confirmations + 1
        async with self._sessions() as session:
            candidates = await service.confirmable(
                session=session, network=self.network, max_height=max_height
            )
        credited = suspense = 0
        canonical: dict[int, str] = {}
        for deposit in candidates:
            if deposit.block_height not in canonical:
                canonical[deposit.block_height] = (await self.source.block(deposit.block_height)).hash
            if canonical[deposit.block_height] != deposit.block_hash:
                # The block was replaced under us: rewind below it and rescan; no credit on doubt.
                _, orphaned = await self._rewind_to_fork(deposit.block_height - 1, tip)
                return credited, suspense, max(orphaned, 1)
            outcome = await self._settle_one(deposit.id)
            credited += outcome == DepositStatus.CREDITED
            suspense += outcome == DepositStatus.SUSPENSE
        return credited, suspense, 0

    async def _settle_one(self, deposit_id: int) -> str | None:
        async with self._sessions() as session, session.begin():
            deposit = await service.lock_deposit(session=session, deposit_id=deposit_id)
            if deposit is None or deposit.status != DepositStatus.DETECTED:
                return None  # settled by someone else, or orphaned meanwhile
            owner = await self._owner_of(session, deposit)
            if owner is not None and owner[0] == service.HOUSE:
                deposit.status = DepositStatus.INTERNAL  # our own change: nothing to book
            elif deposit.amount_minor is None or deposit.amount_minor <= 0:
                # not our asset, or nothing moved: recorded for staff, nothing to book
                deposit.status = DepositStatus.SUSPENSE
            else:
                entry_id = await crediting.book_deposit(
                    session=session,
                    network=self.network,
                    deposit=deposit,
                    owner_type=owner[0] if owner else None,
                    owner_id=owner[1] if owner else None,
                )
                deposit.entry_id = str(entry_id)
                booked_to_owner = (
                    owner is not None and not deposit.reason and owner[0] in crediting.LEDGER_OWNERS
                )
                deposit.status = DepositStatus.CREDITED if booked_to_owner else DepositStatus.SUSPENSE
                if booked_to_owner and owner is not None and owner[0] == "customer":
                    await outbox.enqueue(  # the customer hears of it once, whatever reruns
                        session=session,
                        job=DEPOSIT_NOTICE_JOB,
                        kwargs={
                            "customer_id": owner[1],
                            "asset": self.network.asset.value,
                            "amount_minor": deposit.amount_minor,
                            "txid": deposit.txid,
                        },
                        dedupe_key=f"deposit-credited:{deposit.id}",
                    )
                await invoice_payments.credited(
                    session=session, network=self.network, owner=owner, deposit=deposit, now=self._now()
                )
            deposit.settled_at = self._now()
            return deposit.status

    async def _stage_seen_notice(self, session: AsyncSession, address_id: int, transfer: Transfer) -> None:
        """The customer hears of a deposit when it is first seen (once, whatever reorgs or reruns)."""
        address = await session.get(DepositAddress, address_id)
        if address is None or address.owner_type != "customer":
            return
        await outbox.enqueue(
            session=session,
            job=DEPOSIT_SEEN_JOB,
            kwargs={
                "customer_id": address.owner_id,
                "asset": self.network.asset.value,
                "amount_minor": transfer.amount,
                "txid": transfer.txid,
                "needed": self.config.confirmations,
            },
            dedupe_key=f"deposit-seen:{self.network.value}:{transfer.txid}:{transfer.index}",
        )

    @staticmethod
    async def _owner_of(session: AsyncSession, deposit: ChainDeposit) -> tuple[str, int] | None:
        if deposit.deposit_address_id is None:
            return None
        row = await session.get(DepositAddress, deposit.deposit_address_id)
        return (row.owner_type, row.owner_id) if row is not None else None

    # --- the worker loop --------------------------------------------------------------------

    async def run(
        self,
        *,
        stop: asyncio.Event,
        idle_seconds: float = 5.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """Poll until `stop` is set: catch up in batches, idle at the tip, back off on node errors."""
        rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        failures = 0
        while not stop.is_set():
            try:
                result = await self.step()
            except Exception as exc:  # node errors, and database hiccups: never let the worker die
                failures += 1
                delay = backoff_delay(
                    failures, base=self.config.backoff_base, cap=self.config.backoff_cap, rng=rng
                )
                extra = {"network": self.network.value, "error": str(exc), "delay": round(delay, 2)}
                if isinstance(exc, NodeError | ReorgTooDeep):
                    log.warning("chain node error; backing off", extra=extra)
                else:
                    log.exception("chain monitor step failed; backing off", extra=extra)
                await self._pause(stop, delay, sleep)
                continue
            failures = 0
            if result.caught_up:
                await self._pause(stop, idle_seconds, sleep)
            else:
                log.info(
                    "catching up",
                    extra={"network": self.network.value, "height": result.scanned_to, "tip": result.tip},
                )

    @staticmethod
    async def _pause(
        stop: asyncio.Event, seconds: float, sleep: Callable[[float], Awaitable[None]] | None
    ) -> None:
        if sleep is not None:
            await sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
