"""SMS to customers about compliance outcomes (identity verified, money held, a review decided),
staged through the outbox in the transaction that decides them and sent by
`compliance.notices.send_notice`, in the customer's language. Texts are catalog codes
(`compliance.sms.*`); none names a list, a rule or a score (no tipping off, POCAMLA s.8)."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from compliance import reasons
from core import runtime
from core.i18n import translate
from core.identity import queries as customers
from core.money import Asset, Money, format_money
from core.outbox import service as outbox

log = structlog.get_logger(__name__)
JOB = "compliance.notices.send_notice"
MONEY_PREFIX = "money:"


async def stage(
    *,
    session: AsyncSession,
    customer_id: int,
    code: str,
    reference: str,
    values: dict[str, Any] | None = None,
) -> None:
    """Queue one SMS with the caller's transaction; the same reference is sent once."""
    await outbox.enqueue(
        session=session,
        job=JOB,
        kwargs={"customer_id": customer_id, "code": code, "reference": reference, "values": values or {}},
        dedupe_key=f"compliance-sms:{reference}"[:160],
    )


def money_value(amount: Money) -> str:
    """A Money carried through the outbox, formatted in the customer's language when sent."""
    return f"{MONEY_PREFIX}{amount.asset.value}:{amount.minor}"


def render(code: str, language: str, values: dict[str, Any], *, shortcode: str, kyc_tier: int = 0) -> str:
    shown: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, str) and value.startswith(MONEY_PREFIX):
            asset, minor = value[len(MONEY_PREFIX) :].rsplit(":", 1)
            value = format_money(Money.from_minor(int(minor), Asset(asset)), language)
        shown[key] = value
    if "reason_code" in values:
        reason_code = str(values["reason_code"])
        shown["reason"] = reasons.held_message(reason_code, language, values.get("details"))
        shown["verify"] = reasons.verify_hint(reason_code, language, kyc_tier, shortcode)
    return translate(code, language, code=shortcode, **shown)


async def send_notice(customer_id: int, code: str, reference: str, values: dict[str, Any]) -> None:
    rt = runtime.get()
    async with rt.session_factory() as session:
        customer = await customers.customer_view(session=session, customer_id=customer_id)
    if customer is None:
        log.warning("compliance.notice.no_customer", customer_id=customer_id, code=code)
        return
    if rt.notifier is None:
        log.warning("compliance.notice.no_notifier", customer_id=customer_id, code=code)
        return
    text = render(
        code, customer.language, values, shortcode=rt.settings.at_shortcode, kyc_tier=customer.kyc_tier
    )
    await rt.notifier.send_sms(phone=customer.phone, text=text, reference=f"compliance:{reference}")
