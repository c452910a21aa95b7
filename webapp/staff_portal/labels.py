"""Internal codes (case states, alert rules, case history kinds, entry and account kinds, payout
states, a movement's decision and compliance reason) as staff read them, in the viewer's language:
`staff.code.<group>.<code>` in the catalogs.

The raw code stays on the page in the label's title attribute (staff search and talk by it); a
compliance reason code is shown beside its label (staff quote it in reports). A code with no label
yet is shown as it is."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from core.i18n.catalog import has
from webapp.web import i18n

GROUPS = (
    "case_status", "alert_status", "disposition", "priority", "event", "rule", "movement", "entry", "account",
    "payout", "decision", "reason",
)  # fmt: skip


def label_text(group: str, code: str, language: str) -> str:
    """The label for `code`, or the code itself when the catalogs have none."""
    key = f"staff.code.{group}.{code}"
    return i18n.text(key, language) if code and has(key) else code


def label_html(group: str, code: str | None, language: str) -> Markup:
    """`<span title="code">label</span>`: the label to read, the code to search by."""
    if not code:
        return Markup("–")
    return Markup('<span title="{}">{}</span>').format(code, label_text(group, code, language))


def label_with_code(group: str, code: object, language: str) -> Markup:
    """`label <code>code</code>`: the label to read beside the code to quote; an unknown code alone."""
    if code is None or code == "":
        return Markup("–")
    raw = str(code)
    label = label_text(group, raw, language)
    if label == raw:
        return Markup("<code>{}</code>").format(raw)
    return Markup("{} <code>{}</code>").format(label, raw)


def event_text(kind: str, text: str, data: dict[str, Any] | None, language: str) -> str:
    """A case history line's words: the ones cases.py writes for a status change or an assignment
    are rebuilt from the event's data in the viewer's language; a note or summary is shown as written."""
    data = data or {}
    if kind == "status" and data.get("disposition"):
        disposition = label_text("disposition", str(data["disposition"]), language)
        return i18n.text("staff.code.event_text.closed", language, disposition=disposition)
    if kind == "status" and data.get("status") == "open":
        return i18n.text("staff.code.event_text.opened", language)
    if kind == "status" and data.get("due"):
        return i18n.text("staff.code.event_text.escalated", language)
    if kind == "assign" and data.get("assignee"):
        return i18n.text("staff.code.event_text.assigned", language, assignee=str(data["assignee"]))
    return text


def helpers(language: str) -> dict[str, Any]:
    """What a staff template uses: `code(group, value)` (HTML with the title), `code_text(group,
    value)` (plain, for an <option>), `reason_label(value)` (a compliance reason code: label beside the
    code) and `event_text(event)`."""

    def code(group: str, value: str | None) -> Markup:
        return label_html(group, value, language)

    def reason(value: object) -> Markup:
        return label_with_code("reason", value, language)

    def code_text(group: str, value: str) -> str:
        return label_text(group, value, language)

    def event(e: Any) -> str:
        return event_text(e.kind, e.text, getattr(e, "data", None), language)

    return {"code": code, "code_text": code_text, "reason_label": reason, "event_text": event}
