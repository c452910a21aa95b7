"""A pool of pre-derived receive addresses, so a new merchant invoice takes its three addresses
without waiting on the HD index counters (which a transaction holds until it commits): the
scheduler tops the pool up in short transactions of their own; invoices claim from it with
FOR UPDATE SKIP LOCKED and fall back to the counters when it is empty."""

from __future__ import annotations

import logging

from core import runtime
from wallets import service
from wallets.adapter import deriver_for
from wallets.errors import WalletNotConfigured
from wallets.networks import Network

log = logging.getLogger(__name__)
POOL_TARGET = 300  # per network: ~30 s of invoices at 10 a second between two refills


async def refill_invoice_address_pool(
    outbox_id: int | None = None, target: int = POOL_TARGET
) -> dict[str, int]:
    current = runtime.get()
    try:
        deriver = deriver_for(current.settings.wallets, current.settings)
    except WalletNotConfigured as exc:
        log.warning("address pool not refilled: %s", exc)
        return {}
    added: dict[str, int] = {}
    for network in Network:
        try:
            deriver.address(network, 0)
        except WalletNotConfigured:
            continue  # no key for this network
        async with current.session_factory() as session, session.begin():
            added[network.value] = await service.refill_pool(
                session=session, deriver=deriver, network=network, target=target
            )
    return added
