"""Webhook rules without I/O: the signature against an independent Stripe-style verifier, URL form
and address checks (SSRF), the retry classification and the back-off schedule."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import Settings
from core.security import webhooks as signing
from core.webhooks.destinations import (
    HOST_NOT_RESOLVING,
    HOST_NOT_VALID,
    DestinationPolicy,
    check_address,
    check_url,
    parse_target,
)
from core.webhooks.errors import InvalidWebhookUrl, UnknownEventType, WebhookDestinationRefused
from core.webhooks.events import SUBSCRIBABLE, EventType, parse_event_type
from core.webhooks.service import next_attempt_delay, retryable_status

PRODUCTION = DestinationPolicy(allow_private=False, require_https=True)
LOCAL = DestinationPolicy(allow_private=True, require_https=False)
SCHEDULE = [10.0, 60.0, 600.0, 3600.0, 21600.0, 86400.0, 86400.0, 86400.0]


def stripe_style_verify(secret: str, payload: bytes, header: str, now: int, tolerance: int = 300) -> bool:
    """Written from Stripe's documented scheme, independently of core.security.webhooks."""
    pairs = [item.split("=", 1) for item in header.split(",")]
    timestamps = [int(v) for k, v in pairs if k == "t"]
    v1 = [v for k, v in pairs if k == "v1"]
    if len(timestamps) != 1 or not v1 or abs(now - timestamps[0]) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamps[0]}.{payload.decode()}".encode(), hashlib.sha256
    ).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in v1)


@given(
    secret=st.text(min_size=1, max_size=60),
    body=st.binary(max_size=300).map(lambda b: b.hex().encode()),
    ts=st.integers(1_600_000_000, 2_000_000_000),
)
def test_our_signature_verifies_with_an_independent_implementation(secret: str, body: bytes, ts: int) -> None:
    header = signing.sign(secret=secret, body=body, timestamp=ts)
    assert header.startswith(f"t={ts},v1=")
    assert stripe_style_verify(secret, body, header, now=ts + 299)
    assert not stripe_style_verify(secret, body, header, now=ts + 301)  # replay window is 5 minutes
    assert not stripe_style_verify(secret + "x", body, header, now=ts)
    assert not stripe_style_verify(secret, body + b"1", header, now=ts)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "ftp://example.com/x",
        "https://",
        "https://user:pw@example.com/",
        "https://example.com/#frag",
        "https://exa mple.com/",
        "https://example.com:99999/",
        "https://example.com/" + "a" * 2000,
        "javascript:alert(1)",
    ],
)
def test_malformed_urls_are_invalid(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        parse_target(url, LOCAL)


def test_production_needs_https() -> None:
    with pytest.raises(WebhookDestinationRefused):
        parse_target("http://shop.example.co.ke/hook", PRODUCTION)
    target = parse_target("https://Shop.Example.co.ke/hook?x=1", PRODUCTION)
    assert (target.host, target.port, target.path) == ("shop.example.co.ke", 443, "/hook?x=1")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "192.0.2.1",
        "198.18.0.1",
    ],
)
def test_addresses_inside_the_network_are_refused_in_production(address: str) -> None:
    with pytest.raises(WebhookDestinationRefused):
        check_address(ipaddress.ip_address(address), PRODUCTION)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "224.0.0.1", "ff02::1"])
def test_unspecified_and_multicast_are_refused_even_when_private_is_allowed(address: str) -> None:
    with pytest.raises(WebhookDestinationRefused):
        check_address(ipaddress.ip_address(address), LOCAL)


def test_public_addresses_pass_and_loopback_passes_when_allowed() -> None:
    check_address(ipaddress.ip_address("41.90.64.10"), PRODUCTION)  # a Kenyan public address
    check_address(ipaddress.ip_address("2c0f:fe38::1"), PRODUCTION)
    check_address(ipaddress.ip_address("127.0.0.1"), LOCAL)


def test_policy_follows_the_environment_unless_set() -> None:
    assert DestinationPolicy.from_settings(Settings(kibeti_env="test")) == LOCAL
    assert DestinationPolicy.from_settings(Settings(kibeti_env="development")) == LOCAL
    assert (
        DestinationPolicy.from_settings(
            Settings(kibeti_env="test", webhook_allow_private_destinations=False, webhook_require_https=True)
        )
        == PRODUCTION
    )


@pytest.mark.parametrize("code", [408, 429, 500, 502, 503, 504, 599])
def test_retryable_answers(code: int) -> None:
    assert retryable_status(code)


@pytest.mark.parametrize("code", [200, 301, 302, 400, 401, 403, 404, 410, 422])
def test_final_answers(code: int) -> None:
    assert not retryable_status(code)


@given(attempts=st.integers(1, 8), jitter=st.floats(0, 1))
def test_backoff_follows_the_schedule_with_up_to_20_percent_jitter(attempts: int, jitter: float) -> None:
    delay = next_attempt_delay(attempts, SCHEDULE, jitter)
    base = timedelta(seconds=SCHEDULE[attempts - 1])
    assert delay is not None and base <= delay <= base * 1.2


def test_schedule_spans_about_three_days_then_stops() -> None:
    total = sum((next_attempt_delay(n, SCHEDULE, 0) for n in range(1, 9)), timedelta())
    assert timedelta(days=3) < total < timedelta(days=3.5)
    assert next_attempt_delay(9, SCHEDULE, 0.5) is None


def test_event_types_are_declared_once() -> None:
    assert "invoice.paid_late" in SUBSCRIBABLE and "refund.completed" in SUBSCRIBABLE
    assert EventType.TEST.value not in SUBSCRIBABLE
    assert parse_event_type("invoice.settled") is EventType.INVOICE_SETTLED
    with pytest.raises(UnknownEventType):
        parse_event_type("invoice.whatever")


@pytest.mark.parametrize(
    "url",
    [
        "https://" + "a" * 64 + ".example.com/hook",  # the IDNA codec's "label too long"
        "https://shop." + "b" * 64 + "/hook",
        "https://shop..example.com/hook",
        "https://" + ".".join(["c" * 60] * 5) + "/hook",  # 304 characters
    ],
)
async def test_an_invalid_host_name_is_refused_with_a_plain_message(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl) as caught:
        await check_url(url, LOCAL)
    assert caught.value.code == "webhook_url_invalid" and str(caught.value) == HOST_NOT_VALID
    assert "codec" not in str(caught.value) and "label" not in str(caught.value)


def test_a_63_character_label_is_a_host_name() -> None:
    assert parse_target("https://" + "a" * 63 + ".example.com/hook", PRODUCTION).host.startswith("a" * 63)


async def test_a_host_that_does_not_resolve_is_refused_without_the_resolvers_words() -> None:
    with pytest.raises(WebhookDestinationRefused) as caught:
        await check_url("http://no-such-host.invalid/hook", LOCAL)  # RFC 6761: never resolves
    assert caught.value.code == "webhook_destination_refused" and str(caught.value) == HOST_NOT_RESOLVING
    assert "Errno" not in str(caught.value)
