"""The customer portal (/app) over HTTP on both databases: sign-in with the phone and an SMS code,
device sessions (signing out everywhere ends every device), CSRF, money behind the PIN with the
USSD lockout shared, KYC photos checked and stored sealed, history paged and as CSV."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from compliance.models import KycDocument
from core import runtime as runtime_module
from core.config import Settings
from core.flows.service import CoreFlows
from core.identity.errors import PinIncorrect, PinLocked
from core.runtime import Runtime
from tests.e2e.ussd.conftest import balance_of, fund, refresh_rates
from webapp.app import create_app
from webapp.bootstrap import build_runtime

PHONE = "+254711300400"
OTHER = "+254711300401"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


class CodeCatcher:
    """A Notifier that keeps each SMS (the sign-in code comes in the text, as the phone shows it)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_sms(self, *, phone: str, text: str, reference: str) -> None:
        self.sent.append((phone, text))

    def last_code(self, phone: str) -> str:
        texts = [text for to, text in self.sent if to == phone]
        found = re.search(r"\b(\d{6})\b", texts[-1])
        assert found, texts[-1]
        return found.group(1)


@pytest.fixture
async def rt(db_url: str) -> AsyncIterator[Runtime]:
    runtime = build_runtime(Settings(kibeti_env="test", database_url=db_url))
    runtime.notifier = CodeCatcher()
    runtime_module.install(runtime)
    for phone, name in ((PHONE, "Akinyi Otieno"), (OTHER, "Baraka Mwangi")):
        await CoreFlows(runtime).register(
            phone=phone,
            name=name,
            national_id=phone[-8:],
            pin="4826",
            language="en",
            idempotency_key=f"reg-{phone}",
        )
    yield runtime
    await runtime.session_factory.kw["bind"].dispose()


def _client(rt: Runtime) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(rt)), base_url="http://test")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def _sign_in(client: httpx.AsyncClient, rt: Runtime, phone: str = PHONE) -> None:
    form = await client.get("/app/sign-in")
    asked = await client.post("/app/sign-in", data={"csrf_token": _csrf(form.text), "phone": phone})
    assert asked.status_code == 200 and "6-digit code" in asked.text
    code = rt.notifier.last_code(phone)  # type: ignore[union-attr]
    done = await client.post(
        "/app/sign-in/code", data={"csrf_token": _csrf(asked.text), "phone": phone, "otp": code}
    )
    assert done.status_code == 303 and done.headers["location"] == "/app/"


async def test_signed_out_visitors_are_sent_to_sign_in(rt: Runtime) -> None:
    async with _client(rt) as client:
        for path in ("/app/", "/app/receive", "/app/history", "/app/account", "/app/buy"):
            response = await client.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/app/sign-in"), (
                path
            )


async def test_sign_in_with_the_sms_code_shows_the_balances(rt: Runtime) -> None:
    async with _client(rt) as client:
        await _sign_in(client, rt)
        home = await client.get("/app/")
        assert home.status_code == 200
        assert "Hello, Akinyi Otieno" in home.text and "USDT-TRC20" in home.text
        assert (
            "httponly" in home.headers["set-cookie"].lower()
            and "samesite=strict" in home.headers["set-cookie"].lower()
        )


async def test_a_wrong_code_counts_and_says_how_many_tries_are_left(rt: Runtime) -> None:
    async with _client(rt) as client:
        form = await client.get("/app/sign-in")
        asked = await client.post(
            "/app/sign-in", data={"csrf_token": _csrf(form.text), "phone": "0711 300 400"}
        )
        wrong = await client.post(
            "/app/sign-in/code", data={"csrf_token": _csrf(asked.text), "phone": PHONE, "otp": "000000"}
        )
        assert wrong.status_code == 422 and "4 tries left" in wrong.text
        assert (await client.get("/app/")).status_code == 303


async def test_an_unregistered_number_is_told_how_to_join_in_swahili(rt: Runtime) -> None:
    async with _client(rt) as client:
        form = await client.get("/app/sign-in", headers={"accept-language": "sw"})
        asked = await client.post(
            "/app/sign-in", data={"csrf_token": _csrf(form.text), "phone": "0799 000 111"}
        )
        assert asked.status_code == 422 and "Nambari hii haijasajiliwa" in asked.text


async def test_a_post_without_the_csrf_token_is_refused(rt: Runtime) -> None:
    async with _client(rt) as client:
        await _sign_in(client, rt)
        refused = await client.post("/app/sign-out-everywhere")
        assert refused.status_code == 403
        assert (await client.get("/app/")).status_code == 200


async def test_signing_out_everywhere_ends_every_device(rt: Runtime) -> None:
    async with _client(rt) as phone, _client(rt) as laptop:
        await _sign_in(phone, rt)
        await _sign_in(laptop, rt)
        account = await phone.get("/app/account")
        assert account.text.count("last used") == 2
        out = await phone.post("/app/sign-out-everywhere", data={"csrf_token": _csrf(account.text)})
        assert out.status_code == 303
        assert (await laptop.get("/app/")).status_code == 303
        assert (await phone.get("/app/")).status_code == 303


async def _quote_send(client: httpx.AsyncClient, amount: str) -> httpx.Response:
    form = await client.get("/app/send")
    return await client.post(
        "/app/send/quote",
        data={"csrf_token": _csrf(form.text), "asset": "USDT-TRC20", "phone": OTHER, "amount": amount},
    )


async def test_an_empty_wallet_is_refused_beside_the_amount_before_any_pin(rt: Runtime) -> None:
    async with _client(rt) as client:
        await _sign_in(client, rt)
        quoted = await _quote_send(client, "1")
        assert (
            quoted.status_code == 422
            and 'id="e-amount"' in quoted.text
            and "Your Kibeti PIN" not in quoted.text
        )


async def test_send_shows_the_recipient_then_moves_once_behind_the_pin(rt: Runtime) -> None:
    await refresh_rates(rt)
    await fund(rt, PHONE, "10", "USDT-TRC20")
    async with _client(rt) as client:
        await _sign_in(client, rt)
        quoted = await _quote_send(client, "4")
        assert quoted.status_code == 200 and "Baraka Mwangi" in quoted.text
        fields = dict(
            re.findall(r'name="(quote_id|asset|phone|address|csrf_token)" value="([^"]*)"', quoted.text)
        )
        wrong = await client.post("/app/send/confirm", data={**fields, "pin": "1111"})
        assert wrong.status_code == 422 and "Wrong PIN" in wrong.text
        assert Decimal(await balance_of(rt, PHONE, "USDT-TRC20")) == Decimal("10")
        for _ in range(2):  # a double tap, or the form sent again: one movement
            done = await client.post("/app/send/confirm", data={**fields, "pin": "4826"})
            assert done.status_code == 200 and "Sent." in done.text
        assert Decimal(await balance_of(rt, PHONE, "USDT-TRC20")) == Decimal("6")
        arrived = Decimal(await balance_of(rt, OTHER, "USDT-TRC20"))
        assert Decimal("3.9") < arrived <= Decimal("4")  # the send fee comes out of the amount


async def test_a_pin_locked_on_ussd_is_locked_on_the_web(rt: Runtime) -> None:
    await refresh_rates(rt)
    await fund(rt, PHONE, "10", "USDT-TRC20")
    customer = await CoreFlows(rt).find_customer(phone=PHONE)
    assert customer is not None
    for _ in range(3):  # wrong PINs typed on USSD
        with pytest.raises((PinIncorrect, PinLocked)):
            await CoreFlows(rt).check_pin(customer_id=customer.id, pin="0000")
    async with _client(rt) as client:
        await _sign_in(client, rt)
        refused = await _quote_send(client, "1")  # refused before the PIN is even asked
        assert refused.status_code == 422 and "PIN locked after too many wrong tries" in refused.text
    assert Decimal(await balance_of(rt, PHONE, "USDT-TRC20")) == Decimal("10")


async def test_kyc_photos_are_checked_and_stored_sealed(rt: Runtime) -> None:
    async with _client(rt) as client:
        await _sign_in(client, rt)
        page = await client.get("/app/account")
        token = _csrf(page.text)
        text_file = await client.post(
            "/app/account/kyc",
            data={"csrf_token": token},
            files={"id_front": ("id.png", b"not an image", "image/png")},
        )
        assert text_file.status_code == 422 and "not a JPEG or PNG" in text_file.text
        huge = await client.post(
            "/app/account/kyc",
            data={"csrf_token": token},
            files={"selfie": ("big.jpg", JPEG + b"\x00" * (6 * 1024 * 1024), "image/jpeg")},
        )
        assert huge.status_code == 413 and "too large" in huge.text.lower()  # refused before it is read
        async with rt.session_factory() as session:
            assert (await session.scalars(select(KycDocument))).all() == []
        sent = await client.post(
            "/app/account/kyc",
            data={"csrf_token": token},
            files={"id_front": ("front.png", PNG, "image/png"), "selfie": ("me.jpg", JPEG, "image/jpeg")},
        )
        assert sent.status_code == 303 and "kyc_received" in sent.headers["location"]
        async with rt.session_factory() as session:
            documents = (await session.scalars(select(KycDocument))).all()
        assert sorted(d.kind for d in documents) == ["id_front", "selfie"]
        assert all(
            PNG not in d.sealed.encode() if isinstance(d.sealed, str) else PNG not in d.sealed
            for d in documents
        )


async def test_receive_shows_three_qr_codes_and_the_qr_downloads(rt: Runtime) -> None:
    async with _client(rt) as client:
        await _sign_in(client, rt)
        page = await client.get("/app/receive")
        assert page.status_code == 200 and page.text.count("<svg") == 3
        assert "Send only USDT-TRC20 on TRON (TRC20)" in page.text
        svg = await client.get("/app/receive/BTC/qr.svg")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert "attachment" in svg.headers["content-disposition"]
        assert (await client.get("/app/receive/KES/qr.svg")).status_code == 404


async def test_the_history_pages_and_downloads_as_csv(rt: Runtime) -> None:
    async with _client(rt) as client:
        await _sign_in(client, rt)
        page = await client.get("/app/history?asset=KES&before=not-a-number")
        assert page.status_code == 200 and "No movements yet" in page.text
        csv_file = await client.get("/app/history.csv?asset=USDT-TRC20")
        assert csv_file.status_code == 200 and csv_file.text.startswith("time_utc,kind,amount,asset,memo")


async def test_the_history_names_a_transfer_by_its_direction_in_the_customers_language(rt: Runtime) -> None:
    from core.flows import accounts
    from core.identity import service as identity
    from core.ledger import service as ledger
    from core.money import Asset, Money

    await fund(rt, PHONE, "80", "KES")
    async with rt.session_factory() as session:
        sender = await identity.get_customer_by_phone(session=session, phone=PHONE)
        receiver = await identity.get_customer_by_phone(session=session, phone=OTHER)
        assert sender is not None and receiver is not None
        await ledger.transfer(
            session=session, idempotency_key="test-send-50", kind="send", amount=Money.of("50", Asset.KES),
            from_account_id=await accounts.wallet_account_id(session, sender.id, Asset.KES),
            to_account_id=await accounts.wallet_account_id(session, receiver.id, Asset.KES),
        )  # fmt: skip
        await session.commit()
    for phone, english, swahili in ((OTHER, "received", "umepokea"), (PHONE, "sent", "umetuma")):
        async with _client(rt) as client:
            await _sign_in(client, rt, phone)
            page = await client.get("/app/history?asset=KES")
            assert f"<td>{english}</td>" in page.text and "<td>send</td>" not in page.text
            form = await client.get("/app/history?asset=KES")
            await client.post("/app/language", data={"csrf_token": _csrf(form.text), "language": "sw"})
            page = await client.get("/app/history?asset=KES")
            assert 'lang="sw"' in page.text and f"<td>{swahili}</td>" in page.text


async def test_the_history_csv_reads_as_the_page_does_in_the_customers_language(rt: Runtime) -> None:
    """The CSV keeps the machine `kind` column and adds the label the page shows (en and sw)."""
    import csv
    import io

    from core.flows import accounts
    from core.identity import service as identity
    from core.ledger import service as ledger
    from core.money import Asset, Money

    await fund(rt, PHONE, "80", "KES")
    async with rt.session_factory() as session:
        sender = await identity.get_customer_by_phone(session=session, phone=PHONE)
        receiver = await identity.get_customer_by_phone(session=session, phone=OTHER)
        assert sender is not None and receiver is not None
        await ledger.transfer(
            session=session, idempotency_key="test-csv-send-50", kind="send",
            amount=Money.of("50", Asset.KES), memo="=HYPERLINK(\"http://x\")",
            from_account_id=await accounts.wallet_account_id(session, sender.id, Asset.KES),
            to_account_id=await accounts.wallet_account_id(session, receiver.id, Asset.KES),
        )  # fmt: skip
        await session.commit()
    for phone, english, swahili in ((OTHER, "received", "umepokea"), (PHONE, "sent", "umetuma")):
        async with _client(rt) as client:
            await _sign_in(client, rt, phone)
            page = await client.get("/app/history?asset=KES")
            shown = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", page.text)
            rows = list(csv.DictReader(io.StringIO((await client.get("/app/history.csv?asset=KES")).text)))
            assert [row["description"] for row in rows] == shown and english in shown
            assert {row["kind"] for row in rows if row["description"] == english} == {"send"}  # machine code
            assert all(not row["memo"].startswith("=") for row in rows)  # no formula runs in a spreadsheet
            form = await client.get("/app/history?asset=KES")
            await client.post("/app/language", data={"csrf_token": _csrf(form.text), "language": "sw"})
            page = await client.get("/app/history?asset=KES")
            shown = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", page.text)
            done = await client.get("/app/history.csv?asset=KES")
            assert done.status_code == 200 and done.text.startswith(
                "time_utc,kind,amount,asset,memo,description"
            )
            rows = list(csv.DictReader(io.StringIO(done.text)))
            assert [row["description"] for row in rows] == shown and swahili in shown
            assert {row["kind"] for row in rows if row["description"] == swahili} == {"send"}
            odd = await client.get("/app/history.csv?asset=NOPE&before=x")
            assert odd.status_code == 200 and odd.text.startswith("time_utc,kind")


async def test_the_portal_is_installable(rt: Runtime) -> None:
    async with _client(rt) as client:
        manifest = (await client.get("/app/manifest.webmanifest")).json()
        assert manifest["start_url"] == "/app/" and manifest["display"] == "standalone"
        assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}
        for icon in manifest["icons"]:
            assert (await client.get(icon["src"])).status_code == 200
        worker = await client.get("/app/sw.js")
        assert worker.headers["service-worker-allowed"] == "/app/" and "caches" in worker.text
        assert (await client.get("/app/offline")).status_code == 200
