"""The declared state table: every USSD screen, by name."""

from __future__ import annotations

from channels.ussd.engine import State
from channels.ussd.states import (  # issue 19: help, PIN reset, pending, rates
    account,
    care,
    cashout,
    merchant,
    pending,
    rates,
    registration,
    send,
    trade,
    wallet,
    withdraw,
)


def build_table() -> dict[str, State]:
    table: dict[str, State] = {}
    for module in (
        registration, wallet, trade, send, account, care, pending, rates, cashout, withdraw, merchant,
    ):  # fmt: skip
        for state in module.STATES:
            if state.name in table:
                raise ValueError(f"duplicate USSD state {state.name}")
            table[state.name] = state
    return table


TABLE = build_table()
__all__ = ["TABLE", "build_table"]
