"""Which requests write an access line: every one, except a USSD hop or a Telegram update answered
200 in under 5 s (counted and timed by the latency histogram instead)."""

from __future__ import annotations

import pytest

from webapp.middleware import QUIET_UNDER_SECONDS, _quiet


@pytest.mark.parametrize(
    ("path", "status", "seconds", "quiet"),
    [
        ("/ussd/at-token", 200, 0.02, True),
        ("/ussd/at-token", 403, 0.02, False),  # a wrong token: someone else knocking
        ("/ussd/at-token", 500, 0.02, False),
        ("/ussd/at-token", 200, QUIET_UNDER_SECONDS, False),  # slow enough to risk the session
        ("/ussd/at-token/events", 200, 0.02, True),
        ("/api/v1/invoices", 200, 0.02, False),
        ("/telegram/secret", 200, 0.02, True),
        ("/telegram/secret", 403, 0.02, False),  # a wrong secret
        ("/telegram/secret", 400, 0.02, False),  # not an update
        ("/telegram-sim/bot1:x/getMe", 200, 0.02, False),  # the embedded default's Bot API double
        ("/ussdx", 200, 0.02, False),
        ("/health", 200, 0.001, False),
    ],
)
def test_only_routine_ussd_hops_and_telegram_updates_are_left_out(
    path: str, status: int, seconds: float, quiet: bool
) -> None:
    assert _quiet(path, status, seconds) is quiet
