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


# Open-loop load with wrk's Lua (Debian has no wrk2; h2load's --rps submits a request that falls due
# while its connection is busy only once the connection is free, and times it from then, and posts one
# fixed body): what wrk2 does. One connection per wrk thread (-tN -cN), so each thread's Lua state is one
# connection's: connection t sends its k-th request at START + (k * N + t - 1) / rate (the run's requests
# evenly spaced at `rate` whatever the answers' latency) and each latency runs from when its request was
# due. An answer that stalls delays its connection's next request without hiding that request's wait (no
# coordinated omission); a request due before the end and not answered when wrk stops counts with the
# time it had waited by then (a lower bound). The caller's Lua defines `make_request(tid, k)`: the k-th
# request (from 0) of connection `tid` (from 1), a `wrk.format(...)` string.
_OPEN_LOOP_LUA = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")
local function now_us()  -- CLOCK_MONOTONIC: Python's time.monotonic()
  ffi.C.clock_gettime(1, timespec)
  return tonumber(timespec.tv_sec) * 1000000 + tonumber(timespec.tv_nsec) / 1000
end
local START, STOP, GAP, N, OUT = %(start_us).0f, %(stop_us).0f, %(gap_us).6f, %(connections)d, "%(out)s"
local function due_at(tid, k) return START + (k * N + tid - 1) * GAP end
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("tid", #threads) end
-- per thread (connection): wrk calls delay() before every request it sends, then request(), then
-- response() when the answer is in; request() once more at start-up to build a default (k is -1 then)
k, due, answered, errors = -1, 0, -1, 0
latencies, lags = {}, {}
function delay()
  k = k + 1
  due = due_at(tid, k)
  if due >= STOP then return 3600000 end  -- the schedule is over: wait for wrk to stop
  local wait = due - now_us()
  return wait > 0 and math.ceil(wait / 1000) or 0  -- wrk's timers count milliseconds
end
function request()
  if k >= 0 then lags[#lags + 1] = (now_us() - due) / 1000 end
  return make_request(tid, math.max(k, 0))
end
function response(status, headers, body)
  if k < 0 then return end
  latencies[#latencies + 1] = (now_us() - due) / 1000
  answered = k
  if status ~= 200 then errors = errors + 1 end
end
function done(summary, latency, requests)
  local stopped = now_us()
  local out = io.open(OUT, "w")
  for _, thread in ipairs(threads) do
    local tid = thread:get("tid")
    for _, value in ipairs(thread:get("latencies")) do out:write(string.format("A %%.3f\\n", value)) end
    for _, value in ipairs(thread:get("lags")) do out:write(string.format("L %%.3f\\n", value)) end
    local j = thread:get("answered") + 1
    while due_at(tid, j) < STOP do  -- due, not answered when wrk stopped
      out:write(string.format("U %%.3f\\n", (stopped - due_at(tid, j)) / 1000))
      j = j + 1
    end
    out:write(string.format("E %%d\\n", thread:get("errors")))
  end
  out:close()
end
"""


@dataclass(frozen=True)
class OpenLoop:
    latencies: list[float]  # ms from due to answer; unanswered requests with their wait so far
    errors: int  # answers other than 200
    unfinished: int  # due and not answered when wrk stopped (in `latencies` as lower bounds)
    lag_p99: float  # ms the generator sent a request after it was due (timer granularity, its CPU share)
    generator_cpu_seconds: float  # wrk's user+system CPU: what the generator took from the shared cores
    command: str


def run_wrk_open_loop(
    port: int, request_lua: str, rate: float, seconds: float, connections: int, path: str = "/"
) -> OpenLoop:
    """`rate` requests a second for `seconds`, open loop, over `connections` keep-alive connections
    (one wrk thread each): see _OPEN_LOOP_LUA. `request_lua` defines make_request(tid, k)."""
    import resource
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-open-loop-") as folder:
        out, script = Path(folder) / "latencies.txt", Path(folder) / "open_loop.lua"
        start = time.monotonic() + 0.5  # wrk's threads started and connected by then
        script.write_text(
            _OPEN_LOOP_LUA
            % {
                "start_us": start * 1e6,
                "stop_us": (start + seconds) * 1e6,
                "gap_us": 1e6 / rate,
                "connections": connections,
                "out": out,
            }
            + request_lua
        )
        duration = int(seconds + 3)  # the lead, the schedule, then 2 s for the last answers
        command = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{duration}s", "-s", str(script),
                   f"http://127.0.0.1:{port}{path}"]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, capture_output=True, text=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        lines = out.read_text().split()
    latencies: list[float] = []
    lags: list[float] = []
    errors = unfinished = 0
    for kind, value in zip(lines[::2], lines[1::2], strict=True):
        if kind == "A":
            latencies.append(float(value))
        elif kind == "U":
            latencies.append(float(value))
            unfinished += 1
        elif kind == "L":
            lags.append(float(value))
        else:
            errors += int(value)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    shown = " ".join(command).replace(str(script), "open_loop.lua")
    return OpenLoop(latencies, errors, unfinished, percentile(lags, 0.99) if lags else 0.0, cpu, shown)


def process_cpu_seconds(pgid: int) -> dict[int, float]:
    """CPU time (user + system) so far of each live process of one process group, by pid: with
    `group_cpu_seconds`'s sum, how the work fell on the uvicorn workers."""
    found: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def busiest_share(before: dict[int, float], after: dict[int, float]) -> float:
    """The busiest process's share of the CPU a group's processes used between two samples (0.5 for
    two workers evenly loaded; a worker serving most connections alone queues while the other idles)."""
    used = [after[pid] - before.get(pid, 0.0) for pid in after]
    return max(used) / sum(used) if sum(used) > 0 else 0.0


def serve_socket_per_worker(
    target: str, port: int, workers: int, env: dict[str, str], cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    """`serve`, as `kibeti serve --reuse-port` serves (webapp.serving): each worker on a socket of its
    own, so the kernel spreads the connections evenly instead of to whichever worker wakes first."""
    command = [
        str(ROOT / ".venv/bin/python"), "-m", "webapp.serving", target, "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--reuse-port",
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
