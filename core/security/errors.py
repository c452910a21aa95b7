"""Security errors: each carries a stable `code`."""

from __future__ import annotations

from core.errors import KibetiError


class EnvelopeError(KibetiError):
    """An envelope is malformed, sealed under an unknown key, or fails authentication."""

    code = "envelope_invalid"


class KeyringError(KibetiError):
    """The keyring cannot be built (e.g. no master passphrase configured)."""

    code = "keyring_invalid"


class CallbackRejected(KibetiError):
    """An inbound callback failed its path-token or IP allow-list check."""

    code = "callback_rejected"


class WebhookSignatureInvalid(KibetiError):
    code = "webhook_signature_invalid"
