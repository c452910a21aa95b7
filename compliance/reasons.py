"""Reason codes the ComplianceGate returns, with the English and Swahili texts channels show.

Codes for sanctions and monitoring hits are deliberately generic (`compliance_declined`,
`compliance_review`): telling a customer they matched a list or a rule would be tipping off
(POCAMLA s.8). Limit codes carry `details` with KES amounts as Decimal strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.money import Asset, Money, format_money

LIMIT_TRANSACTION = "limit_transaction_exceeded"
LIMIT_DAILY = "limit_daily_exceeded"
LIMIT_MONTHLY = "limit_monthly_exceeded"
LIMIT_BALANCE = "limit_balance_exceeded"
LIMIT_CRYPTO_WITHDRAWAL = "limit_crypto_withdrawal_exceeded"
TIER_CRYPTO_WITHDRAWAL = "tier_crypto_withdrawal_not_allowed"
ACCOUNT_FROZEN = "account_frozen"
DECLINED = "compliance_declined"
REVIEW = "compliance_review"
# Money that arrived when no KES rate was ever stored: no limit could be checked, so it is held
INBOUND_UNVALUED = "inbound_unvalued"

MESSAGES: dict[str, dict[str, str]] = {
    LIMIT_TRANSACTION: {
        "en": "This amount is above your limit of {limit} per transaction.",
        "sw": "Kiasi hiki kinazidi kikomo chako cha {limit} kwa kila muamala.",
    },
    LIMIT_DAILY: {
        "en": "This would pass your daily limit of {limit}. You can still use {remaining} today.",
        "sw": "Hii itazidi kikomo chako cha siku cha {limit}. Bado unaweza kutumia {remaining} leo.",
    },
    LIMIT_MONTHLY: {
        "en": "This would pass your monthly limit of {limit}. You can still use {remaining} this month.",
        "sw": "Hii itazidi kikomo chako cha mwezi cha {limit}. Bado unaweza kutumia {remaining} mwezi huu.",
    },
    LIMIT_BALANCE: {
        "en": "This would take your balance above your limit of {limit}.",
        "sw": "Hii itafanya salio lako lizidi kikomo chako cha {limit}.",
    },
    LIMIT_CRYPTO_WITHDRAWAL: {
        "en": "Crypto withdrawals on your account are limited to {limit} each.",
        "sw": "Kutoa crypto kwenye akaunti yako kuna kikomo cha {limit} kila mara.",
    },
    TIER_CRYPTO_WITHDRAWAL: {
        "en": "Crypto withdrawals need a verified account. Add your ID number and date of birth to upgrade.",
        "sw": "Kutoa crypto kunahitaji akaunti iliyothibitishwa. Ongeza nambari ya kitambulisho na "
        "tarehe ya kuzaliwa ili kupandisha daraja.",
    },
    ACCOUNT_FROZEN: {
        "en": "Your account is on hold. Please contact customer care.",
        "sw": "Akaunti yako imesimamishwa kwa muda. Tafadhali wasiliana na huduma kwa wateja.",
    },
    DECLINED: {
        "en": "This transaction cannot be completed. Please contact customer care.",
        "sw": "Muamala huu hauwezi kukamilika. Tafadhali wasiliana na huduma kwa wateja.",
    },
    REVIEW: {
        "en": "Your transaction is being reviewed. We will send you an SMS when it is done.",
        "sw": "Muamala wako unakaguliwa. Tutakutumia SMS ukikamilika.",
    },
    INBOUND_UNVALUED: {
        "en": "Your transaction is being reviewed. We will send you an SMS when it is done.",
        "sw": "Muamala wako unakaguliwa. Tutakutumia SMS ukikamilika.",
    },
}

LANGUAGES = ("en", "sw")

# A held payment's SMS already says it is under review and promises the outcome by SMS: the
# generic review text (which promises an SMS too) is replaced by one that does not.
HELD_AS_REVIEW = frozenset({REVIEW, INBOUND_UNVALUED})
HELD_REVIEW = {"en": "We are checking this payment.", "sw": "Tunakagua malipo haya."}
# The limits verifying an ID raises. Only a hold for one of these tells an unverified (tier 0)
# customer to verify: for any other reason (a review, an unvalued credit, the generic reason a frozen
# or listed customer gets) limits were not the cause and the hint would mislead; the generic stays generic.
# TIER_CRYPTO_WITHDRAWAL is not here: its own text already says how to upgrade.
LIMIT_CODES = frozenset(
    {LIMIT_TRANSACTION, LIMIT_DAILY, LIMIT_MONTHLY, LIMIT_BALANCE, LIMIT_CRYPTO_WITHDRAWAL}
)
# `{code}` is the USSD shortcode.
VERIFY_HINT = {
    "en": " Verify your ID to raise your limits (dial {code}).",
    "sw": " Thibitisha kitambulisho ili kuongeza vikomo (piga {code}).",
}


def _kes(value: Any, language: str) -> str:
    return format_money(Money.of(Decimal(str(value)), Asset.KES), language)


def message(reason_code: str, language: str = "en", details: dict[str, Any] | None = None) -> str:
    """The customer-facing text for a reason code; unknown codes fall back to the generic decline."""
    lang = language if language in LANGUAGES else "en"
    template = MESSAGES.get(reason_code, MESSAGES[DECLINED])[lang]
    values = details or {}
    return template.format(
        limit=_kes(values.get("limit_kes", "0"), lang),
        remaining=_kes(values.get("remaining_kes", "0"), lang),
    )


def held_message(reason_code: str, language: str = "en", details: dict[str, Any] | None = None) -> str:
    """The reason in a held payment's SMS: as `message`, without a second promise of an SMS."""
    if reason_code in HELD_AS_REVIEW:
        return HELD_REVIEW[language if language in LANGUAGES else "en"]
    return message(reason_code, language, details)


def verify_hint(reason_code: str, language: str, kyc_tier: int, shortcode: str) -> str:
    """The "verify your ID" hint for a tier-0 customer held by a limit; nothing for one already
    verified, nor for a hold that limits did not cause."""
    if kyc_tier >= 1 or reason_code not in LIMIT_CODES:
        return ""
    return VERIFY_HINT[language if language in LANGUAGES else "en"].format(code=shortcode)
