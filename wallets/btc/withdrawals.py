"""BTC withdrawals: coins are the credited deposit outputs (and our change), spent directly from
the deposit addresses' keys; fee = sat/vB from the node x the transaction's vsize; change goes to
the house change address m/84'/0'/0'/1/0.

Ledger on confirmation (exact, all in BTC): the customer's hold (amount + fee) is posted; custody
gives up amount + network fee; fee_revenue earns the fee; network_fees (an expense) is debited
with the network fee. The signed transaction and the spent outputs are stored before broadcast.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import clock_of
from core.ledger.types import AccountKind
from core.money import Asset, Money
from wallets import service
from wallets.btc.fees import fee_rate, fee_sats
from wallets.btc.source import EsploraClient
from wallets.errors import HotWalletInsufficient, WithdrawalStateError
from wallets.hd._bitcoinlib import Key, Transaction
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed
from wallets.models import ChainDeposit, DepositAddress, Withdrawal
from wallets.networks import BITCOIN_PARAMS, Network
from wallets.withdrawals.lifecycle import (
    BROADCAST,
    CONFIRMED,
    HELD,
    SIGNED,
    broadcast_signed,
    lock_withdrawal,
    post_confirmed,
)

log = logging.getLogger(__name__)
CHANGE_CHAIN = 1
CHANGE_INDEX = 0
DUST_SATS = 546


class BtcWithdrawals:
    network = Network.BTC

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        node: EsploraClient,
        seed: Seed,
        deriver: AddressDeriver,
        confirmations: int = 3,
        target_blocks: int = 3,
    ) -> None:
        self._sessions = session_factory
        self._node = node
        self._seed = seed
        self._deriver = deriver
        self._confirmations = confirmations
        self._target = target_blocks
        self._bcl_network = BITCOIN_PARAMS[deriver.btc_net].bitcoinlib_network

    async def _load(self, session: AsyncSession, withdrawal_id: int) -> Withdrawal:
        return await lock_withdrawal(session, withdrawal_id, self.network)

    async def send(self, withdrawal_id: int) -> str:
        rate = await fee_rate(self._node.client, target_blocks=self._target)
        async with self._sessions() as session, session.begin():
            row = await self._load(session, withdrawal_id)
            if row.status == HELD:
                await self._sign(session, row, rate)
            raw, txid, status = row.raw_tx, row.txid, row.status
        if status != SIGNED:
            return status
        return await broadcast_signed(
            self._sessions,
            withdrawal_id,
            self.network,
            txid=txid,
            broadcast=lambda: self._node.broadcast(raw),
        )

    async def _coins(self, session: AsyncSession) -> list[tuple[ChainDeposit, DepositAddress]]:
        result = await session.execute(
            select(ChainDeposit, DepositAddress)
            .join(DepositAddress, DepositAddress.id == ChainDeposit.deposit_address_id)
            .where(
                ChainDeposit.network == Network.BTC.value,
                ChainDeposit.status.in_(list(service.SPENDABLE)),
                ChainDeposit.spent_by == "",
                ChainDeposit.amount_minor.is_not(None),
            )
            .order_by(ChainDeposit.amount_minor.desc())
            .with_for_update(of=ChainDeposit)
        )
        return [(coin, address) for coin, address in result.tuples()]

    async def _sign(self, session: AsyncSession, row: Withdrawal, rate: Decimal) -> None:
        chosen: list[tuple[ChainDeposit, DepositAddress]] = []
        total = 0
        for coin, address in await self._coins(session):
            chosen.append((coin, address))
            total += coin.amount_minor or 0
            if total >= row.amount_minor + fee_sats(rate, inputs=len(chosen), outputs=2):
                break
        fee = fee_sats(rate, inputs=len(chosen), outputs=2)
        if total < row.amount_minor + fee:
            log.error("BTC custody cannot cover a withdrawal", extra={"withdrawal_id": row.id})
            raise HotWalletInsufficient("not enough confirmed BTC to send this withdrawal yet; staff alerted")
        change = total - row.amount_minor - fee
        if change < DUST_SATS:
            fee, change = fee + change, 0  # dust change goes to the miners
        tx = Transaction(network=self._bcl_network, witness_type="segwit")
        keys = []
        for coin, address in chosen:
            key = Key(
                self._seed.private_key(Network.BTC, address.derivation_index, chain=address.chain),
                network=self._bcl_network,
            )
            keys.append(key)
            tx.add_input(coin.txid, coin.log_index, keys=key, value=coin.amount_minor, witness_type="segwit")
        tx.add_output(row.amount_minor, row.address)
        if change:
            house = await service.house_address(
                session=session,
                deriver=self._deriver,
                network=Network.BTC,
                chain=CHANGE_CHAIN,
                index=CHANGE_INDEX,
            )
            tx.add_output(change, house.address)
        for index, key in enumerate(keys):  # each input with its own key (coins of several addresses)
            tx.sign(key, index_n=index)
        if not tx.verify():
            raise WithdrawalStateError("the signed BTC transaction does not verify")
        signed = Transaction.parse_hex(tx.raw_hex(), network=self._bcl_network)
        for coin, _ in chosen:
            coin.spent_by = str(signed.txid)
        row.raw_tx, row.txid, row.status = tx.raw_hex(), str(signed.txid), SIGNED
        row.network_fee_native, row.gas_price_wei = str(fee), str(rate)
        row.updated_at = clock_of(session).now()

    async def track(self, withdrawal_id: int) -> str:
        async with self._sessions() as session:
            row = await session.get(Withdrawal, withdrawal_id)
            if row is None or row.status != BROADCAST:
                return row.status if row else "missing"
            txid = row.txid
        height = await self._node.tx_height(txid)
        if height is None or await self._node.tip() - height + 1 < self._confirmations:
            return BROADCAST
        async with self._sessions() as session, session.begin():
            row = await self._load(session, withdrawal_id)
            if row.status != BROADCAST:
                return row.status
            row.block_height, row.entry_id = height, str(await self._post(session, row))
            row.status, row.updated_at = CONFIRMED, clock_of(session).now()
            return row.status

    async def _post(self, session: AsyncSession, row: Withdrawal) -> int:
        network_fee = Money.from_minor(int(row.network_fee_native), Asset.BTC)
        return await post_confirmed(
            session,
            row,
            network_fee=network_fee,
            fee_paid_from=AccountKind.CUSTODY,
            details={
                "txid": row.txid,
                "network_fee_sat": row.network_fee_native,
                "fee_rate": row.gas_price_wei,
            },
        )
