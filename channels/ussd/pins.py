"""PIN handling between hops. A PIN never sits in session state in clear: a confirmation is
compared through a keyed digest, and the one PIN that must survive a hop (the current PIN while a
new one is chosen) is sealed with AES-GCM under a key derived from the application secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from channels.ussd.parser import is_digits

PIN_LENGTH = 4


def looks_like_pin(value: str) -> bool:
    return is_digits(value, length=PIN_LENGTH)


def digest(secret: bytes, session_id: str, pin: str) -> str:
    return hmac.new(secret, f"{session_id}:{pin}".encode(), hashlib.sha256).hexdigest()


def same(secret: bytes, session_id: str, pin: str, expected: str) -> bool:
    return hmac.compare_digest(digest(secret, session_id, pin), expected)


def _key(secret: bytes) -> bytes:
    return hashlib.sha256(b"kibeti-ussd-pin-seal:" + secret).digest()


def seal(secret: bytes, session_id: str, pin: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(secret)).encrypt(nonce, pin.encode(), session_id.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(secret: bytes, session_id: str, token: str) -> str:
    raw = base64.urlsafe_b64decode(token.encode())
    return AESGCM(_key(secret)).decrypt(raw[:12], raw[12:], session_id.encode()).decode()
