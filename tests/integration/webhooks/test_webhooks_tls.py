"""An https receiver: the sender connects to the address it checked (not a second DNS answer) and
still verifies the certificate against the URL's host name (SNI); a certificate for another name
is refused (a network error, retried later); the receiver sees its own Host header."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from channels.webhooks import sender
from core.webhooks.models import AttemptOutcome
from core.webhooks.service import Claim
from tests.integration.webhooks.conftest import ALLOW_LOCAL
from tests.integration.webhooks.receiver import Receiver, verify

SECRET = "whsec_tls_test_secret"


def _self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / f"{name}.pem", tmp / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _https_receiver(tmp: Path, name: str) -> tuple[Receiver, Path]:
    cert, key = _self_signed(tmp, name)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return Receiver(tls=context).start(), cert


@pytest.fixture
def tls_receivers(tmp_path: Path) -> Iterator[dict[str, tuple[Receiver, Path]]]:
    made = {
        "right": _https_receiver(tmp_path, "localhost"),
        "wrong": _https_receiver(tmp_path, "shop.example"),
    }
    yield made
    for receiver, _cert in made.values():
        receiver.stop()


def _claim(url: str) -> Claim:
    body = b'{"id":"evt_tls","type":"invoice.settled"}'
    return Claim(
        delivery_id=7, endpoint_id=3, event_public_id="evt_tls", event_type="invoice.settled",
        number=1, url=url, secret_envelope="", body=body,
    )  # fmt: skip


async def test_https_to_the_checked_address_with_the_name_verified(
    tls_receivers: dict[str, tuple[Receiver, Path]],
) -> None:
    receiver, cert = tls_receivers["right"]
    trust = ssl.create_default_context(cafile=str(cert))
    result = await sender.attempt(
        _claim(receiver.url), secret=SECRET, policy=ALLOW_LOCAL, request_timeout_s=5,
        started_at=datetime.now(UTC), verify=trust,
    )  # fmt: skip
    assert result.outcome is AttemptOutcome.DELIVERED, result
    [got] = receiver.requests
    assert got.headers["Host"] == receiver.url.split("/")[2]  # localhost:<port>, not the IP
    assert verify(SECRET, got.body, got.headers["Kibeti-Signature"], now=time.time())


async def test_a_certificate_for_another_name_is_refused(
    tls_receivers: dict[str, tuple[Receiver, Path]],
) -> None:
    receiver, cert = tls_receivers["wrong"]
    trust = ssl.create_default_context(cafile=str(cert))
    result = await sender.attempt(
        _claim(receiver.url), secret=SECRET, policy=ALLOW_LOCAL, request_timeout_s=5,
        started_at=datetime.now(UTC), verify=trust,
    )  # fmt: skip
    assert result.outcome is AttemptOutcome.RETRY and result.error.startswith("network:")
    assert receiver.requests == []


async def test_a_receiver_that_answers_too_slowly_is_a_timeout_retried_later() -> None:
    receiver = Receiver(delay=3).start()
    try:
        result = await sender.attempt(
            _claim(receiver.url), secret=SECRET, policy=ALLOW_LOCAL, request_timeout_s=1,
            started_at=datetime.now(UTC),
        )  # fmt: skip
        assert result.outcome is AttemptOutcome.RETRY and result.error.startswith("timeout:")
    finally:
        receiver.stop()
