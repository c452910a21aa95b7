"""Identity errors: flat, each with a stable `code` the channels translate."""

from __future__ import annotations

from datetime import datetime

from core.errors import KibetiError


class InvalidPhoneNumber(KibetiError, ValueError):
    code = "invalid_phone"


class CustomerNotFound(KibetiError):
    code = "customer_not_found"


class PhoneAlreadyRegistered(KibetiError):
    code = "phone_taken"


class InvalidLanguage(KibetiError, ValueError):
    code = "invalid_language"


class CustomerBlocked(KibetiError):
    code = "customer_blocked"


class InvalidPin(KibetiError, ValueError):
    """Not exactly four digits."""

    code = "invalid_pin"


class TrivialPin(KibetiError, ValueError):
    code = "pin_trivial"


class PinIncorrect(KibetiError):
    code = "pin_incorrect"

    def __init__(self, message: str = "incorrect PIN", *, attempts_left: int = 0) -> None:
        super().__init__(message)
        self.attempts_left = attempts_left


class PinLocked(KibetiError):
    code = "pin_locked"

    def __init__(self, message: str = "PIN locked", *, retry_after: int, locked_until: datetime) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # whole seconds
        self.locked_until = locked_until


class WithdrawalsCoolingDown(KibetiError):
    """Withdrawals and payouts are paused after a PIN reset (SIM-swap defence)."""

    code = "withdrawals_cooldown"

    def __init__(self, message: str = "withdrawals paused after PIN reset", *, allowed_at: datetime) -> None:
        super().__init__(message)
        self.allowed_at = allowed_at


class NationalIdMismatch(KibetiError):
    code = "national_id_mismatch"


class OtpInvalid(KibetiError):
    code = "otp_invalid"

    def __init__(self, message: str = "incorrect or expired code", *, attempts_left: int = 0) -> None:
        super().__init__(message)
        self.attempts_left = attempts_left


class OtpExpired(KibetiError):
    code = "otp_expired"


class OtpTooManyRequests(KibetiError):
    code = "otp_rate_limited"

    def __init__(self, message: str = "too many codes requested", *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PinResetPending(KibetiError):
    """Staff reset the PIN: the old one no longer works; set a new one from the SMS code."""

    code = "pin_reset_pending"
