"""Named errors of the wallets package, flat. Channels translate them by `code`."""

from __future__ import annotations

from core.errors import KibetiError, RecordedRefusal


class WalletError(KibetiError):
    code = "wallet_error"


class InvalidAddress(WalletError, ValueError):
    """The text is not a valid address for the asked network (checksum, length, alphabet)."""

    code = "invalid_address"


class WrongNetworkAddress(InvalidAddress):
    """A valid address, but of another network than the asset's (e.g. TRON for USDT-ERC20)."""

    code = "wrong_network_address"

    def __init__(self, message: str, *, expected: str, found: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.found = found


class UnsupportedAsset(WalletError, ValueError):
    code = "unsupported_asset"


class WalletNotConfigured(WalletError):
    """No account xpub (or seed, in the signer) is configured for a network."""

    code = "wallet_not_configured"


class NodeError(WalletError):
    """A chain node failed, timed out or answered something malformed or contradictory."""

    code = "chain_node_error"


class ReorgTooDeep(WalletError):
    """A reorg reached below the oldest block we remember: staff must look."""

    code = "chain_reorg_too_deep"


class AmountBelowDust(WalletError, ValueError):
    code = "amount_below_dust"


class HotWalletInsufficient(WalletError):
    code = "hot_wallet_insufficient"


class WithdrawalStateError(WalletError):
    code = "withdrawal_state_error"


class WithdrawalRefused(WalletError, RecordedRefusal):
    """The compliance gate did not allow the withdrawal (deny, or review by staff)."""

    code = "withdrawal_refused"

    def __init__(self, reason_code: str, *, decision: str) -> None:
        super().__init__(f"withdrawal not allowed: {reason_code} ({decision})")
        self.reason_code = reason_code
        self.decision = decision
