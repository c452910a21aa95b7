"""Staff authentication and API-key errors."""

from __future__ import annotations

from core.errors import KibetiError


class LoginFailed(KibetiError):
    """Wrong email, password or TOTP code (deliberately not saying which)."""

    code = "login_failed"


class AccountLocked(KibetiError):
    code = "account_locked"

    def __init__(self, message: str = "too many failed logins", *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WeakPassword(KibetiError, ValueError):
    code = "weak_password"


class StaffExists(KibetiError):
    code = "staff_exists"


class InvalidEmail(KibetiError):
    code = "invalid_email"


class InvalidRole(KibetiError, ValueError):
    code = "invalid_role"


class TokenInvalid(KibetiError):
    """Malformed, tampered, wrong algorithm, expired or revoked token."""

    code = "token_invalid"


class RefreshReused(TokenInvalid):
    """A refresh token was presented twice: its whole family has been revoked."""

    code = "refresh_reused"


class PermissionDenied(KibetiError):
    code = "permission_denied"


class ApiKeyInvalid(KibetiError):
    code = "api_key_invalid"


class ApiKeyScopeDenied(KibetiError):
    code = "api_key_scope"
