"""What every benchmark module hands `bench/run_all.py`: rows of one table; and the scaffold the
served benchmarks share (uvicorn servers, wrk, CPU from /proc, a leased Redis database).

A module `bench/bench_<name>.py` plugs in by exposing `run(short: bool) -> list[Row]`; `short` is
`make bench`'s default (seconds per figure, not minutes). Each row is one figure of this run beside
its anchor measured in the same run (pgbench, a floor server, a no-op job...), the ratio and the
target it is judged against.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
        return self.value / float(self.anchor_value)


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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@contextlib.contextmanager
def leased_redis_db(admin_url: str = "redis://127.0.0.1:6379/0", *, wait: float = 300) -> Iterator[str]:
    """The URL of a Redis database index (1-15) no one else uses meanwhile: the lease tests/conftest.py
    takes (`kibeti:test:db-lease:<index>`), so a benchmark's FLUSHDB never empties a test run's data."""
    import redis

    admin = redis.Redis.from_url(admin_url, socket_timeout=5)
    owner = f"bench:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
    give_up_at = time.monotonic() + wait
    index = 0
    while not index:
        index = next(
            (i for i in range(1, 16) if admin.set(f"kibeti:test:db-lease:{i}", owner, nx=True, ex=3600)), 0
        )
        if not index:
            if time.monotonic() > give_up_at:
                raise TimeoutError(f"every Redis test database stayed leased for {wait:.0f} s")
            time.sleep(1)
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{index}"
    finally:
        if admin.get(f"kibeti:test:db-lease:{index}") == owner.encode():  # only our own lease
            admin.delete(f"kibeti:test:db-lease:{index}")
        admin.close()


def serve(
    target: str, port: int, workers: int, env: dict[str, str], cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    command = [
        str(ROOT / ".venv/bin/uvicorn"), target, "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    # logs go to /dev/null (in production to a collector): the run measures the hop, not a terminal pipe
    return subprocess.Popen(
        command,
        cwd=cwd,  # uvicorn imports the app from its working directory first
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by the live processes of one process group (the uvicorn
    master and its workers): a per-request cost that, unlike requests/s, hardly moves with the load
    the other processes on this shared machine put on the CPUs."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "pid (comm)": state ppid pgrp ... utime(11) stime(12)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_wrk(port: int, script: Path, seconds: int, connections: int) -> tuple[float, float, str, int]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
               f"http://127.0.0.1:{port}"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99_text = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out)
    assert p99_text is not None, out
    value, unit = float(p99_text.group(1)), p99_text.group(2)
    p99_ms = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    if "Non-2xx" in out:
        raise RuntimeError(f"errors during the run:\n{out}")
    return rps, p99_ms, " ".join(command), requests
