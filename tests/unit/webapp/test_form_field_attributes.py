"""The shared form macros (web/forms.html, used by the customer portal, the merchant dashboard and the
staff portal) write each attribute apart: the environment trims blocks, so an `{% if %}` on its own
line once glued `value=""required` and `requiredautocomplete="tel"` together, and a browser read one
attribute named "requiredautocomplete": the field lost `required` and `autocomplete`."""

from __future__ import annotations

from html.parser import HTMLParser

from webapp.web.templating import WEB_TEMPLATES, make_environment


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "textarea", "select"):
            self.tags[tag] = dict(attrs)


def _render(call: str, errors: dict[str, str] | None = None) -> dict[str, dict[str, str | None]]:
    env = make_environment([WEB_TEMPLATES])
    source = '{% from "web/forms.html" import field, textarea, select %}' + call
    html = env.from_string(source).render(errors=errors or {}, values={"phone": "0712"})
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_a_required_field_keeps_each_attribute() -> None:
    attrs = _render(
        '{{ field("phone", "Phone", errors, values, type="tel", required=true, autocomplete="tel",'
        ' extra=\'inputmode="numeric"\', hint="e.g. 0712 345 678") }}'
    )["input"]
    assert attrs == {
        "id": "f-phone",
        "name": "phone",
        "type": "tel",
        "value": "0712",
        "required": None,
        "autocomplete": "tel",
        "aria-describedby": "h-phone",
        "inputmode": "numeric",
    }


def test_a_field_with_an_error_points_at_it() -> None:
    attrs = _render(
        '{{ field("phone", "Phone", errors, values, required=true, autocomplete="tel") }}',
        errors={"phone": "Enter a number"},
    )["input"]
    assert attrs["required"] is None and attrs["autocomplete"] == "tel"
    assert attrs["aria-invalid"] == "true" and attrs["aria-describedby"] == "e-phone"


def test_a_password_field_has_no_value_and_keeps_required() -> None:
    attrs = _render('{{ field("pin", "PIN", errors, values, type="password", required=true) }}')["input"]
    assert "value" not in attrs and attrs["required"] is None and attrs["type"] == "password"


def test_a_required_textarea_with_an_error_keeps_each_attribute() -> None:
    attrs = _render('{{ textarea("note", "Note", errors, values, required=true) }}', errors={"note": "x"})[
        "textarea"
    ]
    assert attrs == {
        "id": "f-note",
        "name": "note",
        "rows": "3",
        "required": None,
        "aria-invalid": "true",
        "aria-describedby": "e-note",
    }
