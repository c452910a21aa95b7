"""A pool of pre-derived receive addresses, so a new merchant invoice takes its three addresses
without waiting on the HD index counters (which a transaction holds until it commits): the
scheduler tops the pool up in short transactions of their own; invoices claim from it with
FOR UPDATE SKIP LOCKED and fall back to the counters when it is empty."""

from __future__ import annotations

from core import runtime
from wallets.gateway import WalletGateway

POOL_TARGET = 300  # per network: ~30 s of invoices at 10 a second between two refills


async def refill_invoice_address_pool(
    outbox_id: int | None = None, target: int = POOL_TARGET
) -> dict[str, int]:
    chains = runtime.get().chains
    if not isinstance(chains, WalletGateway):  # no chains configured here
        return {}
    return await chains.refill_address_pool(target=target)
