"""goAML XML (FRC Kenya customisation, schema v4.0.2; COMPLIANCE.md section 2) built with lxml.

A report carries either transactions (bi-party form: *_my_client for our customer, plain
t_from / t_to for a counterparty) or an activity with report parties. A crypto address has no
dedicated v4 field: it goes in `account` with the asset named in `comments`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from compliance.models import OUTBOUND_KINDS
from core.config import ComplianceSettings

REPORT_CODES = frozenset({"CTR", "STR", "SAR", "MID", "EFT", "ORI", "ORD", "IRI", "IRD"})
REQUIRED_REPORT_ELEMENTS = (
    "rentity_id",
    "submission_code",
    "report_code",
    "submission_date",
    "currency_code_local",
    "reporting_person",
    "location",
    "reason",
)
REQUIRED_TRANSACTION_ELEMENTS = (
    "transaction_number",
    "transaction_description",
    "date_transaction",
    "transmode_code",
    "amount_local",
)


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    middle_name: str = ""
    birthdate: date | None = None
    id_number: str = ""
    phone: str = ""
    nationality: str = "KE"


@dataclass(frozen=True)
class Txn:
    number: str
    description: str
    at: datetime
    amount_kes: Decimal
    kind: str  # buy | sell | send | withdraw | deposit | receive
    asset: str
    amount: Decimal
    counterparty: str


@dataclass
class ReportInput:
    report_code: str
    entity_reference: str
    submission_date: datetime
    reason: str
    action: str
    client: Person
    transactions: Sequence[Txn] = ()
    indicators: Sequence[str] = field(default_factory=tuple)


def split_name(full_name: str) -> tuple[str, str, str]:
    parts = full_name.split()
    if not parts:
        return "UNKNOWN", "", "UNKNOWN"
    if len(parts) == 1:
        return parts[0], "", parts[0]
    return parts[0], " ".join(parts[1:-1]), parts[-1]


def _add(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0, tzinfo=None).isoformat()


def _person(parent: etree._Element, tag: str, person: Person, settings: ComplianceSettings) -> None:
    node = _add(parent, tag)
    _add(node, "first_name", person.first_name)
    if person.middle_name:
        _add(node, "middle_name", person.middle_name)
    _add(node, "last_name", person.last_name)
    if person.birthdate:
        _add(node, "birthdate", f"{person.birthdate.isoformat()}T00:00:00")
    if person.id_number:
        _add(node, "id_number", person.id_number)
    _add(node, "nationality1", person.nationality)
    _add(node, "residence", settings.country_code)
    if person.phone:
        phone = _add(_add(node, "phones"), "phone")
        _add(phone, "tph_contact_type", settings.phone_contact_type)
        _add(phone, "tph_communication_type", settings.phone_communication_type)
        _add(phone, "tph_number", person.phone)
    if person.id_number:
        ident = _add(node, "identification")
        _add(ident, "type", settings.identifier_type_national_id)
        _add(ident, "number", person.id_number)
        _add(ident, "issue_country", settings.country_code)


def _account(parent: etree._Element, tag: str, txn: Txn, settings: ComplianceSettings) -> None:
    node = _add(parent, tag)
    crypto = txn.asset != "KES"
    _add(node, "institution_name", txn.asset if crypto else settings.mpesa_institution)
    _add(node, "non_bank_institution", "true")
    _add(node, "account", txn.counterparty or "UNKNOWN")
    _add(node, "currency_code", "KES" if not crypto else txn.asset.split("-")[0])


def _my_client(parent: etree._Element, side: str, client: Person, settings: ComplianceSettings) -> None:
    """Our customer's side of a transaction: `side` is "from" or "to"."""
    node = _add(parent, f"t_{side}_my_client")
    _add(node, f"{side}_funds_code", settings.funds_code)
    _person(node, f"{side}_person", client, settings)
    _add(node, f"{side}_country", settings.country_code)


def _counterparty(parent: etree._Element, side: str, txn: Txn, settings: ComplianceSettings) -> None:
    """The other side of a transaction (an M-Pesa number or a chain address)."""
    node = _add(parent, f"t_{side}")
    _add(node, f"{side}_funds_code", settings.funds_code)
    _account(node, f"{side}_account", txn, settings)
    _add(node, f"{side}_country", settings.country_code)


def _transaction(root: etree._Element, txn: Txn, client: Person, settings: ComplianceSettings) -> None:
    node = _add(root, "transaction")
    _add(node, "transaction_number", txn.number)
    _add(node, "internal_ref_number", txn.number)
    _add(node, "transaction_description", txn.description)
    _add(node, "date_transaction", _iso(txn.at))
    crypto = txn.asset != "KES" and txn.kind in ("withdraw", "deposit")
    _add(node, "transmode_code", settings.transmode_crypto if crypto else settings.transmode_mobile_money)
    _add(node, "amount_local", f"{txn.amount_kes:.2f}")
    if txn.kind in OUTBOUND_KINDS:
        _my_client(node, "from", client, settings)
        _counterparty(node, "to", txn, settings)
    else:
        _counterparty(node, "from", txn, settings)
        _my_client(node, "to", client, settings)
    _add(node, "comments", f"{txn.kind} {txn.amount} {txn.asset}; counterparty {txn.counterparty or 'n/a'}")


def build_report(data: ReportInput, settings: ComplianceSettings) -> bytes:
    if data.report_code not in REPORT_CODES:
        raise ValueError(f"unknown goAML report code {data.report_code!r}")
    root = etree.Element("report")
    _add(root, "rentity_id", settings.rentity_id)
    if settings.rentity_branch:
        _add(root, "rentity_branch", settings.rentity_branch)
    _add(root, "submission_code", "E")
    _add(root, "report_code", data.report_code)
    _add(root, "entity_reference", data.entity_reference)
    _add(root, "submission_date", _iso(data.submission_date))
    _add(root, "currency_code_local", "KES")
    mlro = _add(root, "reporting_person")
    _add(mlro, "first_name", settings.mlro_first_name)
    _add(mlro, "last_name", settings.mlro_last_name)
    phone = _add(_add(mlro, "phones"), "phone")
    _add(phone, "tph_contact_type", settings.phone_contact_type)
    _add(phone, "tph_communication_type", settings.phone_communication_type)
    _add(phone, "tph_number", settings.mlro_phone)
    _add(mlro, "email", settings.mlro_email)
    _add(mlro, "occupation", settings.mlro_occupation)
    location = _add(root, "location")
    _add(location, "address_type", settings.address_type)
    _add(location, "address", settings.address)
    _add(location, "city", settings.city)
    _add(location, "country_code", settings.country_code)
    _add(root, "reason", data.reason)
    _add(root, "action", data.action)
    if data.transactions:
        for txn in data.transactions:
            _transaction(root, txn, data.client, settings)
    else:
        party = _add(_add(_add(root, "activity"), "report_parties"), "report_party")
        _person(party, "person", data.client, settings)
        _add(party, "reason", data.reason)
    if data.indicators:
        indicators = _add(root, "report_indicators")
        for code in data.indicators:
            _add(indicators, "indicator", code)
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml


def missing_elements(xml: bytes) -> list[str]:
    """Required elements absent from a report (empty list when complete). Parses, so it also
    proves the document is well-formed."""
    root = etree.fromstring(xml)
    missing = [
        tag
        for tag in REQUIRED_REPORT_ELEMENTS
        if root.find(tag) is None
        or (not (root.findtext(tag) or "").strip() and tag not in ("reporting_person", "location"))
    ]
    transactions = root.findall("transaction")
    if not transactions and root.find("activity/report_parties/report_party") is None:
        missing.append("transaction|activity")
    for index, txn in enumerate(transactions):
        missing += [
            f"transaction[{index}]/{tag}" for tag in REQUIRED_TRANSACTION_ELEMENTS if not txn.findtext(tag)
        ]
        if txn.find("t_from_my_client") is None and txn.find("t_from") is None:
            missing.append(f"transaction[{index}]/t_from")
        if txn.find("t_to_my_client") is None and txn.find("t_to") is None:
            missing.append(f"transaction[{index}]/t_to")
    return missing
