"""Queries and writes of the wallets package (session passed in, keyword-only arguments)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import clock_of
from core.db.raw import run_on_session_connection
from wallets.hd.derivation import AddressDeriver
from wallets.models import AddressCounter, ChainBlock, ChainCursor, ChainDeposit, DepositAddress
from wallets.networks import Network
from wallets.scanning.chain import Transfer

MAX_MINOR = 2**63
NOT_OUR_ASSET = frozenset({"unknown_token", "amount_out_of_range"})


class DepositStatus(StrEnum):
    DETECTED = "detected"
    CREDITED = "credited"
    SUSPENSE = "suspense"
    ORPHANED = "orphaned"
    INTERNAL = "internal"  # our own change output: custody never left, nothing to book


HOUSE = "house"  # owner_type of the house's own addresses (BTC change)
SPENDABLE = (DepositStatus.CREDITED, DepositStatus.SUSPENSE, DepositStatus.INTERNAL)


@dataclass(frozen=True)
class RewindResult:
    orphaned: int
    settled_above_fork: list[int]
    orphaned_ids: list[int] = field(default_factory=list)


async def find_deposit_address(
    *, session: AsyncSession, owner_type: str, owner_id: int, network: Network
) -> DepositAddress | None:
    result = await session.execute(
        select(DepositAddress).where(
            DepositAddress.owner_type == owner_type,
            DepositAddress.owner_id == owner_id,
            DepositAddress.network == network.value,
        )
    )
    return result.scalar_one_or_none()


async def _increment_counter(session: AsyncSession, network: Network, by: int = 1) -> int | None:
    result = await session.execute(
        update(AddressCounter)
        .where(AddressCounter.network == network.value)
        .values(next_index=AddressCounter.next_index + by)
        .returning(AddressCounter.next_index)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


async def next_index(*, session: AsyncSession, network: Network, count: int = 1) -> int:
    """Claim the next derivation index: one atomic UPDATE ... RETURNING on the counter row.

    The row lock is held until the caller's transaction ends, so concurrent allocations serialise
    and no index is ever handed out twice (the unique (network, derivation_index) backs this up).
    """
    claimed = await _increment_counter(session, network, count)
    if claimed is None:
        try:
            async with session.begin_nested():
                await session.execute(insert(AddressCounter).values(network=network.value, next_index=0))
        except IntegrityError:
            pass  # another transaction created it first
        claimed = await _increment_counter(session, network, count)
        if claimed is None:  # pragma: no cover - the row exists by now
            raise RuntimeError(f"address counter for {network.value} missing")
    return claimed - count  # the first of `count` consecutive indexes


async def get_or_create_deposit_address(
    *, session: AsyncSession, deriver: AddressDeriver, owner_type: str, owner_id: int, network: Network
) -> DepositAddress:
    """The owner's one address on `network`, allocating the next HD index the first time."""
    existing = await find_deposit_address(
        session=session, owner_type=owner_type, owner_id=owner_id, network=network
    )
    if existing is not None:
        return existing
    try:
        async with session.begin_nested():
            index = await next_index(session=session, network=network)
            row = DepositAddress(
                network=network.value,
                address=deriver.address(network, index),
                derivation_index=index,
                chain=0,
                owner_type=owner_type,
                owner_id=owner_id,
            )
            session.add(row)
            await session.flush()
    except IntegrityError:
        # A concurrent request for the same owner won; its address is the one.
        existing = await find_deposit_address(
            session=session, owner_type=owner_type, owner_id=owner_id, network=network
        )
        if existing is None:
            raise
        return existing
    return row


@dataclass(frozen=True)
class AllocatedAddress:
    """An address just given to an owner (what a new invoice shows of it)."""

    network: Network
    address: str
    derivation_index: int


async def allocate_addresses(
    *, session: AsyncSession, deriver: AddressDeriver, owner_type: str, owner_id: int, networks: list[Network]
) -> list[AllocatedAddress]:
    """Fresh addresses on `networks` for an owner that has none yet (a new invoice). Each comes
    from the pool of pre-derived, never-given addresses when it has one (no shared lock: concurrent
    callers skip each other's rows); otherwise one counter UPDATE per network (always in Network
    order, so callers never deadlock; the counter stays locked until the caller commits) and one
    INSERT."""
    claimed = await _claim_pooled_many(
        session=session, owner_type=owner_type, owner_id=owner_id, networks=sorted(set(networks))
    )
    missing = [network for network in sorted(set(networks)) if network not in claimed]
    indexes = {network: await next_index(session=session, network=network) for network in missing}
    fresh = [
        DepositAddress(
            network=network.value,
            address=deriver.address(network, index),
            derivation_index=index,
            chain=0,
            owner_type=owner_type,
            owner_id=owner_id,
        )
        for network, index in indexes.items()
    ]
    if fresh:
        session.add_all(fresh)
        await session.flush()
    claimed.update({Network(row.network): _allocated(row) for row in fresh})
    return [claimed[network] for network in networks]


def _allocated(row: DepositAddress) -> AllocatedAddress:
    return AllocatedAddress(Network(row.network), row.address, row.derivation_index)


POOL = "pool"  # owner_type of pre-derived receive addresses nobody has been given yet


async def claim_pooled(
    *, session: AsyncSession, owner_type: str, owner_id: int, network: Network
) -> DepositAddress | None:
    """Give the oldest pooled address on `network` to the owner, or None when the pool is empty.
    PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent claims never wait for each other."""
    pick = (
        select(DepositAddress.id)
        .where(DepositAddress.owner_type == POOL, DepositAddress.network == network.value)
        .order_by(DepositAddress.id)
        .limit(1)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    result = await session.execute(
        update(DepositAddress)
        .where(DepositAddress.id == pick.scalar_subquery())
        .values(owner_type=owner_type, owner_id=owner_id, created_at=clock_of(session).now())
        .returning(DepositAddress)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


def _claim_sql(count: int) -> str:
    """The PostgreSQL claim of the oldest pooled address on each of `count` networks, one statement:
    $1 owner_type, $2 owner_id, $3 claimed at, $4.. the networks. A scalar subquery per network (FOR
    UPDATE is not allowed under UNION); 'pool' is written out, not bound, so even a generic plan of
    the prepared statement reads the partial index ix_deposit_addresses_pool."""
    picks = ", ".join(
        f"(SELECT id FROM deposit_addresses WHERE owner_type = '{POOL}' AND network = ${4 + n}"  # noqa: S608 (constant fragments, no input)
        " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        for n in range(count)
    )
    return (
        f"UPDATE deposit_addresses SET owner_type = $1, owner_id = $2, created_at = $3 WHERE id IN ({picks})"  # noqa: S608 (constant fragments, no input)
        " RETURNING network, address, derivation_index"
    )


_CLAIM_SQL = {count: _claim_sql(count) for count in range(1, len(Network) + 1)}


async def _claim_pooled_many(
    *, session: AsyncSession, owner_type: str, owner_id: int, networks: list[Network]
) -> dict[Network, AllocatedAddress]:
    """`claim_pooled` on every network at once; on PostgreSQL in one plain statement (one round
    trip, no ORM statement building: this runs for every new invoice)."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        claimed = {}
        for network in networks:
            row = await claim_pooled(
                session=session, owner_type=owner_type, owner_id=owner_id, network=network
            )
            if row is not None:
                claimed[network] = _allocated(row)
        return claimed
    if not networks:
        return {}
    rows = await run_on_session_connection(
        session,
        _CLAIM_SQL[len(networks)],
        [owner_type, owner_id, clock_of(session).now(), *(network.value for network in networks)],
        rows=True,
    )
    return {
        Network(row["network"]): AllocatedAddress(
            Network(row["network"]), row["address"], row["derivation_index"]
        )
        for row in rows
    }


async def refill_pool(
    *, session: AsyncSession, deriver: AddressDeriver, network: Network, target: int
) -> int:
    """Top the pool on `network` up to `target` addresses (consecutive indexes, one counter UPDATE,
    one INSERT); returns how many were added. Pooled rows are watched like any other address."""
    have = (
        await session.execute(
            select(func.count())
            .select_from(DepositAddress)
            .where(DepositAddress.owner_type == POOL, DepositAddress.network == network.value)
        )
    ).scalar_one()
    need = target - int(have)
    if need <= 0:
        return 0
    first = await next_index(session=session, network=network, count=need)
    session.add_all(
        DepositAddress(
            network=network.value,
            address=deriver.address(network, index),
            derivation_index=index,
            chain=0,
            owner_type=POOL,
            owner_id=index,  # unique per network, as (owner_type, owner_id, network) must be
        )
        for index in range(first, first + need)
    )
    await session.flush()
    return need


async def house_address(
    *, session: AsyncSession, deriver: AddressDeriver, network: Network, chain: int, index: int
) -> DepositAddress:
    """Register (once) a house address, e.g. the BTC change address m/84'/0'/0'/1/0, so the
    monitor sees its outputs (as internal, never as a deposit)."""
    found = (
        await session.execute(
            select(DepositAddress).where(
                DepositAddress.network == network.value,
                DepositAddress.chain == chain,
                DepositAddress.derivation_index == index,
            )
        )
    ).scalar_one_or_none()
    if found is not None:
        return found
    row = DepositAddress(
        network=network.value,
        address=deriver.address(network, index, chain=chain),
        derivation_index=index,
        chain=chain,
        owner_type=HOUSE,
        owner_id=chain * 1_000_000 + index,
    )
    session.add(row)
    await session.flush()
    return row


def match_key(network: Network, address: str) -> str:
    return address.lower() if network is Network.ERC20 else address


# --- monitors: cursors, recent blocks, detections ----------------------------------------------


async def addresses_after(*, session: AsyncSession, network: Network, after_id: int) -> list[tuple[int, str]]:
    """Addresses allocated since `after_id` (monitors refresh their in-memory set incrementally).

    (id, address) tuples, not ORM objects: a monitor loads 100,000s of them at start.
    """
    table = DepositAddress.__table__
    connection = await session.connection()  # Core, not ORM: several times faster for big sets
    result = await connection.execute(
        select(table.c.id, table.c.address)
        .where(table.c.network == network.value, table.c.id > after_id)
        .order_by(table.c.id)
    )
    return [(int(address_id), str(address)) for address_id, address in result.tuples()]


async def get_cursor(*, session: AsyncSession, network: Network) -> ChainCursor | None:
    return await session.get(ChainCursor, network.value, populate_existing=True)


async def record_tip(*, session: AsyncSession, network: Network, tip: int) -> None:
    """Remember the node's best height (for the scanner-lag metric); no cursor yet: nothing to do."""
    await session.execute(
        update(ChainCursor).where(ChainCursor.network == network.value).values(tip_height=tip)
    )


async def set_cursor(*, session: AsyncSession, network: Network, height: int, block_hash: str) -> None:
    cursor = await get_cursor(session=session, network=network)
    now = clock_of(session).now()
    if cursor is None:
        session.add(ChainCursor(network=network.value, height=height, block_hash=block_hash, updated_at=now))
    else:
        cursor.height, cursor.block_hash, cursor.updated_at = height, block_hash, now
    existing = await session.get(ChainBlock, (network.value, height))
    if existing is None:
        session.add(ChainBlock(network=network.value, height=height, block_hash=block_hash))
    else:
        existing.block_hash = block_hash
    await session.flush()


async def recent_blocks(*, session: AsyncSession, network: Network, at_or_below: int) -> list[ChainBlock]:
    result = await session.execute(
        select(ChainBlock)
        .where(ChainBlock.network == network.value, ChainBlock.height <= at_or_below)
        .order_by(ChainBlock.height.desc())
    )
    return list(result.scalars())


async def prune_blocks(*, session: AsyncSession, network: Network, below: int) -> None:
    await session.execute(
        delete(ChainBlock).where(ChainBlock.network == network.value, ChainBlock.height < below)
    )


async def rewind(
    *, session: AsyncSession, network: Network, fork_height: int, fork_hash: str
) -> RewindResult:
    """Undo everything above `fork_height`: unconfirmed detections are orphaned (never the ledger)."""
    orphaned = await session.execute(
        update(ChainDeposit)
        .where(
            ChainDeposit.network == network.value,
            ChainDeposit.block_height > fork_height,
            ChainDeposit.status == DepositStatus.DETECTED,
        )
        .values(status=DepositStatus.ORPHANED)
        .returning(ChainDeposit.id)
    )
    orphaned_ids = list(orphaned.scalars())
    settled = await session.execute(
        select(ChainDeposit.id).where(
            ChainDeposit.network == network.value,
            ChainDeposit.block_height > fork_height,
            ChainDeposit.status.in_([DepositStatus.CREDITED, DepositStatus.SUSPENSE]),
        )
    )
    await session.execute(
        delete(ChainBlock).where(ChainBlock.network == network.value, ChainBlock.height > fork_height)
    )
    if fork_hash:
        await set_cursor(session=session, network=network, height=fork_height, block_hash=fork_hash)
    else:  # back to before the first scanned block
        await session.execute(delete(ChainCursor).where(ChainCursor.network == network.value))
    return RewindResult(
        orphaned=len(orphaned_ids), settled_above_fork=list(settled.scalars()), orphaned_ids=orphaned_ids
    )


async def record_detection(
    *,
    session: AsyncSession,
    network: Network,
    transfer: Transfer,
    deposit_address_id: int | None,
    reason: str,
) -> bool:
    """Record a transfer once per (network, txid, index); True if new or revived after a reorg."""
    existing = (
        await session.execute(
            select(ChainDeposit).where(
                ChainDeposit.network == network.value,
                ChainDeposit.txid == transfer.txid,
                ChainDeposit.log_index == transfer.index,
            )
        )
    ).scalar_one_or_none()
    ours = reason not in NOT_OUR_ASSET and transfer.amount < MAX_MINOR
    amount_minor = transfer.amount if ours else None
    if existing is None:
        try:
            async with session.begin_nested():
                session.add(
                    ChainDeposit(
                        network=network.value,
                        txid=transfer.txid,
                        log_index=transfer.index,
                        block_height=transfer.height,
                        block_hash=transfer.block_hash,
                        token=transfer.token,
                        address=transfer.to,
                        raw_amount=str(transfer.amount),
                        amount_minor=amount_minor,
                        deposit_address_id=deposit_address_id,
                        status=DepositStatus.DETECTED,
                        reason=reason,
                        detected_at=clock_of(session).now(),
                    )
                )
                await session.flush()
        except IntegrityError:
            return False  # another monitor recorded it first
        return True
    if existing.status in (DepositStatus.ORPHANED, DepositStatus.DETECTED) and (
        existing.status == DepositStatus.ORPHANED or existing.block_hash != transfer.block_hash
    ):
        existing.status = DepositStatus.DETECTED
        existing.block_height, existing.block_hash = transfer.height, transfer.block_hash
        return True
    return False


async def confirmable(*, session: AsyncSession, network: Network, max_height: int) -> list[ChainDeposit]:
    result = await session.execute(
        select(ChainDeposit)
        .where(
            ChainDeposit.network == network.value,
            ChainDeposit.status == DepositStatus.DETECTED,
            ChainDeposit.block_height <= max_height,
        )
        .order_by(ChainDeposit.block_height, ChainDeposit.id)
    )
    return list(result.scalars())


async def lock_deposit(*, session: AsyncSession, deposit_id: int) -> ChainDeposit | None:
    result = await session.execute(
        select(ChainDeposit)
        .where(ChainDeposit.id == deposit_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def spendable_coin_values(*, session: AsyncSession, network: Network) -> list[int]:
    """The values of the coins a withdrawal could spend now (BTC), largest first."""
    result = await session.execute(
        select(ChainDeposit.amount_minor)
        .where(
            ChainDeposit.network == network.value,
            ChainDeposit.status.in_(list(SPENDABLE)),
            ChainDeposit.spent_by == "",
            ChainDeposit.amount_minor.is_not(None),
        )
        .order_by(ChainDeposit.amount_minor.desc())
    )
    return [int(value) for value in result.scalars() if value is not None]
