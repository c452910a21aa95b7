"""Error reports to Sentry (when SENTRY_DSN is set), scrubbed by the same masking as the logs.

Phone numbers, ID numbers, PINs, OTPs, tokens and the callback path secrets never leave the process:
every event passes through `scrub` before it is sent, including stack-frame variables.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.fastapi import FastApiIntegration
from sentry_sdk.integrations.rq import RqIntegration
from sentry_sdk.integrations.starlette import StarletteIntegration

from core.config import Settings
from core.logging import REDACTED, mask_value


def _secrets_of(settings: Settings) -> list[str]:
    """Values that must never appear anywhere in a report (they sit in callback URLs)."""
    values = [
        settings.mpesa_callback_token.get_secret_value(),
        settings.at_callback_token.get_secret_value(),
        settings.telegram_webhook_secret.get_secret_value(),
        settings.telegram_bot_token.get_secret_value(),
    ]
    return [value for value in values if len(value) >= 8]


def _replace_secrets(value: Any, secrets: Iterable[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {key: _replace_secrets(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_secrets(item, secrets) for item in value]
    return value


def scrubber(settings: Settings) -> Any:
    secrets = _secrets_of(settings)

    def scrub(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
        masked = {key: mask_value(key, value) for key, value in event.items()}
        cleaned: dict[str, Any] = _replace_secrets(masked, secrets)
        return cleaned

    return scrub


def init_error_reporting(settings: Settings, **options: Any) -> bool:
    """Start Sentry for this process; False (and nothing started) without a DSN."""
    dsn = settings.sentry_dsn.get_secret_value()
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.kibeti_env,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        max_request_body_size="never",  # USSD text carries PINs and IDs: bodies are never reported
        integrations=[StarletteIntegration(), FastApiIntegration(), RqIntegration()],
        before_send=scrubber(settings),
        **options,
    )
    return True
