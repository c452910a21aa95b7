"""Queries and writes of the wallets package (session passed in, keyword-only arguments)."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wallets.hd import AddressDeriver
from wallets.models import AddressCounter, DepositAddress
from wallets.networks import Network


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


async def _increment_counter(session: AsyncSession, network: Network) -> int | None:
    result = await session.execute(
        update(AddressCounter)
        .where(AddressCounter.network == network.value)
        .values(next_index=AddressCounter.next_index + 1)
        .returning(AddressCounter.next_index)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


async def next_index(*, session: AsyncSession, network: Network) -> int:
    """Claim the next derivation index: one atomic UPDATE ... RETURNING on the counter row.

    The row lock is held until the caller's transaction ends, so concurrent allocations serialise
    and no index is ever handed out twice (the unique (network, derivation_index) backs this up).
    """
    claimed = await _increment_counter(session, network)
    if claimed is None:
        try:
            async with session.begin_nested():
                await session.execute(insert(AddressCounter).values(network=network.value, next_index=0))
        except IntegrityError:
            pass  # another transaction created it first
        claimed = await _increment_counter(session, network)
        if claimed is None:  # pragma: no cover - the row exists by now
            raise RuntimeError(f"address counter for {network.value} missing")
    return claimed - 1


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


async def address_map(*, session: AsyncSession, network: Network) -> dict[str, DepositAddress]:
    """Every address we watch on `network`, keyed by its match form (lowercase for EVM)."""
    result = await session.execute(select(DepositAddress).where(DepositAddress.network == network.value))
    return {match_key(network, row.address): row for row in result.scalars()}


def match_key(network: Network, address: str) -> str:
    return address.lower() if network is Network.ERC20 else address
