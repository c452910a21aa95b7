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


class CpuSampler:
    """User+system CPU of the processes whose command line contains any of `needles` (e.g. the
    PostgreSQL backends of one database, `redis-server`), sampled from /proc every `every` seconds
    in a thread: processes that start and exit during the run count (up to one sample period of an
    exiting process is lost). Redis and PostgreSQL are shared with whatever else runs on the box."""

    def __init__(self, *needles: str, every: float = 0.1) -> None:
        import threading

        self.needles, self.every = needles, every
        self._first: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _scan(self) -> dict[int, int]:
        found: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    command = handle.read().replace(b"\0", b" ").decode(errors="replace")
                if not any(needle in command for needle in self.needles):
                    continue
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry)] = int(fields[11]) + int(fields[12])
        return found

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self._last.update(self._scan())

    def __enter__(self) -> CpuSampler:
        self._first = self._scan()
        self._last = dict(self._first)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._last.update(self._scan())

    @property
    def seconds(self) -> float:
        ticks = sum(value - self._first.get(pid, 0) for pid, value in self._last.items())
        return ticks / os.sysconf("SC_CLK_TCK")
