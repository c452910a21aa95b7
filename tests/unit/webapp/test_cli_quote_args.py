"""`kibeti quote buy -1000 KES BTC` names the amount as it was typed: click reads "-1000" as the
option cluster -1 -0 -0 -0, and the message said "-1 is not an amount"."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from webapp.cli.quote import cli


@pytest.mark.parametrize("typed", ["-1000", "-5", "-2.50", "-1,000"])
def test_a_negative_amount_is_named_as_typed(typed: str) -> None:
    result = CliRunner().invoke(cli, ["buy", typed, "KES", "BTC"])
    assert result.exit_code == 2
    assert f"Invalid value for AMOUNT: {typed} is not an amount: it must be more than zero" in result.output


def test_an_unknown_option_is_still_an_unknown_option() -> None:
    result = CliRunner().invoke(cli, ["buy", "1000", "KES", "BTC", "--nosuch"])
    assert result.exit_code == 2 and "No such option '--nosuch'" in result.output
