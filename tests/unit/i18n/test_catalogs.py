from __future__ import annotations

import gettext
import io

import pytest
from babel.messages.pofile import read_po

from core.i18n import translate
from core.i18n.catalog import LOCALE_DIR, _compile


@pytest.mark.parametrize("language", ["en", "sw"])
def test_committed_mo_matches_po(language: str) -> None:
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    committed = gettext.GNUTranslations(io.BytesIO((folder / "messages.mo").read_bytes()))
    fresh = gettext.GNUTranslations(io.BytesIO(_compile(folder / "messages.po")))
    with (folder / "messages.po").open("rb") as handle:
        for message in read_po(handle):
            if message.id:
                assert committed.gettext(message.id) == fresh.gettext(message.id), message.id
                assert message.string, f"{language}: {message.id} is untranslated"


def test_template_and_catalogs_agree() -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as handle:
        template = {m.id for m in read_po(handle) if m.id}
    for language in ("en", "sw"):
        with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            assert {m.id for m in read_po(handle) if m.id} == template


def test_fallbacks_and_formatting() -> None:
    assert translate("ussd.reg.done", "sw", name="Amina", code="*483*1#").startswith("Karibu Kibeti, Amina!")
    assert translate("ussd.reg.done", "fr", name="A", code="*1#").startswith("Welcome")
    assert translate("no.such.code", "sw") == "no.such.code"
    assert "{name}" in translate("ussd.reg.done", "en")  # missing values never raise
