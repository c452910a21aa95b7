"""A withdrawal held for compliance review is told as it is: held, nothing sent yet, an SMS when
staff decide (web portal and Telegram, English and Swahili), not as a refusal."""

from __future__ import annotations

import pytest

from channels.telegram.texts import error_text
from wallets.errors import WithdrawalHeldForReview
from webapp.customer_portal.errors import refusal


@pytest.mark.parametrize(
    ("language", "says"),
    [
        (
            "en",
            "Your withdrawal needs a review. The amount is held in your wallet; nothing is sent yet.",
        ),
        ("sw", "Utoaji wako unahitaji ukaguzi. Kiasi kimezuiliwa kwenye pochi yako; hakuna kilichotumwa."),
    ],
)
def test_portal_and_telegram_say_the_withdrawal_is_held_for_review(language: str, says: str) -> None:
    held = WithdrawalHeldForReview(12)
    assert says in refusal(held, language, "*483#")
    assert says in error_text(held, language)
