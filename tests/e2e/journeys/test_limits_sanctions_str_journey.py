"""Issue 8, "Done when": a T0 customer is stopped at their limit with a clear USSD message; a
withdrawal to a sanctioned address is blocked and opens a case; a compliance officer exports an
STR XML for that case (staff created with `kibeti staff create`, signed in over the staff API)."""

from __future__ import annotations

import re
import time
from xml.etree import ElementTree

import pyotp
import pytest
from sqlalchemy import select

from core.errors import RecordedRefusal
from core.identity import service as identity
from core.money import Asset, Money
from core.payments.models import MpesaCollection
from tests.e2e.journeys.conftest import Stack, register
from tests.e2e.ussd.conftest import fund

pytestmark = pytest.mark.slow

SANCTIONS = "/work/shared/data/sanctions"
SANCTIONED_USDT_ERC20 = "0x19aa5fe80d33a56d56c78e82ea5e50e5d80b4dff"  # in the OFAC USDT list
OFFICER, PASSWORD = "officer@kibeti.test", "vR7#qLm2!xTz9pWk-Nandi-Hills"


async def test_limit_sanctioned_withdrawal_case_and_str(stack: Stack) -> None:
    rt = stack.rt
    phone = stack.phone("+254711000555")
    # an ID the identity simulator does not know: the customer stays at T0 (staff would review it)
    assert (await register(phone, "1", "Kamau Njoroge", "12340000")).startswith("END Welcome to Kibeti")

    # T0 (phone only): KES 5,000 per transaction; a KES 6,000 buy is stopped with a clear message,
    # at the amount step, before the PIN (issue 19), and the session stays open for another amount
    await phone.dial()
    await phone.send("2")
    await phone.send("3")
    stopped = await phone.send("6000")
    assert stopped.startswith("CON Amount too large: max KES 5,000.00 per transaction"), stopped
    async with rt.session_factory() as session:
        assert (await session.execute(select(MpesaCollection))).first() is None  # no STK push went out

    # the sanctions lists, loaded the way staff do it
    loaded = await stack.kibeti("sanctions", "load", SANCTIONS, "--no-rescreen")
    assert "Loaded list version" in loaded.stdout, loaded.stdout

    # a USDT-ERC20 withdrawal to a sanctioned address is refused before any money is held
    await fund(rt, phone.number, "50", "USDT-ERC20")
    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=phone.number)
        assert customer is not None
    assert rt.chains is not None
    refused = None
    async with rt.session_factory() as session:
        try:
            await rt.chains.request_withdrawal(  # type: ignore[attr-defined]
                session=session, request_key="e2e-sanctioned", owner_type="customer", owner_id=customer.id,
                asset=Asset.USDT_ERC20, address=SANCTIONED_USDT_ERC20, amount=Money.of("10", Asset.USDT_ERC20),
                fee=Money.of("1", Asset.USDT_ERC20), amount_kes=Money.of("1295", Asset.KES),
            )  # fmt: skip
            await session.commit()
        except RecordedRefusal as exc:  # the caller's unit of work keeps the refusal's record (the case)
            refused = exc
            await session.commit()
    assert refused is not None and type(refused).__name__ == "WithdrawalRefused", refused

    # a compliance officer signs in and finds the case
    created = await stack.kibeti(
        "staff", "create", "--email", OFFICER, "--role", "compliance", env={"KIBETI_STAFF_PASSWORD": PASSWORD}
    )
    uri = re.search(r"otpauth://\S+", created.stdout).group(0)  # type: ignore[union-attr]
    code = pyotp.parse_uri(uri).at(int(time.time()))  # type: ignore[attr-defined]
    login = await stack.http.post(
        "/api/staff/login", json={"email": OFFICER, "password": PASSWORD, "totp": code}
    )
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    cases = await stack.http.get("/api/staff/compliance/cases", headers=auth)
    assert cases.status_code == 200, cases.text
    mine = [c for c in cases.json() if c.get("customer_id") == customer.id]
    assert mine, cases.json()
    case_id = mine[0]["id"]

    # ... escalates it with the grounds for suspicion, and exports an STR for it as goAML XML
    grounds = "Customer tried to withdraw USDT to an OFAC-listed address."
    escalated = await stack.http.post(
        f"/api/staff/compliance/cases/{case_id}/escalate", headers=auth, json={"grounds": grounds}
    )
    assert escalated.status_code == 200, escalated.text
    exported = await stack.http.post(f"/api/staff/compliance/cases/{case_id}/str", headers=auth)
    assert exported.status_code == 201, exported.text
    xml = await stack.http.get(f"/api/staff/compliance/reports/{exported.json()['id']}/xml", headers=auth)
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml"), xml.text
    root = ElementTree.fromstring(xml.content)
    text = ElementTree.tostring(root, encoding="unicode")
    assert "STR" in text and exported.json()["reference"] in xml.headers["content-disposition"]
