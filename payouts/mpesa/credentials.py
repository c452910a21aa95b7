"""SecurityCredential: the initiator password encrypted with the M-Pesa certificate (RSA, PKCS#1 v1.5).

The official algorithm (PROTOCOLS.md 1.1): no timestamp appended, no OAEP, base64 of the ciphertext.
"""

from __future__ import annotations

import base64
import functools
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509.oid import NameOID

from core.clock import Clock, SystemClock


def security_credential(initiator_password: str, cert_pem: bytes) -> str:
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the M-Pesa certificate must hold an RSA public key")
    return base64.b64encode(key.encrypt(initiator_password.encode(), PKCS1v15())).decode()


@functools.lru_cache(maxsize=8)
def _private_key(private_key_pem: bytes) -> rsa.RSAPrivateKey:
    """Parsing (and checking) an RSA private key costs ~29 ms of CPU: once per key, not per request."""
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


@functools.lru_cache(maxsize=256)
def decrypt_credential(credential: str, private_key_pem: bytes) -> str:
    """The simulator's side: recover the password (raises ValueError when it cannot).

    Cached: a client encrypts its credential once and sends the same string with every request."""
    return _private_key(private_key_pem).decrypt(base64.b64decode(credential), PKCS1v15()).decode()


def generate_test_certificate(
    common_name: str = "Kibeti Daraja simulator", *, clock: Clock | None = None
) -> tuple[bytes, bytes]:
    """A self-signed certificate and its private key (PEM), for the simulator and tests, valid from a
    day before `clock`'s now (the system's when not given)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = (clock or SystemClock()).now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
