"""TRON fee estimation for a TRC20 transfer: energy and bandwidth, priced by the chain parameters.

Energy comes from staked TRX or is burned at `getEnergyFee` sun per unit; bandwidth likewise at
`getTransactionFee` sun per byte (after the account's free and staked bandwidth).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from wallets.errors import NodeError
from wallets.trc20.source import tron_address

TRC20_TRANSFER_BYTES = 345  # a signed TRC20 transfer transaction, bandwidth points
DEFAULT_TRANSFER_ENERGY = 65_000  # used when the node cannot simulate the call
SUN_PER_TRX = 1_000_000


@dataclass(frozen=True)
class TronFeeQuote:
    energy: int
    bandwidth: int
    energy_burn: int  # energy not covered by staking, paid in TRX
    bandwidth_burn: int
    sun: int  # TRX burned, in sun

    @property
    def trx(self) -> str:
        whole, rest = divmod(self.sun, SUN_PER_TRX)
        return f"{whole}.{rest:06d}"


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        response = await client.post(path, json=body)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise NodeError(f"TRON {path} failed: {exc}") from exc
    if not isinstance(data, dict):
        raise NodeError(f"TRON {path}: unexpected answer")
    return data


async def chain_prices(client: httpx.AsyncClient) -> tuple[int, int]:
    """(sun per energy unit, sun per bandwidth byte)."""
    data = await _post(client, "/wallet/getchainparameters", {})
    params = {p.get("key"): p.get("value") for p in data.get("chainParameter", [])}
    try:
        return int(params["getEnergyFee"]), int(params["getTransactionFee"])
    except (KeyError, TypeError, ValueError) as exc:
        raise NodeError("TRON chain parameters lack the energy or transaction fee") from exc


async def estimate_transfer(
    client: httpx.AsyncClient, *, owner: str, contract: str, to: str, amount: int
) -> TronFeeQuote:
    energy_price, byte_price = await chain_prices(client)
    parameter = tron_hex_parameter(to, amount)
    simulated = await _post(
        client,
        "/wallet/triggerconstantcontract",
        {
            "owner_address": owner,
            "contract_address": contract,
            "function_selector": "transfer(address,uint256)",
            "parameter": parameter,
            "visible": True,
        },
    )
    energy = int(simulated.get("energy_used") or DEFAULT_TRANSFER_ENERGY)
    resources = await _post(client, "/wallet/getaccountresource", {"address": owner, "visible": True})
    energy_left = int(resources.get("EnergyLimit", 0)) - int(resources.get("EnergyUsed", 0))
    free_bytes = int(resources.get("freeNetLimit", 0)) - int(resources.get("freeNetUsed", 0))
    staked_bytes = int(resources.get("NetLimit", 0)) - int(resources.get("NetUsed", 0))
    energy_burn = max(0, energy - max(0, energy_left))
    # bandwidth is all-or-nothing: if the account cannot cover the whole transaction, it burns TRX for it
    bandwidth_burn = 0 if max(free_bytes, staked_bytes) >= TRC20_TRANSFER_BYTES else TRC20_TRANSFER_BYTES
    return TronFeeQuote(
        energy=energy,
        bandwidth=TRC20_TRANSFER_BYTES,
        energy_burn=energy_burn,
        bandwidth_burn=bandwidth_burn,
        sun=energy_burn * energy_price + bandwidth_burn * byte_price,
    )


def tron_hex_parameter(to: str, amount: int) -> str:
    """ABI-encoded (address, uint256) arguments of transfer(), as TRON's API takes them."""
    from wallets.hd.encoding import b58check_decode

    account = b58check_decode(tron_address(to))[1:]
    return account.hex().rjust(64, "0") + format(amount, "x").rjust(64, "0")
