"""Named errors of merchant dashboard users."""

from __future__ import annotations

from core.errors import KibetiError


class MerchantUserExists(KibetiError):
    code = "merchant_user_exists"
    http_status = 409


class InvalidMerchantRole(KibetiError, ValueError):
    code = "invalid_merchant_role"
    http_status = 422


class MerchantSignInFailed(KibetiError):
    code = "merchant_sign_in_failed"
    http_status = 401


class MerchantUserLocked(KibetiError):
    code = "merchant_user_locked"
    http_status = 429

    def __init__(self, *, retry_after: int) -> None:
        super().__init__("too many failed sign-ins")
        self.retry_after = retry_after
