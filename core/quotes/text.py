"""Quote texts: a compact one that fits one USSD screen or SMS (at most 160 characters), in English
and Swahili, and a full multi-line description (CLI, portal). Amounts are formatted with Babel
through core.money.format_money. Demo rates are always labelled.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from core.i18n import translate
from core.money import Money, format_money
from core.quotes.maths import QuoteKind, QuoteTerms

MAX_SCREEN = 160

_VERBS = {
    "en": {QuoteKind.BUY: "Buy", QuoteKind.SELL: "Sell", QuoteKind.SEND: "Send"},
    "sw": {QuoteKind.BUY: "Nunua", QuoteKind.SELL: "Uza", QuoteKind.SEND: "Tuma"},
}
_WORDS = {
    "en": {"pay": "Pay", "get": "get", "fee": "Fee", "valid": "Valid {s}s",
           "mpesa": "M-Pesa", "network": "network"},
    "sw": {"pay": "Lipa", "get": "pata", "fee": "Ada", "valid": "Sek {s}",
           "mpesa": "M-Pesa", "network": "mtandao"},
}  # fmt: skip
RATES_UNAVAILABLE = {
    "en": "Rates unavailable, try again shortly.",
    "sw": "Bei za kubadilisha fedha hazipatikani, jaribu tena baadaye kidogo.",
}


def _lang(language: str) -> str:
    return language if language in _VERBS else "en"


def _rate(terms: QuoteTerms, language: str) -> str:
    shown = Money(terms.rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), terms.receive.asset)
    if terms.kind is QuoteKind.BUY:
        shown = Money(shown.amount, terms.pay.asset)
    return f"1 {terms.asset.currency}={format_money(shown, language)}"


def compact_text(
    terms: QuoteTerms, language: str = "en", *, valid_seconds: int = 60, demo: bool = False
) -> str:
    """One screen, e.g. "Buy USDT: Pay KES 1,000.00, get USDT 7.683589. 1 USDT=KES 130.15. ..."."""
    lang = _lang(language)
    words = _WORDS[lang]
    parts = [
        f"{_VERBS[lang][terms.kind]} {terms.asset.currency}: {words['pay']} {format_money(terms.pay, lang)}, "
        f"{words['get']} {format_money(terms.receive, lang)}.",
    ]
    if terms.kind is not QuoteKind.SEND:
        parts.append(f"{_rate(terms, lang)}.")
    network = next((line.amount for line in terms.fees if line.kind == "network"), None)
    shown_network = f" ({words['network']} {format_money(network, lang)})" if network is not None else ""
    parts.append(f"{words['fee']} {format_money(terms.fee_total, lang)}{shown_network}.")
    if terms.payout is not None and terms.change is not None and terms.change.is_positive():
        parts.append(f"{words['mpesa']} {format_money(terms.payout, lang)}.")
    parts.append(words["valid"].format(s=valid_seconds) + ("." if demo else ""))
    if demo:
        parts.append(translate("quote.demo_rate", lang))  # sw: MAJARIBIO, the house word for demo
    text = " ".join(parts)
    while len(text) > MAX_SCREEN and len(parts) > 2:
        parts.pop(-2 if demo else -1)  # drop the least important detail, keep amounts and the demo label
        text = " ".join(parts)
    return text[:MAX_SCREEN]


def describe(terms: QuoteTerms, *, language: str = "en", demo: bool = False) -> list[str]:
    """Every number of a quote, one per line (English labels; amounts localised)."""

    def fmt(money: Money) -> str:
        return format_money(money, language)

    rail = "" if terms.kind is QuoteKind.SEND else f" ({terms.rail.value})"
    lines = [f"{terms.kind.value} {terms.asset.value}{rail}" + ("  [DEMO RATES]" if demo else "")]
    lines.append(f"  you pay       {fmt(terms.pay)}")
    if terms.kind is not QuoteKind.SEND:
        lines.append(f"  market rate   1 {terms.asset.currency} = KES {terms.ref_rate.normalize():f}")
        lines.append(f"  your rate     1 {terms.asset.currency} = KES {terms.rate.normalize():f}"
                     f"  (incl. {terms.margin_percent.normalize():f}% margin)")  # fmt: skip
    for line in terms.fees:
        lines.append(f"  fee {line.kind:<9} {fmt(line.amount)}")
    lines.append(f"  fees total    {fmt(terms.fee_total)}")
    if terms.kind is not QuoteKind.SEND:
        lines.append(f"  FX margin     {fmt(terms.margin)}")
    lines.append(f"  you receive   {fmt(terms.receive)}")
    if terms.payout is not None and terms.change is not None:
        lines.append(f"  to M-Pesa     {fmt(terms.payout)}  (change to wallet {fmt(terms.change)})")
    return lines
