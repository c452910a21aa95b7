"""Ledger throughput on the local PostgreSQL, beside pgbench (tpcb-like, scale 10) on the same server.

Each transfer = customer -> customer posting + a fee posting, durable when its call returns.
Run: .venv/bin/python bench/bench_ledger.py [--seconds 15] [--clients 1,8,32] [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from core.db.session import make_engine, make_session_factory
from core.db.uow import in_transaction
from core.ledger import errors
from core.ledger import service as ledger
from core.ledger.batch import TransferBatcher
from core.ledger.models import AccountKind, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money
from webapp.schema import upgrade

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
LEDGER_DB = "kibeti_bench_ledger"
PGBENCH_DB = "kibeti_bench_pgbench"
CUSTOMERS = 1000
FEE_ACCOUNTS = 32
KES = Asset.KES


async def recreate(name: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()


def pgbench(clients: int, seconds: int) -> float:
    output = subprocess.run(
        [
            "pgbench",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-n",
            "-b",
            "tpcb-like",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(seconds),
            PGBENCH_DB,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
    if match is None:
        raise RuntimeError(f"could not read pgbench output:\n{output}")
    return float(match.group(1))


async def seed(url: str) -> tuple[list[int], list[int]]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    async with factory() as session:
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        fees = []
        for index in range(FEE_ACCOUNTS):
            fee = await ledger.get_or_open_account(
                session=session, owner_type="system", owner_id=index, asset=KES, kind=AccountKind.FEE_REVENUE
            )
            fees.append(fee.id)
        wallets = []
        for customer in range(CUSTOMERS):
            wallet = await ledger.get_or_open_account(
                session=session, owner_type="customer", owner_id=customer, asset=KES
            )
            big = Money.of("100000000.00", KES)
            await ledger.post_entry(
                session=session,
                idempotency_key=f"seed-{customer}",
                kind="deposit",
                postings=[PostingRequest(float_account.id, -big), PostingRequest(wallet.id, big)],
            )
            wallets.append(wallet.id)
        await session.commit()
    await engine.dispose()
    return wallets, fees


async def run_batched(
    url: str, wallets: list[int], fees: list[int], clients: int, seconds: float, hot: bool, tag: str
) -> float:
    engine = make_engine(url, pool_size=4)
    batcher = TransferBatcher(engine)
    batcher.start()
    done = 0
    deadline = time.perf_counter() + seconds

    async def client(number: int) -> None:
        nonlocal done
        rng = random.Random(number)
        step = 0
        while time.perf_counter() < deadline:
            source, target = rng.sample(wallets, 2)
            fee_account = fees[0] if hot else fees[source % len(fees)]
            await batcher.transfer(
                idempotency_key=f"{tag}-{number}-{step}",
                from_account_id=source,
                to_account_id=target,
                amount=Money.of("10.00", KES),
                fee=Money.of("0.30", KES),
                fee_account_id=fee_account,
            )
            step += 1
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    await batcher.close()
    await engine.dispose()
    return done / elapsed


async def run_single(
    url: str, wallets: list[int], fees: list[int], clients: int, seconds: float, tag: str
) -> float:
    engine = make_engine(url, pool_size=clients)
    factory = make_session_factory(engine)
    done = 0
    deadline = time.perf_counter() + seconds

    async def client(number: int) -> None:
        nonlocal done
        rng = random.Random(number)
        step = 0
        while time.perf_counter() < deadline:
            source, target = rng.sample(wallets, 2)

            async def move(session, source=source, target=target, step=step):
                return await ledger.transfer(
                    session=session,
                    idempotency_key=f"{tag}-{number}-{step}",
                    from_account_id=source,
                    to_account_id=target,
                    amount=Money.of("10.00", KES),
                    fee=Money.of("0.30", KES),
                    fee_account_id=fees[0],
                )

            with contextlib.suppress(errors.InsufficientFunds):
                await in_transaction(factory, move)
            step += 1
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return done / elapsed


async def check(url: str) -> bool:
    engine = make_engine(url)
    async with make_session_factory(engine)() as session:
        report = await verify(session=session)
    await engine.dispose()
    return report.ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--write", type=Path, help="update the Ledger section of this markdown file")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    load_at_start = os.getloadavg()[0]

    asyncio.run(recreate(PGBENCH_DB))
    subprocess.run(
        ["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-i", "-q", "-s", "10", PGBENCH_DB],
        check=True,
        capture_output=True,
    )
    asyncio.run(recreate(LEDGER_DB))
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{LEDGER_DB}"
    upgrade(url)
    wallets, fees = asyncio.run(seed(url))

    rows = []
    for clients in counts:
        base = pgbench(clients, args.seconds)
        spread = asyncio.run(run_batched(url, wallets, fees, clients, args.seconds, False, f"s{clients}"))
        rows.append((clients, base, spread))
        print(
            f"clients={clients:>3}  pgbench tpcb-like {base:9.0f} tps   ledger transfers {spread:9.0f}/s   ratio {spread / base:5.2f}x",
            flush=True,
        )
    top = counts[-1]
    hot = asyncio.run(run_batched(url, wallets, fees, top, args.seconds, True, f"h{top}"))
    spread_top = rows[-1][2]
    print(f"hot fee account at {top} clients: {hot:.0f}/s = {hot / spread_top:.2f} of spread", flush=True)
    single = asyncio.run(run_single(url, wallets, fees, top, args.seconds, f"one{top}"))
    print(f"one transaction per transfer (no group commit) at {top} clients: {single:.0f}/s", flush=True)
    ok = asyncio.run(check(url))
    print(f"ledger verify after the run: {'books balance' if ok else 'PROBLEMS'}")

    if args.write:
        lines = [
            "## Ledger (issue 2)",
            "",
            f"Command: `.venv/bin/python bench/bench_ledger.py --seconds {args.seconds} --clients {args.clients} --write BENCHMARKS.md`",
            f"Machine: {os.cpu_count()} cores, PostgreSQL 15 local (fsync on, synchronous_commit on), shared and noisy "
            f"(load average {load_at_start:.2f} at start).",
            "Each transfer = customer -> customer posting + a fee posting; durable (committed) when its call returns.",
            "Group commit (core/ledger/batch.py) puts whatever arrived during the previous commit into one transaction.",
            "",
            "| clients | pgbench tpcb-like TPS | ledger transfers/s | ratio |",
            "|---:|---:|---:|---:|",
            *[f"| {c} | {b:,.0f} | {s:,.0f} | {s / b:.2f}x |" for c, b, s in rows],
            "",
            f"- Hot account: all fees into one fee account at {top} clients: {hot:,.0f}/s, "
            f"{hot / spread_top:.2f} of the spread case (target >= 0.80).",
            f"- Without group commit (one SQLAlchemy transaction per transfer, core/ledger/service.py) at {top} clients: {single:,.0f}/s.",
            f"- `ledger verify` after the run: {'books balance' if ok else 'PROBLEMS'}.",
            "",
        ]
        replace_section(args.write, "## Ledger (issue 2)", "\n".join(lines))


def replace_section(path: Path, heading: str, body: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"{re.escape(heading)}\n.*?(?=\n## |\Z)", re.S)
    text = pattern.sub(body.rstrip("\n"), text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + body
    path.write_text(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
