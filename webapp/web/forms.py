"""Field-level validation of posted forms with pydantic: the model or a message per field, in the
viewer's language, shown beside the field; the values typed are kept (never secrets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from webapp.web import i18n

M = TypeVar("M", bound=BaseModel)
# pydantic error types -> catalog codes (web.form.*); anything else is "invalid"
_MESSAGES = {
    "missing": "web.form.required",
    "string_too_short": "web.form.too_short",  # typed, but too short (a blank field is "missing")
    "string_too_long": "web.form.too_long",
    "string_pattern_mismatch": "web.form.invalid",
    "int_parsing": "web.form.number",
    "decimal_parsing": "web.form.number",
    "greater_than_equal": "web.form.too_small",
    "less_than_equal": "web.form.too_large",
}
SECRET_FIELDS = frozenset({"password", "totp", "pin", "otp", "csrf_token"})


@dataclass
class FormResult(Generic[M]):
    value: M | None
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)  # what was typed, to fill the form again

    @property
    def ok(self) -> bool:
        return self.value is not None and not self.errors


def as_dict(form: FormData) -> dict[str, str]:
    """Form fields as text; blank optional fields dropped so the model's defaults apply."""
    found: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and key != "csrf_token" and value.strip() != "":
            found[key] = value.strip() if key not in SECRET_FIELDS else value
    return found


def message_for(error_type: str, language: str) -> str:
    return i18n.text(_MESSAGES.get(error_type, "web.form.invalid"), language)


def validate(model: type[M], data: dict[str, Any], language: str) -> FormResult[M]:
    kept = {k: str(v) for k, v in data.items() if k not in SECRET_FIELDS}
    try:
        return FormResult(value=model.model_validate(data), values=kept)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "_form"
            errors.setdefault(name, message_for(error["type"], language))
        return FormResult(value=None, errors=errors, values=kept)


async def parse(model: type[M], form: FormData, language: str) -> FormResult[M]:
    return validate(model, as_dict(form), language)
