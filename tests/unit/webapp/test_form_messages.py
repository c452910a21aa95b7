"""A field typed but too short says so ("This is too short."), in the viewer's language; only a field
left blank says "Fill in this field." (a merchant's one-letter email, or a four-digit sign-in code,
was told to fill in the field it had just filled)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field
from starlette.datastructures import FormData

from webapp.web import forms


class SignIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    totp: str = Field(min_length=6, max_length=6)


@pytest.mark.parametrize(
    ("language", "short", "blank"),
    [("en", "This is too short.", "Fill in this field."), ("sw", "Hii ni fupi mno.", "Jaza sehemu hii.")],
)
def test_too_short_is_not_blank(language: str, short: str, blank: str) -> None:
    typed = forms.validate(SignIn, forms.as_dict(_form(email="x", totp="1234")), language)
    assert typed.errors == {"email": short, "totp": short}
    left = forms.validate(SignIn, forms.as_dict(_form(email="  ", totp="")), language)
    assert left.errors == {"email": blank, "totp": blank}


def _form(**fields: str) -> FormData:
    return FormData(list(fields.items()))
