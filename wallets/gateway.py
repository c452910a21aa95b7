"""The ChainGateway adapter (core.ports): deposit addresses, address validation, network fee
estimates for quotes, and withdrawal requests (held here, sent by the signer)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.money import Asset, Money
from core.outbox import service as outbox
from core.ports import ComplianceGate, DepositAddress, PendingDeposit, WithdrawalTicket
from wallets import service
from wallets.errors import WalletNotConfigured
from wallets.hd import addresses
from wallets.hd.derivation import AddressDeriver
from wallets.models import ChainCursor, ChainDeposit
from wallets.models import DepositAddress as DepositAddressRow
from wallets.networks import DEFAULT_CONFIRMATIONS, BitcoinNet, Network
from wallets.service import DepositStatus
from wallets.withdrawals.fees import NetworkFeeEstimator
from wallets.withdrawals.lifecycle import request_withdrawal

SEND_JOB = "wallets.jobs.send_withdrawal"
SIGNER_QUEUE = "wallets"  # served by the signer worker, the only process holding the seed


class WalletGateway:
    """Watch-only: holds account xpubs, never a private key."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        deriver: AddressDeriver,
        btc_net: BitcoinNet = BitcoinNet.MAINNET,
        gate: ComplianceGate | Callable[[], ComplianceGate | None] | None = None,
        dust_minor: dict[Network, int] | None = None,
        withdrawable: frozenset[Network] | None = None,
        fee_estimator: NetworkFeeEstimator | None = None,
        confirmations: dict[Network, int] | None = None,  # per network; default: the blueprint's
    ) -> None:
        self._fee_estimator = fee_estimator
        self._confirmations = confirmations or DEFAULT_CONFIRMATIONS
        self._session_factory = session_factory
        self._withdrawable = withdrawable  # None: every network
        self._deriver = deriver
        self._btc_net = btc_net
        self._gate = gate
        self._dust = dust_minor or {}

    async def deposit_address(
        self, *, owner_type: str, owner_id: int, asset: Asset, session: Any = None
    ) -> DepositAddress:
        network = Network.for_asset(asset)
        if session is not None:  # the caller's transaction (e.g. an invoice and its addresses at once)
            row = await service.get_or_create_deposit_address(
                session=session,
                deriver=self._deriver,
                owner_type=owner_type,
                owner_id=owner_id,
                network=network,
            )
        else:
            async with self._session_factory() as own, own.begin():
                row = await service.get_or_create_deposit_address(
                    session=own,
                    deriver=self._deriver,
                    owner_type=owner_type,
                    owner_id=owner_id,
                    network=network,
                )
        return DepositAddress(
            asset=asset, address=row.address, derivation_index=row.derivation_index, demo=self._deriver.demo
        )

    async def new_owner_addresses(
        self, *, owner_type: str, owner_id: int, assets: list[Asset], session: Any
    ) -> list[DepositAddress]:
        rows = await service.allocate_addresses(
            session=session,
            deriver=self._deriver,
            owner_type=owner_type,
            owner_id=owner_id,
            networks=[Network.for_asset(asset) for asset in assets],
        )
        return [
            DepositAddress(
                asset=asset,
                address=row.address,
                derivation_index=row.derivation_index,
                demo=self._deriver.demo,
            )
            for asset, row in zip(assets, rows, strict=True)
        ]

    async def refill_address_pool(self, *, target: int) -> dict[str, int]:
        """Top up each network's pool of pre-derived addresses (new invoices claim from it)."""
        added = {}
        for network in Network:
            async with self._session_factory() as session, session.begin():
                added[network.value] = await service.refill_pool(
                    session=session, deriver=self._deriver, network=network, target=target
                )
        return added

    def validate_address(self, *, asset: Asset, address: str) -> str:
        return addresses.validate(Network.for_asset(asset), address, btc_net=self._btc_net)

    async def network_fee(self, *, asset: Asset, address: str, amount: Money) -> Money:
        """The network fee estimate of withdrawing `amount` to `address`, in `asset`."""
        network = Network.for_asset(asset)
        destination = addresses.validate(network, address, btc_net=self._btc_net)
        if self._fee_estimator is None:
            raise WalletNotConfigured("no network fee estimator is wired: withdrawals cannot be quoted")
        coins = None
        if network is Network.BTC:
            async with self._session_factory() as session:
                coins = await service.spendable_coin_values(session=session, network=network)
        return await self._fee_estimator.estimate(
            network, to=destination, amount_minor=amount.minor, coins=coins
        )

    async def request_withdrawal(
        self,
        *,
        session: AsyncSession,
        request_key: str,
        owner_type: str,
        owner_id: int,
        asset: Asset,
        address: str,
        amount: Money,
        fee: Money,
        amount_kes: Money | None = None,
        network_fee: Money | None = None,
    ) -> WithdrawalTicket:
        """Validate, screen, hold `amount + fee`, and stage the signer's send job, all in the
        caller's transaction (so a failed flow leaves neither a hold nor a job behind).
        `network_fee`: the part of `fee` charged for the network fee."""
        network = Network.for_asset(asset)
        row = await request_withdrawal(
            session=session,
            request_key=request_key,
            network=network,
            owner_type=owner_type,
            owner_id=owner_id,
            address=address,
            amount=amount,
            fee=fee,
            network_fee=network_fee,
            dust_minor=self._dust.get(network, 0),
            btc_net=self._btc_net,
            gate=self._gate() if callable(self._gate) else self._gate,
            amount_kes=amount_kes,
            sendable=self._withdrawable is None or network in self._withdrawable,
        )
        await outbox.enqueue(
            session=session,
            job=SEND_JOB,
            kwargs={"withdrawal_id": row.id},
            dedupe_key=f"withdrawal-send:{request_key}",
            queue=SIGNER_QUEUE,
        )
        return WithdrawalTicket(withdrawal_id=row.id, status=row.status, address=row.address)

    # --- issue 19: deposits seen but not yet confirmed (core.ports.DepositWatch) ----------------

    async def pending_deposits(self, *, owner_type: str, owner_id: int) -> list[PendingDeposit]:
        """The owner's deposits detected on chain and not yet credited, with their confirmations so
        far (from the monitor's cursor) of those the network needs."""
        query = (
            select(ChainDeposit, ChainCursor.height)
            .join(DepositAddressRow, DepositAddressRow.id == ChainDeposit.deposit_address_id)
            .outerjoin(ChainCursor, ChainCursor.network == ChainDeposit.network)
            .where(
                DepositAddressRow.owner_type == owner_type,
                DepositAddressRow.owner_id == owner_id,
                ChainDeposit.status == DepositStatus.DETECTED,
                ChainDeposit.reason == "",
                ChainDeposit.amount_minor.is_not(None),
            )
            .order_by(ChainDeposit.id.desc())
            .limit(10)
        )
        async with self._session_factory() as session:
            rows = (await session.execute(query)).all()
        pending = []
        for deposit, tip in rows:
            network = Network(deposit.network)
            required = self._confirmations[network]
            seen = 0 if tip is None else max(0, min(required, int(tip) - deposit.block_height + 1))
            at = (
                deposit.detected_at if deposit.detected_at.tzinfo else deposit.detected_at.replace(tzinfo=UTC)
            )
            pending.append(
                PendingDeposit(
                    asset=network.asset,
                    amount=Money.from_minor(int(deposit.amount_minor or 0), network.asset),
                    confirmations=seen, required=required, seen_at=at,
                )
            )  # fmt: skip
        return pending
