"""Balances, deposit addresses with QR codes, and the history (paged, filtered, CSV)."""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter
from starlette.responses import Response

from core.flows.service import CoreFlows
from core.i18n.catalog import has
from core.ledger.service import Movement
from core.money import Asset
from webapp.checkout.qr import qr_svg
from webapp.customer_portal.auth import PREFIX, CustomerPage, customer_of, render
from webapp.deps_auth import get_runtime
from webapp.web import i18n
from webapp.web.portal import Page, WebError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
ASSETS = {asset.value: asset for asset in (Asset.KES, Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20)}
CRYPTO = (Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20)
PAGE_SIZE = 20
TRANSFER_KINDS = frozenset({"send", "quote_send", "claim_collect"})  # customer to customer
NETWORKS = {Asset.BTC: "Bitcoin", Asset.USDT_ERC20: "Ethereum (ERC20)", Asset.USDT_TRC20: "TRON (TRC20)"}


def _flows(page: Page) -> CoreFlows:
    return CoreFlows(get_runtime(page.request))


@router.get("/")
async def home(page: CustomerPage) -> Response:
    customer = customer_of(page)
    lines = await _flows(page).balances(customer_id=customer.customer_id)
    level = await _flows(page).account_status(customer_id=customer.customer_id)
    return render(page, "app/home.html", lines=lines, level=level, customer=customer)


def _crypto(asset_text: str, page: Page) -> Asset:
    asset = ASSETS.get(asset_text)
    if asset is None or asset is Asset.KES:
        raise WebError(404, "web.error.not_found", page.language)
    return asset


def _scan_text(asset: Asset, address: str) -> str:
    return f"bitcoin:{address}" if asset is Asset.BTC else address  # BIP21 for Bitcoin; the address else


async def _address(page: Page, asset: Asset) -> str:
    customer = customer_of(page)
    return str(
        await _flows(page).deposit_address(
            customer_id=customer.customer_id,
            asset=asset,
            idempotency_key=f"web-receive:{customer.customer_id}:{asset.value}",
        )
    )


@router.get("/receive")
async def receive(page: CustomerPage) -> Response:
    cards = []
    for asset in CRYPTO:
        address = await _address(page, asset)
        label = i18n.text("app.receive.qr_label", page.language, asset=asset.value, network=NETWORKS[asset])
        cards.append(
            {
                "asset": asset.value,
                "network": NETWORKS[asset],
                "address": address,
                "qr": qr_svg(_scan_text(asset, address), label=label),
            }
        )
    return render(page, "app/receive.html", cards=cards)


@router.get("/receive/{asset_text}/qr.svg")
async def receive_qr(asset_text: str, page: CustomerPage) -> Response:
    asset = _crypto(asset_text, page)
    address = await _address(page, asset)
    label = i18n.text("app.receive.qr_label", page.language, asset=asset.value, network=NETWORKS[asset])
    svg = str(qr_svg(_scan_text(asset, address), label=label)).replace(
        "<svg ", '<svg width="480" height="480" ', 1
    )
    headers = {"Content-Disposition": f'attachment; filename="kibeti-{asset.value.lower()}-address.svg"'}
    return page.respond(Response(svg, media_type="image/svg+xml", headers=headers))


def history_label(row: Movement, language: str) -> str:
    """What a movement reads as in the history (page and CSV): a transfer between customers by its
    direction, as on the USSD statement; an entry kind with no label, the kind in words."""
    kind = row.kind
    if kind in TRANSFER_KINDS:
        kind = "received" if row.amount.minor >= 0 else "sent"
    code = f"ussd.kind.{kind}"
    return i18n.text(code, language) if has(code) else kind.replace("_", " ")


def _cell(text: str | None) -> str:
    """A CSV cell a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    text = text or ""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def _cursor(text: str | None) -> int | None:
    if text is None or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


@router.get("/history")
async def history(page: CustomerPage) -> Response:
    params = page.request.query_params
    asset = ASSETS.get(params.get("asset", "KES"), Asset.KES)
    before = _cursor(params.get("before"))
    rows = await _flows(page).statement(
        customer_id=customer_of(page).customer_id, asset=asset, before_entry_id=before, limit=PAGE_SIZE + 1
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_cursor = rows[-1].entry_id if more and rows else None

    def kind_label(row: Movement) -> str:
        return history_label(row, page.language)

    return render(
        page, "app/history.html", rows=rows, asset=asset.value, assets=list(ASSETS), next_cursor=next_cursor,
        kind_label=kind_label,
    )  # fmt: skip


@router.get("/history.csv")
async def history_csv(page: CustomerPage) -> Response:
    asset = ASSETS.get(page.request.query_params.get("asset", "KES"), Asset.KES)
    customer = customer_of(page)
    out = io.StringIO()
    writer = csv.writer(out)
    # `kind` stays the machine code; `description` is what the history page shows, in their language
    writer.writerow(["time_utc", "kind", "amount", "asset", "memo", "description"])
    before: int | None = None
    while True:  # every movement, a page at a time
        rows = await _flows(page).statement(
            customer_id=customer.customer_id, asset=asset, before_entry_id=before, limit=500
        )
        for row in rows:
            writer.writerow(
                [
                    row.created_at.isoformat(), row.kind, str(row.amount.amount), asset.value,
                    _cell(row.memo), _cell(history_label(row, page.language)),
                ]
            )  # fmt: skip
        if len(rows) < 500:
            break
        before = rows[-1].entry_id
    headers = {"Content-Disposition": f'attachment; filename="kibeti-{asset.value.lower()}-history.csv"'}
    return page.respond(Response(out.getvalue(), media_type="text/csv", headers=headers))
