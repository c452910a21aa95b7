"""Issue 16's done-when on the embedded default (`make run`: SQLite, the in-process queue, the Daraja
simulator mounted in the app, the Africa's Talking fake): a customer dials USSD and pays the
merchant's till KES 300 from the KES balance; the merchant's phone page shows the SMS; a crypto
invoice's credit arrives; `kibeti settlement run` pays the till through the simulated B2B call with
both payments less fees; the settlement's CSV (API and CLI) lists them; the books balance."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from core.auth import api_keys
from core.clock import FixedClock
from core.db.session import make_engine, make_session_factory
from core.flows import accounts
from core.identity import service as identity
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.ledger.verify import verify
from core.merchants import service as merchants
from core.money import Asset, Money
from core.settlements.service import credit_settled_invoice
from tests.integration.payouts.harness import ROOT, free_port, wait_http


def _daily_batch_later_today() -> str:
    """A daily settlement hour still two hours ahead in Nairobi: the served app's scheduler runs the
    real daily batch (every 5 minutes once the hour has come) and would settle the first payment on
    its own while the journey runs, a test that passed before 17:00 Nairobi and failed after it."""
    hour = (datetime.now(UTC) + timedelta(hours=3)).hour
    if hour >= 22:
        pytest.skip("no Nairobi hour is left today for a daily batch that must not run during the test")
    return str(hour + 2)


pytestmark = pytest.mark.slow
TOKEN = "dev-at-callback-token"
CUSTOMER = "+254712345678"
MERCHANT_PHONE = "+254711222333"


async def _retry(work, attempts: int = 8):
    """The server writes too: SQLite answers "database is locked" now and then; writers retry."""
    for attempt in range(attempts):
        try:
            return await work()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


class Handset:
    def __init__(self, http: httpx.AsyncClient, number: str) -> None:
        self.http, self.number, self.inputs, self.session = http, number, [], ""

    async def dial(self) -> str:
        self.inputs, self.session = [], f"ATUid_dw_{len(self.number)}_{os.urandom(4).hex()}"
        return await self._hop()

    async def send(self, value: str) -> str:
        self.inputs.append(value)
        return await self._hop()

    async def _hop(self) -> str:
        form = {"sessionId": self.session, "serviceCode": "*483*1#", "phoneNumber": self.number,
                "networkCode": "63902", "text": "*".join(self.inputs)}  # fmt: skip
        response = await self.http.post(f"/ussd/{TOKEN}", data=form)
        assert response.status_code == 200, response.text
        return response.text


async def _setup(factory) -> tuple[int, str]:
    async with factory() as session:
        merchant = await merchants.create_merchant(
            session=session, name="Mama Mboga Stores", actor="test", clock=FixedClock(), till_code="246810",
            settlement_method="till", settlement_till="5551234", notification_phones=[MERCHANT_PHONE],
            settlement_schedule="daily",
        )  # fmt: skip
        merchant.status = "active"
        issued = await api_keys.create_api_key(
            session=session, merchant_id=merchant.id, scopes=["invoices:read"], name="test",
            clock=FixedClock(), actor="test",
        )  # fmt: skip
        await session.commit()
        return merchant.id, issued.plaintext


async def _fund_customer(factory) -> None:
    async with factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=CUSTOMER)
        assert customer is not None
        custody = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES)
        wallet = await accounts.wallet_account_id(session, customer.id, Asset.KES)
        await ledger.transfer(
            session=session, idempotency_key="dw-fund", from_account_id=custody.id, to_account_id=wallet,
            amount=Money.of(1000, Asset.KES), kind="deposit",
        )  # fmt: skip
        await session.commit()


async def _crypto_invoice_settles(factory, merchant_id: int) -> None:
    """What a Settled invoice does (core.invoices calls this): 2,500 KES paid in USDT on TRON."""
    async with factory() as session:
        merchant = await merchants.get_merchant(session=session, merchant_id=merchant_id)
        usdt = Money.of("19.305019", Asset.USDT_TRC20)
        paid_into = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.SYSTEM, owner_id=424242, asset=usdt.asset
        )
        custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=usdt.asset)
        await ledger.post_entry(
            session=session, idempotency_key="dw-invoice-paid", kind="test_invoice_payment",
            postings=[PostingRequest(custody.id, -usdt), PostingRequest(paid_into.id, usdt)],
        )  # fmt: skip
        await credit_settled_invoice(
            session=session, merchant=merchant, invoice_id="inv_dw", reference="INV-DW01",
            gross=Money.of(2500, Asset.KES), paid=usdt, paid_from_account_id=paid_into.id,
            market_value=Money.of(2500, Asset.KES),
        )  # fmt: skip
        await session.commit()


async def _merchant_sms(http: httpx.AsyncClient) -> list[str]:
    for _ in range(80):
        found = (await http.get("/simulator/phone/sms", params={"phone": MERCHANT_PHONE})).json()["messages"]
        if len(found) >= 2:
            return [str(m.get("message", m.get("text", ""))) for m in found]
        await asyncio.sleep(0.25)
    return [str(m) for m in found]


def _kibeti(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from webapp.cli import main; main()", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


async def test_done_when_with_the_demo_merchant(sqlite_url: str, tmp_path: Path) -> None:
    """The issue's words: `kibeti demo`; a demo customer dials and pays till 123456 KES 300 from the
    KES balance; the demo merchant's phone page shows the SMS; a crypto invoice (the merchant API,
    `kibeti invoice simulate-pay --confirm`) settles; `kibeti settlement run` pays the till by B2B
    with both payments less fees; the settlement CSV lists them."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": sqlite_url, "REDIS_URL": "", "MPESA_BASE_URL": "",
           "MPESA_CALLBACK_BASE_URL": f"http://127.0.0.1:{port}", "AT_BASE_URL": "",
           "DATA_DIR": str(tmp_path), "SETTLEMENT_DAILY_HOUR": _daily_batch_later_today()}  # fmt: skip
    seeded = _kibeti(env, "demo")
    key = re.search(r"kbt_live_[\w-]+", seeded)
    assert key is not None and "till code 123456" in seeded, seeded
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "webapp.main:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    try:
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}/health")
        headers = {"Authorization": f"Bearer {key.group(0)}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            phone = Handset(http, "+254700000001")  # Amina, KES 5,000, PIN 4826
            await phone.dial()
            for step in ("4", "3", "123456", "300", "1"):
                reply = await phone.send(step)
            assert reply.startswith("CON Pay KES 300.00 to Mama Mboga Groceries, till 123456"), reply
            assert (await phone.send("4826")).startswith("END Paid KES 300.00 to Mama Mboga Groceries")
            for _ in range(60):  # "try again shortly" while the served app's first rates arrive
                made = await http.post(
                    "/api/v1/invoices", json={"amount": "2500", "currency": "KES"},
                    headers={**headers, "Idempotency-Key": "dw-1"},
                )  # fmt: skip
                if made.status_code != 503 or "rates_unavailable" not in made.text:
                    break
                await asyncio.sleep(0.5)
            assert made.status_code == 201, made.text
            invoice_id = made.json()["id"]
            await asyncio.to_thread(
                _kibeti, env, "invoice", "simulate-pay", invoice_id, "--network", "trc20", "--confirm"
            )
            shown = (await http.get(f"/api/v1/invoices/{invoice_id}", headers=headers)).json()
            assert shown["status"] == "settled", shown
            texts: list[str] = []
            for _ in range(120):
                found = (await http.get("/simulator/phone/sms", params={"phone": "+254700000009"})).json()
                texts = [str(m.get("message", m.get("text", ""))) for m in found["messages"]]
                if len(texts) >= 2:
                    break
                await asyncio.sleep(0.25)
            assert any(t.startswith("Kibeti: KES 300.00 paid by 0700***001 for KP") for t in texts), texts
            assert any(f"KES 2,500.00 paid in USDT-TRC20 for {invoice_id}." in t for t in texts), texts

            out = await asyncio.to_thread(_kibeti, env, "settlement", "run")
            # 300 - 4.50 + 2,500 - 37.50 = 2,758.00
            assert "KES 2,758.00 to till 5551234: paid receipt" in out, out
            number = out.split()[0]
            response = await http.get(f"/api/v1/settlements/{number}/statement.csv", headers=headers)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(response.text)))
            assert {r["reference"] for r in rows[:2]} == {rows[0]["reference"], invoice_id}
            assert sorted(r["gross_kes"] for r in rows[:2]) == ["2500.00", "300.00"]
            total = next(r for r in rows if r["line"] == "total")
            assert (total["fee_kes"], total["net_kes"]) == ("42.00", "2758.00")
            assert next(r for r in rows if r["line"] == "paid")["reference"]  # the M-Pesa receipt
            printed = await asyncio.to_thread(_kibeti, env, "settlement", "statement", number)
            assert printed == response.text  # the CLI prints the same statement
        async with factory() as session:
            assert (await verify(session=session)).problems == []
    finally:
        server.terminate()
        server.wait()
        await engine.dispose()


async def test_done_when_on_the_embedded_default(sqlite_url: str) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": sqlite_url, "REDIS_URL": "", "MPESA_BASE_URL": "",
           "MPESA_CALLBACK_BASE_URL": f"http://127.0.0.1:{port}", "AT_BASE_URL": "",
           "SETTLEMENT_DAILY_HOUR": _daily_batch_later_today()}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "webapp.main:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    try:
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}/health")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as http:
            merchant_id, key = await _retry(lambda: _setup(factory))
            phone = Handset(http, CUSTOMER)
            for step in ("", "1", "Amina Wanjiru", "12345678", "15031990", "1", "4826", "4826"):
                reply = await (phone.dial() if step == "" else phone.send(step))
            assert reply.startswith("END Welcome to Kibeti"), reply
            await _retry(lambda: _fund_customer(factory))
            await phone.dial()
            for step in ("4", "3", "246810", "300", "1"):
                reply = await phone.send(step)
            assert reply.startswith("CON Pay KES 300.00 to Mama Mboga Stores"), reply
            assert (await phone.send("4826")).startswith("END Paid KES 300.00 to Mama Mboga Stores")
            await _retry(lambda: _crypto_invoice_settles(factory, merchant_id))
            texts = await _merchant_sms(http)
            assert any(t.startswith("Kibeti: KES 300.00 paid by 0712***678 for KP") for t in texts), texts
            assert any("KES 2,500.00 paid in USDT-TRC20 for INV-DW01." in t for t in texts), texts

            cli = subprocess.run(
                [sys.executable, "-c", "from webapp.cli import main; main()", "settlement", "run", "--merchant", str(merchant_id)],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
            )  # fmt: skip
            assert cli.returncode == 0, cli.stderr[-2000:]
            # 300 - 4.50 + 2,500 - 37.50 = 2,758.00
            assert "KES 2,758.00 to till 5551234: paid receipt" in cli.stdout, cli.stdout + cli.stderr[-2000:]
            number = cli.stdout.split()[0]
            headers = {"Authorization": f"Bearer {key}"}
            listed = (await http.get("/api/v1/settlements", headers=headers)).json()["data"]
            assert listed[0]["id"] == number and listed[0]["status"] == "paid"
            response = await http.get(f"/api/v1/settlements/{number}/statement.csv", headers=headers)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(response.text)))
            assert [r["gross_kes"] for r in rows[:2]] == ["300.00", "2500.00"]
            total = next(r for r in rows if r["line"] == "total")
            assert (total["fee_kes"], total["net_kes"]) == ("42.00", "2758.00")
            assert (await http.get("/api/v1/settlements/S999999", headers=headers)).status_code == 404
        async with factory() as session:
            assert (await verify(session=session)).problems == []
    finally:
        server.terminate()
        server.wait()
        await engine.dispose()
