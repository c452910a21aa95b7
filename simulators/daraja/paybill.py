"""Pay the paybill from a simulated phone (the CLI and the phone page): the Daraja simulator sends
the validation, then the confirmation, to this app's registered C2B URLs, and answers what happened.
Only against the simulator: real paybill payments are made on a phone."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from core.errors import InvalidAmount, KibetiError
from core.identity.phone import normalize_phone
from core.money import Asset, Money, format_money
from core.payments import queries as payments
from core.payments.types import C2BStatus
from core.runtime import Runtime
from payouts import adapter, c2b, c2b_urls


class PaybillNotSimulated(KibetiError):
    code = "paybill_not_simulated"


def default_account(msisdn: str) -> str:
    """What a customer types for their own number: 0712345678."""
    return "0" + msisdn[3:]


async def pay(
    runtime: Runtime,
    *,
    phone: str,
    amount: str,
    account: str | None = None,
    deliveries: int = 1,
    validation: bool | None = None,
) -> dict[str, Any]:
    """The simulator's record of the payment: status (completed | rejected | cancelled),
    validation (the app's ResultCode, "off" or "unreachable"), confirmations, trans_id, ..."""
    msisdn = normalize_phone(phone).lstrip("+")
    base = adapter.base_url(runtime.settings)
    async with httpx.AsyncClient(timeout=60) as http:
        try:
            announced = (await http.get(f"{base}/")).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PaybillNotSimulated(
                f"no Daraja simulator at {base} ({exc.__class__.__name__}): is the app running (make run)?"
            ) from exc
        if not (isinstance(announced, dict) and announced.get("simulator") is True):
            raise PaybillNotSimulated(
                f"{base} is not the Daraja simulator: real payments are made on a phone"
            )
        if not (await c2b_urls.registered_with_simulator(runtime)).get("confirmation"):
            await c2b_urls.register(runtime)
        request = {
            "msisdn": msisdn,
            "amount": amount,
            "account": default_account(msisdn) if account is None else account,
            "deliveries": deliveries,
            "validation": validation,
        }
        response = await http.post(f"{base}/simulator/c2b/pay", json=request)
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or "status" not in body:
        detail = (body.get("errorMessage") or body.get("detail")) if isinstance(body, dict) else None
        raise PaybillNotSimulated(f"M-Pesa refused the payment: {detail or f'HTTP {response.status_code}'}")
    if body["status"] == "completed":
        await wait_for_decision(runtime, str(body["trans_id"]))
    return body


async def decision(runtime: Runtime, trans_id: str) -> str:
    """What Kibeti made of a paybill payment once M-Pesa's Transaction Status answered:
    "credited", "suspense", "not_found", "pending" (not yet), or "" (no confirmation came)."""
    async with runtime.session_factory() as session:
        status = await payments.c2b_status(session=session, trans_id=trans_id)
    return status or ""


async def wait_for_decision(runtime: Runtime, trans_id: str, wait_s: float = 15.0) -> str:
    """The app asks Transaction Status in the background (its outbox relay): give it a moment."""
    for _ in range(int(wait_s / 0.2)):
        found = await decision(runtime, trans_id)
        if found != C2BStatus.PENDING.value:
            return found
        await asyncio.sleep(0.2)
    return C2BStatus.PENDING.value


DECISIONS = {
    C2BStatus.CREDITED.value: "in the Kibeti wallet",
    C2BStatus.SUSPENSE.value: "held for staff (no matching wallet)",
    C2BStatus.PENDING.value: "waiting for M-Pesa to confirm it",
    C2BStatus.NOT_FOUND.value: "not confirmed by M-Pesa",
}


def _kes(amount: Any) -> str:
    """The house money format (KES 500.00), or the simulator's own text if it is not an amount."""
    try:
        return format_money(Money.of(str(amount), Asset.KES))
    except (InvalidAmount, TypeError):
        return f"KES {amount}"


def describe(payment: dict[str, Any], decided: str = "") -> str:
    """One line for a person: paid (and where the money is, once M-Pesa confirmed it), or refused and why."""
    if payment["status"] == "completed":
        where = f" ({DECISIONS[decided]})" if decided in DECISIONS else ""
        return (
            f"Paid {_kes(payment['amount'])} to paybill {payment['shortcode']}, "
            f"account {payment['bill_ref']}: M-Pesa {payment['trans_id']}{where}"
        )
    code = str(payment["validation"])
    why = f"{code} {c2b.REJECT_REASONS[code]}" if code in c2b.REJECT_REASONS else f"validation {code}"
    return f"Payment {payment['status']} ({why}): the payer keeps the money"
