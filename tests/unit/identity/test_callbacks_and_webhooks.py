from __future__ import annotations

import pytest

from core.security import callbacks, telegram, webhooks
from core.security.errors import CallbackRejected, WebhookSignatureInvalid

PROXIES = ["10.0.0.0/8"]


def test_forwarded_for_ignored_from_untrusted_peer() -> None:
    assert callbacks.client_ip(
        peer="203.0.113.9", forwarded_for="196.201.214.200", trusted_proxies=PROXIES
    ) == ("203.0.113.9")


def test_forwarded_for_used_from_trusted_proxy() -> None:
    ip = callbacks.client_ip(
        peer="10.0.0.2", forwarded_for="1.2.3.4, 196.201.214.200, 10.0.0.7", trusted_proxies=PROXIES
    )
    assert ip == "196.201.214.200"


def test_check_callback_token_and_allowlist() -> None:
    allow = ["196.201.214.0/24"]
    assert (
        callbacks.check_callback(
            path_token="s3cret-token",
            expected_token="s3cret-token",
            peer="10.0.0.2",
            forwarded_for="196.201.214.200",
            trusted_proxies=PROXIES,
            allowlist=allow,
        )
        == "196.201.214.200"
    )
    with pytest.raises(CallbackRejected):
        callbacks.check_callback(path_token="wrong", expected_token="s3cret-token", peer="196.201.214.200")
    with pytest.raises(CallbackRejected):
        callbacks.check_callback(
            path_token="s3cret-token",
            expected_token="s3cret-token",
            peer="203.0.113.9",
            forwarded_for="196.201.214.200",  # spoofed: peer is not a trusted proxy
            trusted_proxies=PROXIES,
            allowlist=allow,
        )
    with pytest.raises(CallbackRejected):
        callbacks.check_callback(path_token="", expected_token="", peer="1.1.1.1")


def test_telegram_secret_header() -> None:
    assert telegram.check_secret_token("abc123", "abc123")
    assert not telegram.check_secret_token("abc124", "abc123")
    assert not telegram.check_secret_token(None, "abc123")
    assert not telegram.check_secret_token("", "")


def test_webhook_sign_and_verify() -> None:
    body = b'{"event":"payment.completed"}'
    header = webhooks.sign(secret="whsec", body=body, timestamp=1_700_000_000)
    webhooks.verify(secret="whsec", body=body, header=header, now=1_700_000_100)
    with pytest.raises(WebhookSignatureInvalid):
        webhooks.verify(secret="whsec", body=body + b" ", header=header, now=1_700_000_100)
    with pytest.raises(WebhookSignatureInvalid):
        webhooks.verify(secret="other", body=body, header=header, now=1_700_000_100)
    with pytest.raises(WebhookSignatureInvalid):
        webhooks.verify(secret="whsec", body=body, header=header, now=1_700_001_000)
    with pytest.raises(WebhookSignatureInvalid):
        webhooks.verify(secret="whsec", body=body, header="garbage", now=1_700_000_000)
