"""`kibeti keys rotate` re-seals merchants' webhook signing secrets (current and, after a roll, the
previous one) under the new master passphrase: both open without the old passphrase to what the
merchant was given, and a second rotation finds nothing left to do."""

from __future__ import annotations

import pytest

from core import runtime
from core.security import envelope
from core.security.envelope import Keyring
from core.webhooks import service
from tests.integration.webhooks.conftest import ALLOW_LOCAL, CHEAP_KEYRING, Factory, make_merchant

pytestmark = pytest.mark.usefixtures("installed")

NEW_PASSPHRASE = "the next webhook-tests master passphrase"
ONLY_NEW = Keyring.from_passphrases(NEW_PASSPHRASE, iterations=1000)
ROTATING = Keyring.from_passphrases(NEW_PASSPHRASE, ["webhook-tests-master-passphrase"], iterations=1000)
COLUMNS = ("webhook_endpoints.secret_envelope", "webhook_endpoints.previous_secret_envelope")


async def test_rotation_reseals_current_and_previous_secrets(session_factory: Factory) -> None:
    merchant_id = await make_merchant(session_factory)
    now = runtime.get().clock.now()
    async with session_factory() as session:
        endpoint, first = await service.create_endpoint(
            session=session, merchant_id=merchant_id, url="http://127.0.0.1:9/hook", events=[],
            description="till 1", keyring=CHEAP_KEYRING, policy=ALLOW_LOCAL, now=now,
        )  # fmt: skip
        _, second = await service.roll_secret(
            session=session, merchant_id=merchant_id, endpoint_id=endpoint.id, keyring=CHEAP_KEYRING, now=now
        )
        await session.commit()
        endpoint_id = endpoint.id

    async with session_factory() as session:
        changed = await service.rotate_secret_envelopes(session=session, keyring=ROTATING)
        await session.commit()
    assert changed == dict.fromkeys(COLUMNS, 1)

    async with session_factory() as session:
        rotated = await service.get_endpoint(
            session=session, merchant_id=merchant_id, endpoint_id=endpoint_id
        )
        assert service.endpoint_secret(rotated, keyring=ONLY_NEW) == second
        assert rotated.previous_secret_envelope is not None
        previous = envelope.open(
            rotated.previous_secret_envelope, keyring=ONLY_NEW, context=service.secret_context(endpoint_id)
        )
        assert previous.decode() == first
        assert await service.rotate_secret_envelopes(session=session, keyring=ROTATING) == dict.fromkeys(
            COLUMNS, 0
        )
