"""Merchant SMS: one per payment received and one per settlement, to every notification phone, in
the merchant's language, one GSM-7 segment. Sent through the Notifier port (the outbox SMS job),
each keyed on its event and phone so a repeated job sends nothing twice."""

from __future__ import annotations

import logging
from datetime import datetime

from core.i18n import translate
from core.merchants.models import Merchant, SettlementSchedule
from core.money import Asset, Money, format_money
from core.runtime import Runtime
from core.settlements.errors import InvalidDestination
from core.settlements.models import MerchantCredit, Settlement
from core.settlements.settle import NAIROBI, Destination, destination_of

log = logging.getLogger(__name__)
SMS_SEGMENT = 160
DAILY_SETTLEMENT_HOUR = 17  # the default of Settings.settlement_daily_hour (Nairobi)


def _phones(merchant: Merchant) -> list[str]:
    phones = [p for p in (merchant.notification_phones or []) if p]
    if not phones and merchant.contact_phone:
        phones = [merchant.contact_phone]
    return list(dict.fromkeys(phones))


def _when(merchant: Merchant, now: datetime, daily_hour: int) -> str:
    """When the payment reaches M-Pesa: today, or tomorrow when today's daily batch has run."""
    daily = merchant.settlement_schedule == SettlementSchedule.DAILY.value
    if daily and (now + NAIROBI).hour >= daily_hour:
        return "sms.merchant.when_tomorrow"
    return "sms.merchant.when_today"


def _fit(text: str) -> str:
    return text if len(text) <= SMS_SEGMENT else text[: SMS_SEGMENT - 3] + "..."


def paid_text(
    merchant: Merchant, credit: MerchantCredit, now: datetime, daily_hour: int = DAILY_SETTLEMENT_HOUR
) -> str:
    language = merchant.language or "en"
    gross = format_money(Money.from_minor(credit.gross_minor, Asset.KES), language)
    try:
        where = destination_of(merchant).label()
    except InvalidDestination:
        where = ""
    payer = credit.payer or credit.paid_asset  # an invoice paid on chain: the network it came by
    if not where:
        return _fit(
            translate("sms.merchant.paid_held", language, amount=gross, payer=payer, ref=credit.reference)
        )
    code = "sms.merchant.paid" if credit.payer else "sms.merchant.paid_crypto"
    when = translate(_when(merchant, now, daily_hour), language)
    values = {"amount": gross, "payer": payer, "ref": credit.reference, "where": where, "when": when}
    return _fit(translate(code, language, asset=credit.paid_asset, **values))


def settlement_text(merchant: Merchant, settlement: Settlement) -> str:
    language = merchant.language or "en"
    amount = format_money(Money.from_minor(settlement.amount_minor, Asset.KES), language)
    where = Destination(settlement.method, settlement.destination, settlement.account_reference).label()
    code = "sms.merchant.settled" if settlement.status == "paid" else "sms.merchant.settlement_failed"
    return _fit(
        translate(
            code,
            language,
            amount=amount,
            where=where,
            receipt=settlement.receipt or "",
            ref=f"S{settlement.id}",
        )
    )


async def send_to_merchant(rt: Runtime, merchant: Merchant, text: str, event: str) -> int:
    """Queue `text` to each notification phone; returns how many were queued."""
    if rt.notifier is None:
        log.warning("no notifier wired: merchant SMS %s not sent", event)
        return 0
    phones = _phones(merchant)
    for phone in phones:
        await rt.notifier.send_sms(phone=phone, text=text, reference=f"{event}:{phone}")
    return len(phones)
