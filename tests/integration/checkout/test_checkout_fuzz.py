"""Property test over the checkout routes: any invoice id, language, Accept-Language and phone field
gets a page (200, 303, 404, 409, 422 or 429), never a 5xx or a traceback."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.runtime import Runtime
from tests.integration.checkout.test_checkout_page import _invoice, page  # noqa: F401 - the fixture
from tests.integration.webhooks.conftest import Factory

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
FUZZ = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@FUZZ
@given(invoice_id=st.text(max_size=50), lang=st.text(max_size=8), accept=header_text)
async def test_any_invoice_id_or_language_gets_a_page(
    page: tuple[httpx.AsyncClient, Runtime],  # noqa: F811
    invoice_id: str,
    lang: str,
    accept: str,
) -> None:
    client, _runtime = page
    for suffix in ("", "/status.json"):
        answer = await client.get(
            f"/i/{quote(invoice_id, safe='')}{suffix}?lang={quote(lang)}", headers={"Accept-Language": accept}
        )
        assert answer.status_code in (200, 404, 307), answer.text
        assert "Traceback" not in answer.text


@FUZZ
@given(phone=st.text(max_size=60), lang=st.sampled_from(["en", "sw", "xx"]))
async def test_any_phone_field_gets_an_answer_in_the_payers_language(
    page: tuple[httpx.AsyncClient, Runtime],  # noqa: F811
    session_factory: Factory,
    phone: str,
    lang: str,
) -> None:
    client, _runtime = page
    invoice_id = "inv_fuzz"
    if (await client.get(f"/i/{invoice_id}")).status_code == 404:
        await _invoice(session_factory, public_id=invoice_id)
    answer = await client.post(f"/i/{invoice_id}/mpesa?lang={lang}", data={"phone": phone})
    assert answer.status_code in (303, 409, 422, 429), answer.text
