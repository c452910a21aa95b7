from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.sms.errors import SmsNotSent
from channels.sms.gateway import check_response
from core.i18n import gsm7_safe, is_gsm7, sms_segments, translate


def test_curly_quotes_and_dashes_become_gsm7() -> None:
    assert gsm7_safe("Amina’s “wallet” – ready…") == 'Amina\'s "wallet" - ready...'


@given(st.text(max_size=300))
def test_gsm7_safe_always_gsm7(text: str) -> None:
    assert is_gsm7(gsm7_safe(text))


def test_segments() -> None:
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("€" * 80) == 1
    assert sms_segments("’" * 71) == 2


@pytest.mark.parametrize("language", ["en", "sw"])
def test_receipts_fit_one_segment(language: str) -> None:
    values = {
        "amount": "USDT 1,234,567.123456",
        "who": "Wanjiku Kamau Njoroge",
        "ref": "KBT-1234567890",
        "sender": "Otieno Odhiambo Ochieng",
        "phone": "0712345678",
        "days": "7",
        "name": "Wanjiku",
        "asset": "USDT-TRC20",
        "address": "bc1qar0s...wf5mdq",
        "balance": "KES 1,234,567.00",
    }
    for code in (
        "sms.send_receipt",
        "sms.receive_receipt",
        "sms.invite",
        "sms.registered",
        "sms.claim_returned",
        "sms.withdrawal_sent",
        "sms.deposit_credited",
        "sms.paybill_received",
    ):
        text = translate(code, language, code="*483*1#", **values)
        assert sms_segments(text) == 1, (code, len(text), text)


def test_http_200_is_not_success() -> None:
    body = {
        "SMSMessageData": {
            "Message": "Sent to 0/1",
            "Recipients": [
                {
                    "statusCode": 406,
                    "number": "+254711000111",
                    "status": "UserInBlacklist",
                    "cost": "0",
                    "messageId": "None",
                }
            ],
        }
    }
    with pytest.raises(SmsNotSent) as info:
        check_response(body, "+254711000111")
    assert info.value.status_code == 406 and not info.value.retryable
    body["SMSMessageData"]["Recipients"][0]["statusCode"] = 502
    with pytest.raises(SmsNotSent) as info:
        check_response(body, "+254711000111")
    assert info.value.retryable
    with pytest.raises(SmsNotSent):
        check_response("<xml/>", "+254711000111")
