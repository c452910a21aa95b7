"""Merchant invoice benchmarks (issue 15), PostgreSQL.

1. Creation: POST /api/v1/invoices through the real app under uvicorn (API key check, per-key rate
   limit in Redis, Idempotency-Key row, fresh rate lookups, three HD addresses, methods, the event
   log and the webhook outbox row, one transaction), 32 wrk connections, beside a bare FastAPI JSON
   POST served and driven the same way in the same run. Target: >= 0.3x its requests/s; p99 reported.
   Keys rotate over 100 API keys of one merchant (each key's limit is 600 a minute).
2. Detection: the one deposit scanner over the same blocks (unrelated transfers plus 10 payments to
   10 invoices' TRC20 addresses) with 10,000 open invoices watched vs 10; each run detects the
   payments and moves those invoices to Processing. Target: <= 1.3x the time.

Run: `.venv/bin/python bench/bench_invoices.py [--full]` (needs wrk, PostgreSQL and Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import group_cpu_seconds, leased_redis_db, run_wrk, serve, stop

PG_ADMIN = os.environ.get("KIBETI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
# KIBETI_BENCH_REDIS, else a Redis database leased as the tests lease theirs (each server starts from a
# FLUSHDB: a fixed index emptied a test run's database when both ran)
REDIS_URL = os.environ.get("KIBETI_BENCH_REDIS", "")
DB_NAME = "kibeti_bench_invoices"
KEYS = 100
CONNECTIONS = 32

bare = FastAPI()


@bare.post("/api/v1/invoices")
async def bare_post(request: Request) -> JSONResponse:
    """The floor: parse the JSON body and answer JSON, nothing else."""
    body = await request.json()
    return JSONResponse({"id": "inv_bare", "amount": body.get("amount"), "status": "new"}, status_code=201)


# `run` is new for every wrk invocation: the measured run's Idempotency-Keys are never the warm-up's
# (a reused key is answered from the stored response, a replay, not a creation)
WRK_SCRIPT = """
local keys = {%(keys)s}
local run = "%(run)s"
local n = 0
local tid = 0
function setup(thread) tid = tid + 1; thread:set("tid", tid) end
request = function()
  n = n + 1
  local key = keys[(n %% #keys) + 1]
  local body = '{"amount": "' .. (1000 + n %% 5000) .. '.50", "currency": "KES", "order_id": "bench-' .. n .. '"}'
  return wrk.format("POST", "/api/v1/invoices", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key, ["Idempotency-Key"] = "bench-" .. run .. "-" .. tostring(tid) .. "-" .. n}, body)
end
"""


def db_url(name: str = DB_NAME) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def prepare_database(name: str = DB_NAME) -> str:
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    from webapp.schema import upgrade

    url = db_url(name)
    await asyncio.to_thread(upgrade, url)
    return url


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


async def seed_merchant(url: str, keys: int) -> list[str]:
    """Fresh rates, an active merchant and `keys` API keys with invoices:write."""
    from core.auth import api_keys
    from core.clock import SystemClock
    from core.db.session import make_engine, make_session_factory
    from core.fx import service as fx
    from core.fx.sources import DemoRateSource
    from core.merchants import service as merchants

    engine = make_engine(url)
    clock = SystemClock()
    plaintexts = []
    async with make_session_factory(engine)() as session, session.begin():
        await fx.refresh(session=session, sources=[DemoRateSource()], clock=clock)
        merchant = await merchants.create_merchant(
            session=session, name="Bench Duka", actor="bench", clock=clock
        )
        merchant.status = "active"
        for i in range(keys):
            issued = await api_keys.create_api_key(
                session=session, merchant_id=merchant.id, scopes=["invoices:write"], name=f"k{i}", clock=clock,
                actor="bench",
            )  # fmt: skip
            plaintexts.append(issued.plaintext)
    await engine.dispose()
    return plaintexts


async def fill_pool(url: str, per_network: int) -> None:
    """Pre-derived addresses, as the scheduler's refill job keeps them (wallets.address_pool)."""
    from core.db.session import make_engine, make_session_factory
    from wallets import service as wallet_service
    from wallets.hd.derivation import AddressDeriver
    from wallets.hd.keys import Seed, seed_from_mnemonic
    from wallets.networks import Network

    seed = Seed(seed_from_mnemonic("abandon " * 11 + "about"))  # the test/demo keys the server uses
    deriver = AddressDeriver({network: seed.account_xpub(network) for network in Network})
    engine = make_engine(url)
    async with make_session_factory(engine)() as session, session.begin():
        for network in Network:
            await wallet_service.refill_pool(
                session=session, deriver=deriver, network=network, target=per_network
            )
    await engine.dispose()


def wait_ready(port: int, key: str) -> None:
    for _ in range(300):
        try:
            answer = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/invoices",
                json={"amount": "100"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=5,
            )
            if answer.status_code == 201:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


def redis_db() -> contextlib.AbstractContextManager[str]:
    """The Redis the servers use: KIBETI_BENCH_REDIS when set, else a leased test database."""
    return contextlib.nullcontext(REDIS_URL) if REDIS_URL else leased_redis_db()


def measure_creation(seconds: int, workers: int = 2, pool: int = 5000) -> dict[str, float]:
    with redis_db() as redis_url:
        url = asyncio.run(prepare_database())
        keys = asyncio.run(seed_merchant(url, KEYS))
        if pool:
            asyncio.run(fill_pool(url, pool))
        import redis

        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "KIBETI_ENV": "test",
               "AT_BASE_URL": "http://127.0.0.1:9"}  # fmt: skip
        scripts = []
        for run in ("warmup", "measured"):
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
                handle.write(WRK_SCRIPT % {"keys": ", ".join(f'"{k}"' for k in keys), "run": run})
                scripts.append(Path(handle.name))
        warmup, measured = scripts
        out: dict[str, float] = {}
        try:
            for name, target, port in (
                ("floor", "bench.bench_invoices:bare", 8744),
                ("create", "webapp.main:app", 8742),
            ):
                redis.Redis.from_url(redis_url).flushdb()
                process = serve(target, port, workers, env)
                try:
                    wait_ready(port, keys[0])
                    run_wrk(port, warmup, 2, CONNECTIONS)  # warm-up: pools, caches
                    cpu_before = group_cpu_seconds(process.pid)
                    rps, p99, _command, requests = run_wrk(port, measured, seconds, CONNECTIONS)
                    out[f"{name}_rps"], out[f"{name}_p99"] = rps, p99
                    out[f"{name}_cpu_ms"] = (
                        (group_cpu_seconds(process.pid) - cpu_before) * 1000 / max(requests, 1)
                    )
                finally:
                    stop(process)
        finally:
            for script in scripts:
                script.unlink()
            asyncio.run(drop_database(DB_NAME))
        return out


# --- detection ---------------------------------------------------------------------------------


class Chain:
    """An in-memory TRON-like chain: the same blocks for every run."""

    def __init__(self, blocks: list[list[tuple[str, int]]], token: str) -> None:
        from wallets.networks import Network

        self.network = Network.TRC20
        self.token = token
        self.blocks: list[tuple[str, list[tuple[str, int]]]] = [("genesis", [])] + [
            (f"h{i}", transfers) for i, transfers in enumerate(blocks, 1)
        ]
        self.height = 0

    async def tip(self) -> int:
        return self.height

    async def block(self, height: int):  # type: ignore[no-untyped-def]
        from wallets.scanning.chain import BlockRef

        return BlockRef(height, self.blocks[height][0])

    async def transfers(self, start: int, end: int):  # type: ignore[no-untyped-def]
        from wallets.scanning.chain import Transfer

        return [
            Transfer(f"tx{h}-{i}", i, h, self.blocks[h][0], self.token, to, amount)
            for h in range(start, end + 1)
            for i, (to, amount) in enumerate(self.blocks[h][1])
        ]


def random_tron(rng_bytes: bytes) -> str:
    return "T" + rng_bytes.hex()[:33]


async def seed_open_invoices(url: str, count: int) -> list[tuple[str, int]]:
    """`count` open invoices, each with its own TRC20 deposit address (bulk rows, as 10,000
    creations through the API would take minutes); returns (address, due) of the first ten."""
    from sqlalchemy import insert

    from core.clock import SystemClock
    from core.db.session import make_engine, make_session_factory
    from core.invoices.models import Invoice, InvoiceMethod
    from core.merchants import service as merchants
    from wallets.models import DepositAddress

    engine = make_engine(url)
    now = datetime.now(UTC)
    due = 19_305_020
    async with make_session_factory(engine)() as session, session.begin():
        merchant = await merchants.create_merchant(
            session=session, name="Bench", actor="bench", clock=SystemClock()
        )
        merchant.status = "active"
        await session.flush()
        rows = [
            {"public_id": f"inv_bench{i:08d}", "merchant_id": merchant.id, "currency": "KES", "amount_minor": 250_000,
             "kes_amount_minor": 250_000, "usd_kes_rate": "", "order_id": "", "description": "", "buyer_phone": "",
             "buyer_email": "", "redirect_url": "", "extra": {}, "status": "new", "additional_status": "none",
             "needs_review": False, "tolerance_bps": 0, "created_at": now, "expires_at": now + timedelta(hours=2),
             "monitoring_until": now + timedelta(hours=26), "created_by_key": ""}
            for i in range(count)
        ]  # fmt: skip
        ids = list((await session.execute(insert(Invoice).returning(Invoice.id), rows)).scalars())
        addresses = [random_tron(secrets.token_bytes(17)) for _ in ids]
        await session.execute(
            insert(DepositAddress),
            [
                {"network": "trc20", "address": a, "derivation_index": n, "chain": 0, "owner_type": "invoice",
                 "owner_id": i, "created_at": now}
                for n, (i, a) in enumerate(zip(ids, addresses, strict=True))
            ],
        )  # fmt: skip
        await session.execute(
            insert(InvoiceMethod),
            [
                {"invoice_id": i, "asset": "USDT-TRC20", "address": a, "rate": "129.5", "rate_source": "demo",
                 "due_minor": due, "demo": True}
                for i, a in zip(ids, addresses, strict=True)
            ],
        )  # fmt: skip
    await engine.dispose()
    return [(a, due) for a in addresses[:10]]


def same_blocks(blocks: int, paid: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """`blocks` blocks of 20 unrelated transfers; the 10 payments spread over them."""
    import random

    rng = random.Random(15)
    chain = [
        [(random_tron(rng.randbytes(17)), rng.randint(1, 10**9)) for _ in range(20)] for _ in range(blocks)
    ]
    for n, (address, due) in enumerate(paid):
        chain[(n * blocks) // len(paid)].append((address, due))
    return chain


async def time_detection(count: int, blocks: int) -> float:
    from sqlalchemy import func, select

    from core.db.session import make_engine, make_session_factory
    from core.invoices.models import Invoice
    from wallets.scanning.monitor import DepositMonitor, MonitorConfig

    name = f"{DB_NAME}_scan_{count}"
    url = await prepare_database(name)
    try:
        paid = await seed_open_invoices(url, count)
        # the same 10 payments in both runs: addresses are per run, the block layout is not
        chain = Chain(same_blocks(blocks, paid), token="TBenchUSDT")
        engine = make_engine(url)
        factory = make_session_factory(engine)
        monitor = DepositMonitor(
            source=chain, session_factory=factory, config=MonitorConfig(confirmations=1000, token=chain.token)
        )
        await monitor.step()  # loads the watched addresses (start-up, not detection)
        chain.height = blocks
        started = time.perf_counter()
        while not (await monitor.step()).caught_up:
            pass
        elapsed = time.perf_counter() - started
        async with factory() as session:
            processing = (
                await session.execute(
                    select(func.count()).select_from(Invoice).where(Invoice.status == "processing")
                )
            ).scalar_one()
        await engine.dispose()
        if processing != len(paid):
            raise RuntimeError(f"{processing} invoices reached Processing, expected {len(paid)}")
        return elapsed
    finally:
        await drop_database(name)


def measure_detection(blocks: int, rounds: int) -> dict[str, float]:
    """Alternate the two sizes `rounds` times; the best time of each (the machine is shared)."""
    times: dict[int, list[float]] = {10: [], 10_000: []}
    for _ in range(rounds):
        for count in times:
            times[count].append(asyncio.run(time_detection(count, blocks)))
    return {"small_s": min(times[10]), "large_s": min(times[10_000])}


def run(short: bool) -> list:  # type: ignore[type-arg]
    from bench.common import Row

    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    created = measure_creation(5 if short else 15)
    detected = measure_detection(100 if short else 400, 2 if short else 3)
    ratio = detected["large_s"] / detected["small_s"]
    return [
        Row(figure=f"invoice creation requests/s (wrk, {CONNECTIONS} connections, 2 workers)",
            value=created["create_rps"], unit="/s", anchor="bare FastAPI JSON POST requests/s",
            anchor_value=created["floor_rps"], target=">= 0.3x",
            met=created["create_rps"] >= 0.3 * created["floor_rps"],
            note=f"p99 {created['create_p99']:.1f} ms vs {created['floor_p99']:.1f} ms; server CPU "
                 f"{created['create_cpu_ms']:.2f} vs {created['floor_cpu_ms']:.2f} ms/request"),
        Row(figure="invoice detection, 10,000 open invoices (s)", value=detected["large_s"], unit="s",
            anchor="the same blocks with 10 open invoices (s)", anchor_value=detected["small_s"],
            target="<= 1.3x", met=ratio <= 1.3),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    from bench.common import table

    rows = run(not args.full)
    print(table(rows))
    return 0 if all(row.met is not False for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
