"""A refusal the portal's actions can meet reaches the viewer in their language: every such error
code has a staff.refused.<code> text in English and Swahili (webapp.staff_portal.actions.message)."""

from __future__ import annotations

import pytest

from compliance import errors as compliance_errors
from core.configchanges import errors as config_errors
from core.errors import KibetiError
from core.fx import errors as fx_errors
from core.i18n.catalog import has
from core.ledger.errors import InsufficientFunds
from core.merchants import errors as merchant_errors
from core.payments import errors as payment_errors
from payouts import c2b_suspense
from webapp.staff_portal.actions import message

GENERIC = {"compliance_error", "payment_error", "payment_idempotency_conflict", "sanctions_list_malformed",
           "sanctions_list_missing", "invalid_id_number", "invalid_date_of_birth", "invalid_suspicion_at",
           "payout_amount_out_of_range", "collection_amount_out_of_range", "unknown_collection",
           "rates_unavailable", "rate_source_error", "fx_error", "merchant_error"}  # fmt: skip


def _codes() -> list[str]:
    found = {InsufficientFunds.code, c2b_suspense.NotInSuspense.code, c2b_suspense.AlreadyReleased.code,
             c2b_suspense.NoSuchCustomer.code}  # fmt: skip
    for module in (compliance_errors, config_errors, fx_errors, merchant_errors, payment_errors):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, KibetiError)
                and value.__module__ == module.__name__
            ):
                found.add(value.code)
    return sorted(found - GENERIC)


@pytest.mark.parametrize("code", _codes())
def test_every_refusal_has_a_text(code: str) -> None:
    assert has(f"staff.refused.{code}"), code


def test_the_viewer_reads_it_in_swahili() -> None:
    refusal = compliance_errors.LimitChangeNotFound("no limit change 1")
    assert message(refusal, "sw") == "Hakuna mabadiliko hayo ya kikomo."
    assert message(refusal, "en") == "There is no such limit change."
