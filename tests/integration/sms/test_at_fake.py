"""The AT SDK pointed at the local fake: wire format, per-recipient status, the RQ job."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from channels.sms import gateway
from channels.sms.errors import SmsNotSent
from simulators.africastalking import FakeAfricasTalking


@pytest.fixture
def fake() -> Iterator[FakeAfricasTalking]:
    server = FakeAfricasTalking().start()
    yield server
    server.stop()


def test_sdk_sends_through_the_fake(fake: FakeAfricasTalking) -> None:
    service = gateway.make_service(username="sandbox", api_key="key", base_url=fake.url)
    sent = gateway.send(service, phone="+254712345678", text="Kibeti: you’re set", sender_id="KIBETI")
    assert sent.status_code == 101 and sent.message_id.startswith("ATXid_")
    [message] = fake.messages_for("+254712345678")
    assert message.message == "Kibeti: you're set" and message.sender == "KIBETI" and message.parts == 1


def test_refused_recipient_raises(fake: FakeAfricasTalking) -> None:
    fake.fail["+254712000000"] = (403, "InvalidPhoneNumber")
    service = gateway.make_service(username="sandbox", api_key="key", base_url=fake.url)
    with pytest.raises(SmsNotSent) as info:
        gateway.send(service, phone="+254712000000", text="hi")
    assert info.value.status_code == 403
    assert fake.messages_for("+254712000000") == []
