"""What a wallet scans: BIP21 for Bitcoin, EIP-681 for an ERC-20 transfer, the bare address for TRON."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from core.money import Asset, Money

# Tether's USDT contract on Ethereum mainnet, shown when no contract is configured (the embedded
# default's simulated chain takes any token, and a real wallet then asks for the right one).
MAINNET_USDT_ERC20 = "0xdAC17F958D2ee523a2206206994597C13D831ec7"


def _plain(amount: Decimal) -> str:
    text = format(amount.normalize(), "f")
    return text if text != "-0" else "0"


def bip21(address: str, amount: Money, label: str = "") -> str:
    """bitcoin:<address>?amount=<BTC, decimal>&label=... (BIP 21)."""
    uri = f"bitcoin:{address}?amount={_plain(amount.amount)}"
    return uri + (f"&label={quote(label)}" if label else "")


def eip681_erc20(address: str, amount: Money, token_contract: str) -> str:
    """ethereum:<token>/transfer?address=<to>&uint256=<base units> (EIP 681, an ERC-20 transfer)."""
    return f"ethereum:{token_contract}/transfer?address={address}&uint256={amount.minor}"


def payment_uri(asset: Asset, address: str, amount: Money, *, erc20_contract: str, label: str = "") -> str:
    if asset is Asset.BTC:
        return bip21(address, amount, label)
    if asset is Asset.USDT_ERC20:
        return eip681_erc20(address, amount, erc20_contract or MAINNET_USDT_ERC20)
    return address  # TRON wallets take the address; the amount is shown beside it
