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


class WithdrawalHeldForReview(WalletError, RecordedRefusal):
    """The compliance gate sent the withdrawal to review: its amount and fee are held and it waits
    (status `review`) for staff, who send it or release the money (wallets.withdrawals.review).
    A refusal only to the caller's flow, which commits the hold and tells the customer."""

    code = "withdrawal_held_for_review"
    acted_on = True

    def __init__(self, withdrawal_id: int) -> None:
        super().__init__(f"withdrawal {withdrawal_id} is held for compliance review")
        self.withdrawal_id = withdrawal_id


class WithdrawalRefused(WalletError, RecordedRefusal):
    """The compliance gate did not allow the withdrawal (deny; review where nothing can be held)."""

    code = "withdrawal_refused"

    def __init__(self, reason_code: str, *, decision: str) -> None:
        super().__init__(f"withdrawal not allowed: {reason_code} ({decision})")
        self.reason_code = reason_code
        self.decision = decision
