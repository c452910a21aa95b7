"""The customer portal's boundaries, on both databases: a customer reaches nothing of another
customer's by changing a URL or a form (another's quote id at confirm is refused and nothing moves);
the account page shows a linked Telegram chat and unlinks only the customer's own; every /app and
/merchant page weighs under 100 KB before images (its HTML with the CSS and JS it loads)."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
import pyotp

from core.flows.service import CoreFlows
from core.invoices import service as invoices
from core.merchant_users import service as merchant_users
from core.merchants import service as merchants
from core.runtime import Runtime
from core.telegram import service as telegram
from core.telegram.flows import TelegramLinks
from tests.e2e.ussd.conftest import balance_of, fund, refresh_rates
from tests.integration.customer_portal.test_customer_portal import OTHER, PHONE, _client, _csrf, _sign_in, rt
from webapp.deps_auth import get_keyring

__all__ = ["rt"]  # the fixture, shared with the portal's main tests
BUDGET = 100 * 1024
ASSETS = re.compile(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="([^"]+)"')


async def _customer_id(rt: Runtime, phone: str) -> int:
    found = await CoreFlows(rt).find_customer(phone=phone)
    assert found is not None
    return found.id


async def _quote(client: httpx.AsyncClient, amount: str) -> dict[str, str]:
    form = await client.get("/app/send?asset=USDT-TRC20")
    quoted = await client.post(
        "/app/send/quote",
        data={
            "csrf_token": _csrf(form.text),
            "asset": "USDT-TRC20",
            "amount": amount,
            "phone": "0711 300 402",
        },
    )
    assert quoted.status_code == 200, quoted.text[-800:]
    return dict(re.findall(r'name="(quote_id|asset|phone|address|csrf_token)" value="([^"]*)"', quoted.text))


async def test_another_customers_quote_is_refused_at_confirm_and_nothing_moves(rt: Runtime) -> None:
    await refresh_rates(rt)
    await CoreFlows(rt).register(
        phone="+254711300402", name="Chebet Kiprop", national_id="11300402", pin="4826", language="en",
        idempotency_key="reg-third",
    )  # fmt: skip
    await fund(rt, PHONE, "10", "USDT-TRC20")
    await fund(rt, OTHER, "10", "USDT-TRC20")
    async with _client(rt) as victim, _client(rt) as thief:
        await _sign_in(victim, rt, PHONE)
        await _sign_in(thief, rt, OTHER)
        victims = await _quote(victim, "3")
        thiefs = await _quote(thief, "1")
        for name in ("send", "sell", "withdraw", "buy"):  # the victim's quote id in the thief's own form
            forged = {**thiefs, "quote_id": victims["quote_id"], "pin": "4826"}
            refused = await thief.post(f"/app/{name}/confirm", data=forged)
            assert refused.status_code == 422, (name, refused.status_code)
            assert "Sent." not in refused.text
        assert Decimal(await balance_of(rt, PHONE, "USDT-TRC20")) == Decimal("10")
        assert Decimal(await balance_of(rt, OTHER, "USDT-TRC20")) == Decimal("10")
        assert Decimal(await balance_of(rt, "+254711300402", "USDT-TRC20")) == Decimal("0")
        done = await victim.post("/app/send/confirm", data={**victims, "pin": "4826"})
        assert done.status_code == 200 and "Sent." in done.text  # the victim's quote was not spent
        assert Decimal(await balance_of(rt, PHONE, "USDT-TRC20")) == Decimal("7")
        assert Decimal(await balance_of(rt, OTHER, "USDT-TRC20")) == Decimal("10")


async def test_no_url_shows_another_customers_addresses_or_history(rt: Runtime) -> None:
    await refresh_rates(rt)
    await fund(rt, OTHER, "10", "USDT-TRC20")
    other_id = await _customer_id(rt, OTHER)
    async with _client(rt) as mine, _client(rt) as theirs:
        await _sign_in(mine, rt, PHONE)
        await _sign_in(theirs, rt, OTHER)
        their_page = (await theirs.get("/app/receive")).text
        their_addresses = set(re.findall(r'<code[^>]*class="address"[^>]*>([^<]+)</code>', their_page))
        assert len(their_addresses) == 3, their_page[-1500:]
        their_balance = "USDT-TRC20 10.00"  # the house format, as their own home page shows it
        assert their_balance in (await theirs.get("/app/")).text
        probes = [
            "/app/receive", f"/app/receive?customer_id={other_id}", f"/app/receive?customer={OTHER}",
            "/app/receive/USDT-TRC20/qr.svg", f"/app/receive/USDT-TRC20/qr.svg?customer_id={other_id}",
            f"/app/history?asset=USDT-TRC20&customer_id={other_id}", "/app/history.csv?asset=USDT-TRC20",
            f"/app/history.csv?asset=USDT-TRC20&customer_id={other_id}", f"/app/?customer_id={other_id}",
            f"/app/account?customer_id={other_id}", f"/app/receive/{other_id}/qr.svg", f"/app/{other_id}",
        ]  # fmt: skip
        for path in probes:
            response = await mine.get(path)
            assert response.status_code in (200, 404), (path, response.status_code)
            assert not any(address in response.text for address in their_addresses), path
            assert "Baraka Mwangi" not in response.text, path
            assert "test-fund" not in response.text and "10.000000" not in response.text, path
            assert their_balance not in response.text, path


async def test_the_account_page_shows_the_linked_chat_and_unlinks_only_its_own(rt: Runtime) -> None:
    mine, other = await _customer_id(rt, PHONE), await _customer_id(rt, OTHER)
    async with rt.session_factory() as session:
        await telegram.save_link(
            session=session, telegram_user_id=7001, chat_id=7001, customer_id=mine, now=rt.clock.now()
        )
        await telegram.save_link(
            session=session, telegram_user_id=7002, chat_id=7002, customer_id=other, now=rt.clock.now()
        )
        await session.commit()
    async with _client(rt) as client:
        await _sign_in(client, rt, PHONE)
        page = await client.get("/app/account")
        assert "A Telegram chat is linked to your wallet" in page.text and "Unlink Telegram" in page.text
        csrf = _csrf(page.text)
        assert (await client.post("/app/account/telegram/unlink")).status_code == 403  # no CSRF token
        done = await client.post(
            "/app/account/telegram/unlink",
            data={"csrf_token": csrf, "customer_id": str(other), "chat_id": "7002"},
        )
        assert done.status_code == 303 and "telegram_unlinked" in done.headers["location"]
        after = await client.get(done.headers["location"])
        assert "Telegram is unlinked" in after.text and "No Telegram chat is linked." in after.text
        again = await client.post("/app/account/telegram/unlink", data={"csrf_token": csrf})
        assert again.status_code == 303 and "notice" not in again.headers["location"]
        sw = await client.get("/app/account", headers={"accept-language": "sw"})
        assert "Unlink Telegram" not in sw.text
    links = TelegramLinks(rt)
    assert await links.linked(telegram_user_id=7001) is None
    kept = await links.linked(telegram_user_id=7002)
    assert kept is not None and kept.customer_id == other  # the other customer's chat stays linked
    assert await links.link_of_customer(customer_id=other) is not None


async def _weight(client: httpx.AsyncClient, path: str, cache: dict[str, int]) -> int:
    response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    total = len(response.content)
    for asset in ASSETS.findall(response.text):
        if asset not in cache:
            loaded = await client.get(asset)
            assert loaded.status_code == 200, asset
            cache[asset] = len(loaded.content)
        total += cache[asset]
    return total


async def test_every_page_weighs_under_100_kb_before_images(rt: Runtime) -> None:
    await refresh_rates(rt)
    await fund(rt, PHONE, "10", "USDT-TRC20")
    cache: dict[str, int] = {}
    weights: dict[str, int] = {}
    async with _client(rt) as client:
        for path in ("/app/sign-in", "/app/offline"):
            weights[path] = await _weight(client, path, cache)
        await _sign_in(client, rt, PHONE)
        for path in (
            "/app/", "/app/buy", "/app/sell", "/app/send", "/app/withdraw", "/app/receive",
            "/app/history?asset=USDT-TRC20", "/app/account", "/app/offline",
        ):  # fmt: skip
            weights[path] = await _weight(client, path, cache)
    assert rt.chains is not None
    async with rt.session_factory() as session:
        merchant = await merchants.create_merchant(
            session=session,
            name="Duka la Amani",
            actor="staff:1",
            clock=rt.clock,
            settlement_phone="0712000001",
        )
        merchant.status = "active"
        await session.flush()
        invitation = await merchant_users.invite(
            session=session, merchant_id=merchant.id, email="owner@amani.test", role="owner",
            keyring=get_keyring(rt), clock=rt.clock, actor="staff:1",
        )  # fmt: skip
        view = await invoices.create_invoice_view(
            session=session, merchant_id=merchant.id, clock=rt.clock, chains=rt.chains,
            request=invoices.NewInvoice(amount="700"),
        )  # fmt: skip
        await session.commit()
    totp = pyotp.parse_uri(invitation.provisioning_uri)
    assert isinstance(totp, pyotp.TOTP)
    async with _client(rt) as client:
        weights["/merchant/sign-in"] = await _weight(client, "/merchant/sign-in", cache)
        form = await client.get("/merchant/sign-in")
        signed = await client.post(
            "/merchant/sign-in",
            data={"csrf_token": _csrf(form.text), "email": "owner@amani.test", "password": invitation.password,
                  "totp": totp.at(rt.clock.now())},
        )  # fmt: skip
        assert signed.status_code == 303, signed.text[-500:]
        for path in (
            "/merchant/", "/merchant/invoices/new", f"/merchant/invoices/{view.invoice.public_id}",
            "/merchant/settlements", "/merchant/keys", "/merchant/webhooks", "/merchant/settings",
        ):  # fmt: skip
            weights[path] = await _weight(client, path, cache)
    heavy = {path: size for path, size in weights.items() if size >= BUDGET}
    assert not heavy, heavy
    assert len(weights) == 18 and min(weights.values()) > 1000  # every page measured, and each has a body
