"""What every benchmark module hands `bench/run_all.py`: rows of one table.

A module `bench/bench_<name>.py` plugs in by exposing `run(short: bool) -> list[Row]`; `short` is
`make bench`'s default (seconds per figure, not minutes). Each row is one figure of this run beside
its anchor measured in the same run (pgbench, a floor server, a no-op job...), the ratio and the
target it is judged against.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    figure: str  # what was measured, e.g. "ledger post_entry transfers/s, 32 clients"
    value: float
    unit: str = ""  # "/s", "ms", "x"...
    anchor: str = ""  # the same-run reference, e.g. "pgbench tpcb-like TPS, 32 clients"; "" = none
    anchor_value: float | None = None
    target: str = ""  # human text, e.g. ">= 1.0x anchor", "<= 15 ms"
    met: bool | None = None  # None: nothing to judge (informational)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.anchor_value in (None, 0):
            return None
        return self.value / float(self.anchor_value)  # type: ignore[arg-type]


def load_average() -> float:
    return os.getloadavg()[0]


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: list[Row]) -> str:
    """A markdown table: figure, value, anchor, anchor value, ratio, target, met."""
    lines = [
        "| figure | value | anchor (same run) | anchor value | ratio | target | met |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for row in rows:
        ratio = row.ratio
        met = "-" if row.met is None else ("met" if row.met else "MISSED")
        figure = row.figure + (f" ({row.note})" if row.note else "")
        lines.append(
            f"| {figure} | {fmt(row.value)}{(' ' + row.unit) if row.unit else ''} | {row.anchor or '-'} | "
            f"{fmt(row.anchor_value)} | {'-' if ratio is None else f'{ratio:.2f}x'} | {row.target or '-'} | {met} |"
        )
    return "\n".join(lines)
