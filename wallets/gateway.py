"""The ChainGateway adapter (core.ports): deposit addresses and address validation."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.money import Asset
from core.ports import DepositAddress
from wallets import addresses, service
from wallets.hd import AddressDeriver
from wallets.networks import BitcoinNet, Network


class WalletGateway:
    """Watch-only: holds account xpubs, never a private key."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        deriver: AddressDeriver,
        btc_net: BitcoinNet = BitcoinNet.MAINNET,
    ) -> None:
        self._session_factory = session_factory
        self._deriver = deriver
        self._btc_net = btc_net

    async def deposit_address(self, *, owner_type: str, owner_id: int, asset: Asset) -> DepositAddress:
        network = Network.for_asset(asset)
        async with self._session_factory() as session, session.begin():
            row = await service.get_or_create_deposit_address(
                session=session,
                deriver=self._deriver,
                owner_type=owner_type,
                owner_id=owner_id,
                network=network,
            )
            return DepositAddress(asset=asset, address=row.address, derivation_index=row.derivation_index)

    def validate_address(self, *, asset: Asset, address: str) -> str:
        return addresses.validate(Network.for_asset(asset), address, btc_net=self._btc_net)
