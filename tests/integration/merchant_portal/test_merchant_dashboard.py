"""The merchant dashboard (/merchant) over HTTP on both databases: a staff-invited owner signs in
with password + authenticator code, makes a payment link, manages keys, webhooks and payment-SMS
phones; a viewer reads but cannot change; no merchant sees another's invoices or keys."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pyotp
import pytest

from core import runtime as runtime_module
from core.auth import api_keys
from core.config import Settings
from core.invoices import service as invoices
from core.merchant_users import service as users
from core.merchants import service as merchants
from core.runtime import Runtime
from tests.e2e.ussd.conftest import refresh_rates
from webapp.app import create_app
from webapp.bootstrap import build_runtime
from webapp.deps_auth import get_keyring


@dataclass
class Person:
    email: str
    password: str
    totp: pyotp.TOTP


@pytest.fixture
async def rt(db_url: str) -> AsyncIterator[Runtime]:
    runtime = build_runtime(Settings(kibeti_env="test", database_url=db_url))
    runtime_module.install(runtime)
    await refresh_rates(runtime)
    yield runtime
    await runtime.session_factory.kw["bind"].dispose()


async def _merchant(rt: Runtime, name: str) -> int:
    async with rt.session_factory() as session:
        merchant = await merchants.create_merchant(
            session=session, name=name, actor="staff:1", clock=rt.clock, settlement_phone="0712000001"
        )
        merchant.status = "active"
        await session.commit()
        return merchant.id


async def _invite(rt: Runtime, merchant_id: int, email: str, role: str) -> Person:
    async with rt.session_factory() as session:
        invitation = await users.invite(
            session=session, merchant_id=merchant_id, email=email, role=role, keyring=get_keyring(rt),
            clock=rt.clock, actor="staff:1",
        )  # fmt: skip
        await session.commit()
    return Person(email, invitation.password, pyotp.parse_uri(invitation.provisioning_uri))  # type: ignore[arg-type]


def _client(rt: Runtime) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(rt)), base_url="http://test")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


async def _sign_in(client: httpx.AsyncClient, person: Person) -> str:
    form = await client.get("/merchant/sign-in")
    done = await client.post(
        "/merchant/sign-in",
        data={
            "csrf_token": _csrf(form.text),
            "email": person.email,
            "password": person.password,
            "totp": person.totp.now(),
        },
    )
    assert done.status_code == 303, done.text[:500]
    home = await client.get("/merchant/")
    assert home.status_code == 200
    return _csrf(home.text)


async def _invoice_for(rt: Runtime, merchant_id: int) -> str:
    assert rt.chains is not None
    async with rt.session_factory() as session:
        view = await invoices.create_invoice_view(
            session=session, merchant_id=merchant_id, clock=rt.clock, chains=rt.chains,
            request=invoices.NewInvoice(amount="700"),
        )  # fmt: skip
        await session.commit()
        return view.invoice.public_id


async def test_a_wrong_code_is_refused_and_signed_out_visitors_go_to_sign_in(rt: Runtime) -> None:
    owner = await _invite(rt, await _merchant(rt, "Duka la Amani"), "owner@amani.test", "owner")
    async with _client(rt) as client:
        assert (await client.get("/merchant/keys")).headers["location"].startswith("/merchant/sign-in")
        form = await client.get("/merchant/sign-in")
        wrong = await client.post(
            "/merchant/sign-in",
            data={
                "csrf_token": _csrf(form.text),
                "email": owner.email,
                "password": owner.password,
                "totp": "000000",
            },
        )
        assert wrong.status_code == 401 and "Wrong email, password or code" in wrong.text
        assert owner.password not in wrong.text


async def test_an_owner_makes_a_payment_link_and_sees_it_listed(rt: Runtime) -> None:
    owner = await _invite(rt, await _merchant(rt, "Duka la Amani"), "owner@amani.test", "owner")
    async with _client(rt) as client:
        token = await _sign_in(client, owner)
        bad = await client.post("/merchant/invoices/new", data={"csrf_token": token, "amount": "-5"})
        assert bad.status_code == 422 and 'id="e-amount"' in bad.text
        made = await client.post(
            "/merchant/invoices/new",
            data={"csrf_token": token, "amount": "2500", "description": "Maize flour"},
        )
        assert made.status_code == 303
        detail = await client.get(made.headers["location"])
        public_id = made.headers["location"].rsplit("/", 1)[-1].split("?")[0]
        assert detail.status_code == 200 and f"/i/{public_id}" in detail.text and "USDT-TRC20" in detail.text
        listed = await client.get("/merchant/?status=new")
        assert public_id in listed.text
        assert (await client.get("/merchant/?cursor=garbage")).status_code == 200


async def test_no_merchant_sees_another_merchants_invoice_or_key(rt: Runtime) -> None:
    mine, theirs = await _merchant(rt, "Duka la Amani"), await _merchant(rt, "Hoteli ya Pwani")
    owner = await _invite(rt, mine, "owner@amani.test", "owner")
    their_invoice = await _invoice_for(rt, theirs)
    async with rt.session_factory() as session:
        their_key = await api_keys.create_api_key(
            session=session,
            merchant_id=theirs,
            scopes=["invoices:read"],
            name="pos",
            clock=rt.clock,
            actor="t",
        )
        await session.commit()
    async with _client(rt) as client:
        token = await _sign_in(client, owner)
        assert (await client.get(f"/merchant/invoices/{their_invoice}")).status_code == 404
        revoke = await client.post(
            f"/merchant/keys/{their_key.api_key.key_id}/revoke", data={"csrf_token": token}
        )
        assert revoke.status_code == 404
    async with rt.session_factory() as session:
        (key,) = await api_keys.list_api_keys(session=session, merchant_id=theirs)
        assert key.revoked_at is None


async def test_a_key_is_shown_once_and_revoked(rt: Runtime) -> None:
    owner = await _invite(rt, await _merchant(rt, "Duka la Amani"), "owner@amani.test", "owner")
    async with _client(rt) as client:
        token = await _sign_in(client, owner)
        none_chosen = await client.post("/merchant/keys", data={"csrf_token": token, "name": "till"})
        assert none_chosen.status_code == 422 and "at least one scope" in none_chosen.text
        made = await client.post(
            "/merchant/keys",
            data={"csrf_token": token, "name": "till", "scopes": ["invoices:read", "invoices:write"]},
        )
        shown = re.search(r'<code id="new-key">([^<]+)</code>', made.text)
        assert made.status_code == 200 and shown
        again = await client.get("/merchant/keys")
        assert shown.group(1) not in again.text
        key_id = re.search(r"/merchant/keys/([0-9a-f]+)/revoke", again.text)
        assert key_id
        revoked = await client.post(f"/merchant/keys/{key_id.group(1)}/revoke", data={"csrf_token": token})
        assert revoked.status_code == 303
        assert "revoked" in (await client.get("/merchant/keys")).text


async def test_a_viewer_reads_but_cannot_change(rt: Runtime) -> None:
    viewer = await _invite(rt, await _merchant(rt, "Duka la Amani"), "viewer@amani.test", "viewer")
    async with _client(rt) as client:
        token = await _sign_in(client, viewer)
        for path in ("/merchant/keys", "/merchant/webhooks", "/merchant/settlements", "/merchant/settings"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert "Create key" not in page.text and "Add endpoint" not in page.text
        for path, data in (
            ("/merchant/keys", {"name": "x", "scopes": "invoices:read"}),
            ("/merchant/webhooks", {"url": "https://example.com/hook"}),
            ("/merchant/settings/phones", {"phones": "0712000002"}),
            ("/merchant/invoices/new", {"amount": "100"}),
        ):
            assert (await client.post(path, data={"csrf_token": token, **data})).status_code == 403, path


async def test_webhooks_and_phones_are_managed_by_the_owner(rt: Runtime) -> None:
    owner = await _invite(rt, await _merchant(rt, "Duka la Amani"), "owner@amani.test", "owner")
    async with _client(rt) as client:
        token = await _sign_in(client, owner)
        inside = await client.post("/merchant/webhooks", data={"csrf_token": token, "url": "not a url"})
        assert inside.status_code == 422
        added = await client.post(
            "/merchant/webhooks",
            data={"csrf_token": token, "url": "http://127.0.0.1:9/hook", "events": ["invoice.settled"]},
        )
        assert added.status_code == 200 and 'id="new-secret"' in added.text
        endpoint = re.search(r"/merchant/webhooks/(\d+)/test", added.text)
        assert endpoint
        tested = await client.post(f"/merchant/webhooks/{endpoint.group(1)}/test", data={"csrf_token": token})
        assert tested.status_code == 303
        log = await client.get("/merchant/webhooks")
        delivery = re.search(r"/merchant/webhooks/deliveries/(\d+)/redeliver", log.text)
        assert delivery
        again = await client.post(
            f"/merchant/webhooks/deliveries/{delivery.group(1)}/redeliver", data={"csrf_token": token}
        )
        assert again.status_code in (303, 422)  # 422: still in flight, said beside the form
        bad = await client.post("/merchant/settings/phones", data={"csrf_token": token, "phones": "12, abc"})
        assert bad.status_code == 422
        saved = await client.post(
            "/merchant/settings/phones", data={"csrf_token": token, "phones": "0712 000 002, +254733000003"}
        )
        assert saved.status_code == 303
        assert "+254712000002, +254733000003" in (await client.get("/merchant/settings")).text


async def test_a_link_without_fresh_rates_says_so_and_makes_nothing(db_url: str) -> None:
    runtime = build_runtime(Settings(kibeti_env="test", database_url=db_url))  # no rates fetched yet
    runtime_module.install(runtime)
    try:
        owner = await _invite(runtime, await _merchant(runtime, "Duka la Amani"), "owner@amani.test", "owner")
        async with _client(runtime) as client:
            token = await _sign_in(client, owner)
            refused = await client.post(
                "/merchant/invoices/new", data={"csrf_token": token, "amount": "2500"}
            )
            assert refused.status_code == 422 and "try again shortly" in refused.text
            assert "No invoices yet" in (await client.get("/merchant/")).text
    finally:
        await runtime.session_factory.kw["bind"].dispose()
