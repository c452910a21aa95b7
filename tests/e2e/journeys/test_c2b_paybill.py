"""Paybill top-up on the embedded default (`make run`: SQLite, in-process queue, the Daraja simulator
mounted at /daraja-sim): the app registers its C2B URLs by itself at start-up; `kibeti mpesa
simulate-c2b` (or the phone page's Pay Bill) pays with the customer's phone number as the account; the KES balance rises once
although the confirmation arrives twice, and USSD shows it. An unknown account is refused by
validation, and held in suspense when a confirmation comes anyway. Bad bodies never give a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.ledger.verify import verify
from core.money import Asset, Money
from core.payments.models import MpesaCallback
from tests.e2e.journeys.conftest import Stack, eventually, register, settle
from tests.e2e.ussd.conftest import balance_of

pytestmark = pytest.mark.slow


async def _registered_urls(stack: Stack) -> dict[str, str]:
    urls: dict[str, str] = (await stack.http.get("/daraja-sim/simulator/c2b")).json()["urls"]
    return urls


async def _suspense(stack: Stack) -> Money:
    async with stack.rt.session_factory() as session:
        account = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=Asset.KES)
        await session.commit()
        return await ledger.balance(session=session, account_id=account.id)


async def _confirmations(stack: Stack) -> list[tuple[str | None, bool]]:
    async with stack.rt.session_factory() as session:
        query = select(MpesaCallback.outcome, MpesaCallback.flagged).where(
            MpesaCallback.kind == "c2b_confirmation"
        )
        return [(o, f) for o, f in (await session.execute(query.order_by(MpesaCallback.id))).all()]


async def test_paybill_with_the_phone_number_as_account_credits_once(stack: Stack) -> None:
    # the app registered its URLs with the mounted simulator by itself, with its secret path
    urls = await eventually(lambda: _registered_urls(stack), what="the start-up C2B registration")
    secret = stack.rt.settings.mpesa_callback_token.get_secret_value()
    assert urls["confirmation"] == f"{stack.url}/cb/{secret}/c2b/confirmation"  # type: ignore[index]
    assert urls["validation"] == f"{stack.url}/cb/{secret}/c2b/validation"  # type: ignore[index]

    phone = stack.phone("+254711000222")
    await register(phone, "1", "Achieng Odhiambo")
    paid = await stack.kibeti(
        "mpesa",
        "simulate-c2b",
        "--phone",
        "0711000222",
        "--amount",
        "500",
        "--account",
        "0711 000 222",
        "--twice",
    )
    assert paid.stdout.startswith("Paid KES 500.00 to paybill"), paid.stdout  # the house money format
    assert (
        "confirmation delivered 2 time(s)" in paid.stdout
        and "pending, duplicate, confirmed by M-Pesa: credited" in paid.stdout
    ), paid.stdout
    assert await balance_of(stack.rt, phone.number, "KES") == "500.00"
    await phone.dial()
    assert "KES 500.00" in await phone.send("1")
    await settle(stack.rt)
    receipts = [m.message for m in stack.at.messages_for(phone.number) if "M-Pesa" in m.message]
    assert len(receipts) == 1 and "KES 500.00" in receipts[0], receipts  # one receipt for two deliveries

    # the default account is the payer's own number
    await stack.kibeti("mpesa", "simulate-c2b", "--phone", "+254711000222", "--amount", "25")
    assert await balance_of(stack.rt, phone.number, "KES") == "525.00"

    # the phone page's "Pay Bill" button does the same
    assert "Pay Bill" in (await stack.http.get("/phone")).text
    button = await stack.http.post("/simulator/phone/paybill", json={"phone": "0711000222", "amount": "75"})
    assert button.json() == {"ok": True, "message": button.json()["message"]}
    assert button.json()["message"].startswith(
        "Paid KES 75.00 to paybill 600000, account 0711000222: M-Pesa "
    )
    typo = await stack.http.post("/simulator/phone/paybill", json={"phone": "07110", "amount": "75"})
    assert typo.status_code == 422 and "Kenyan mobile number" in typo.json()["message"]
    wrong = await stack.http.post(
        "/simulator/phone/paybill", json={"phone": "0711000222", "amount": "75", "account": "12345678901"}
    )
    assert wrong.json() == {"ok": False, "message": wrong.json()["message"]} and "C2B00012" in wrong.text
    assert await balance_of(stack.rt, phone.number, "KES") == "600.00"

    # an account that names nobody: validation refuses it, the payer keeps the money
    refused = await stack.kibeti(
        "mpesa",
        "simulate-c2b",
        "--phone",
        "0711000222",
        "--amount",
        "300",
        "--account",
        "0799123456",
        check=False,
    )
    assert refused.returncode == 1 and "C2B00012 Invalid Account Number" in refused.stderr, refused.stderr
    assert await _suspense(stack) == Money.of(0, Asset.KES)

    # validation off (Safaricom's default): the confirmation comes anyway and waits in suspense
    held = await stack.kibeti(
        "mpesa", "simulate-c2b", "--phone", "0711000222", "--amount", "300", "--account", "0799123456",
        "--no-validation", "--twice",
    )  # fmt: skip
    assert "pending, duplicate, confirmed by M-Pesa: suspense" in held.stdout, held.stdout
    assert await _suspense(stack) == Money.of(300, Asset.KES)
    assert await balance_of(stack.rt, phone.number, "KES") == "600.00"
    assert await _confirmations(stack) == [  # claims: our Transaction Status query books them
        ("pending", False),
        ("duplicate", False),
        ("pending", False),
        ("pending", False),
        ("pending", False),
        ("duplicate", False),
    ]

    # what is not a Daraja body is recorded, answered 200 and flagged; never a 500
    for raw in ("{not json", '{"TransID": "ZZZ", "TransAmount": "NaN"}', "[]"):
        response = await stack.http.post(
            f"/cb/{secret}/c2b/confirmation", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
    assert (await _confirmations(stack))[-3:] == [("malformed", True)] * 3
    assert await balance_of(stack.rt, phone.number, "KES") == "600.00"

    async with stack.rt.session_factory() as session:
        assert (await verify(session=session)).ok
