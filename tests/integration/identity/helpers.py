from __future__ import annotations

from datetime import UTC, datetime

import pyotp

from core.security.envelope import Keyring
from tests.fakes.notifier import FakeNotifier as FakeNotifier  # the one fake (tests/fakes)

KEYRING = Keyring.from_passphrases("integration test master passphrase", iterations=1_000)
SECRET_KEY = "integration-test-secret-key-0123456789abcdef"


def totp_code(uri: str, at: float) -> str:
    return pyotp.parse_uri(uri).at(int(at))  # type: ignore[union-attr]


async def add_merchants(session, *ids: int) -> None:  # type: ignore[no-untyped-def]
    """Merchants with these ids (API keys are issued only to a merchant that exists)."""
    from core.merchants.models import Merchant

    for merchant_id in ids:
        session.add(Merchant(id=merchant_id, name=f"shop {merchant_id}", active=True,
                             created_at=datetime(2026, 1, 1, tzinfo=UTC), created_by="test"))  # fmt: skip
    await session.flush()
