"""The flows' ledger path on the local PostgreSQL, beside pgbench (tpcb-like, scale 10), same run.

Each transfer is the unit of work a USSD send runs (core/flows/trading.py confirm_send): a session
from the factory, `core.ledger.service.transfer` (customer -> customer + a fee posting), commit;
durable when it returns. The client runs as many processes as pgbench runs threads (2), the clients
split between them. pgbench and the flows' path alternate for `--rounds` rounds (medians: the
machine is shared and noisy), and each flows' round reports its client CPU per transfer (the client
processes' user + system time). Beside them, once per run: the same posting function under
pgbench's C client (the server side alone) and under asyncpg alone (BEGIN, the call, COMMIT on a
connection per client: no ORM session), which is what the flows' unit of work costs without
SQLAlchemy's session around it. `--chain-lock` adds the figure with the audit chain's advisory lock
taken per write (how money writes serialised before audit rows were queued for the sweeper).
Run: .venv/bin/python bench/bench_ledger.py [--seconds 15] [--clients 1,8,32] [--rounds 3] [--chain-lock]
     [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CpuSampler, Row
from core.audit import service as audit
from core.db.session import make_engine, make_session_factory
from core.ledger import errors
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money
from webapp.schema import upgrade

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
LEDGER_DB = "kibeti_bench_ledger"
PGBENCH_DB = "kibeti_bench_pgbench"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{LEDGER_DB}"
CUSTOMERS = 1000
PROCESSES = 2  # pgbench -j 2
KES = Asset.KES
AMOUNT, FEE = Money.of("10.00", KES), Money.of("0.30", KES)
TRANSFER = ledger.transfer  # the function core.flows.trading.confirm_send posts a send with


async def recreate(name: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()


FUNCTION_SCRIPT = """\\set a random({low}, {high})
\\set b random({low}, {high})
BEGIN;
SELECT * FROM ledger_post_entry('pgbench-' || :client_id || '-' || random()::text, 'h', 'send', '', '{{}}',
    ARRAY[:a, :b, {fee}]::int[], ARRAY['KES', 'KES', 'KES'], ARRAY[-1030, 1000, 30]::bigint[], now());
END;
"""


@dataclass(frozen=True)
class Cpu:
    """CPU per transaction of one side of a round: the client processes', the database backends'."""

    client_us: float
    server_us: float

    @property
    def total_us(self) -> float:
        return self.client_us + self.server_us


def backends(database: str) -> CpuSampler:
    """The PostgreSQL backends serving `database` (titles like "postgres: 15/main: postgres <db> ...")."""
    return CpuSampler(f": postgres {database} ")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pgbench(clients: int, seconds: int, script: str = "", database: str = PGBENCH_DB) -> float:
    """pgbench's TPS: tpcb-like on its own database, or `script` (a custom transaction) on `database`."""
    return pgbench_measured(clients, seconds, script, database)[0]


def pgbench_measured(
    clients: int, seconds: int, script: str = "", database: str = PGBENCH_DB
) -> tuple[float, Cpu]:
    """pgbench's TPS and its CPU per transaction: pgbench's own (user + system) and its backends'."""
    workload = ["-b", "tpcb-like"]
    if script:
        handle = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)  # noqa: SIM115
        handle.write(script)
        handle.close()
        workload = ["-f", handle.name]
    client_before = children_cpu()
    with backends(database) as server:
        output = subprocess.run(
            ["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n", *workload, "-c", str(clients),
             "-j", str(min(clients, PROCESSES)), "-T", str(seconds), database],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    client = children_cpu() - client_before
    if script:
        os.unlink(handle.name)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
    done = re.search(r"number of transactions actually processed: (\d+)", output)
    if match is None or done is None:
        raise RuntimeError(f"could not read pgbench output:\n{output}")
    count = max(int(done.group(1)), 1)
    return float(match.group(1)), Cpu(client / count * 1e6, server.seconds / count * 1e6)


async def seed(url: str) -> tuple[list[int], int]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    async with factory() as session:
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        fee = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=KES)
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
    return wallets, fee.id


async def _clients(
    wallets: list[int], fee: int, clients: int, seconds: float, tag: str, chain_lock: bool
) -> int:
    engine = make_engine(URL, pool_size=clients)
    factory = make_session_factory(engine)
    done = 0
    deadline = time.perf_counter() + seconds

    async def client(number: int) -> None:
        nonlocal done
        rng = random.Random(f"{tag}-{number}")
        step = 0
        while time.perf_counter() < deadline:
            source, target = rng.sample(wallets, 2)
            async with factory() as session:
                if chain_lock:
                    await audit.lock_chain(session)
                with contextlib.suppress(errors.InsufficientFunds):
                    await TRANSFER(
                        session=session,
                        idempotency_key=f"{tag}-{number}-{step}",
                        from_account_id=source,
                        to_account_id=target,
                        amount=AMOUNT,
                        fee=FEE,
                        fee_account_id=fee,
                        kind="send",
                    )
                    await session.commit()
            step += 1
            done += 1

    await asyncio.gather(*(client(n) for n in range(clients)))
    await engine.dispose()
    return done


async def _asyncpg_clients(
    wallets: list[int], fee: int, clients: int, seconds: float, tag: str, chain_lock: bool
) -> int:
    """The same posting (legs, content hash, function) through asyncpg alone: BEGIN, the call,
    COMMIT on a connection per client. A diagnostic ceiling, not a path any flow takes."""
    connections = [await asyncpg.connect(URL.replace("+asyncpg", ""), ssl=False) for _ in range(clients)]
    done = 0
    deadline = time.perf_counter() + seconds
    postings_of = ledger._validate  # the Python the flows' path runs per posting, kept in

    async def client(number: int) -> None:
        nonlocal done
        rng = random.Random(f"{tag}-{number}")
        connection = connections[number]
        step = 0
        while time.perf_counter() < deadline:
            source, target = rng.sample(wallets, 2)
            postings = [PostingRequest(source, -(AMOUNT + FEE)), PostingRequest(target, AMOUNT),
                        PostingRequest(fee, FEE)]  # fmt: skip
            legs = postings_of(postings)
            arguments = (f"{tag}-{number}-{step}", ledger._legs_hash("send", legs, {}), "send", "", "{}",
                         *ledger._columns(legs), datetime.now(UTC))  # fmt: skip
            async with connection.transaction():
                await connection.fetchrow(ledger._POST_ENTRY, *arguments)
            step += 1
            done += 1

    await asyncio.gather(*(client(n) for n in range(clients)))
    for connection in connections:
        await connection.close()
    return done


def _process(args: tuple[str, list[int], int, int, float, str, bool]) -> tuple[int, float]:
    """(transfers done, client CPU seconds) of one client process."""
    import uvloop  # the event loop uvicorn serves the flows with

    gc.collect()
    gc.freeze()  # as the served app does after start-up (webapp/app.py): long-lived objects not rescanned
    runner, *rest = args
    started = time.process_time()
    done = uvloop.run((_asyncpg_clients if runner == "asyncpg" else _clients)(*rest))  # type: ignore[arg-type]
    return done, time.process_time() - started


def run_flows(
    wallets: list[int],
    fee: int,
    clients: int,
    seconds: float,
    tag: str,
    chain_lock: bool,
    runner: str = "flows",
) -> tuple[float, Cpu]:
    """Transfers/s and CPU per transfer (the client processes', the ledger database's backends') of
    the flows' unit of work (or with `runner="asyncpg"` the asyncpg-alone ceiling), `clients` split
    over PROCESSES processes."""
    processes = min(clients, PROCESSES)
    shares = [clients // processes + (1 if n < clients % processes else 0) for n in range(processes)]
    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with backends(LEDGER_DB) as server, context.Pool(processes) as pool:
        results = pool.map(
            _process,
            [
                (runner, wallets, fee, share, seconds, f"{tag}p{n}", chain_lock)
                for n, share in enumerate(shares)
            ],
        )
    done = sum(count for count, _ in results)
    cpu = sum(seconds_of_cpu for _, seconds_of_cpu in results)
    rate = done / (time.perf_counter() - started)
    return rate, Cpu(cpu / max(done, 1) * 1e6, server.seconds / max(done, 1) * 1e6)


async def chain_and_check(url: str) -> tuple[bool, int]:
    engine = make_engine(url)
    async with make_session_factory(engine)() as session:
        chained = 0
        while done := await audit.chain_pending(session=session):
            await session.commit()
            chained += done
        report = await verify(session=session)
        chain = await audit.verify(session=session)
    await engine.dispose()
    return report.ok and chain.ok, chained


def prepare() -> tuple[list[int], int]:
    asyncio.run(recreate(PGBENCH_DB))
    subprocess.run(
        ["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-i", "-q", "-s", "10", PGBENCH_DB],
        check=True,
        capture_output=True,
    )
    asyncio.run(recreate(LEDGER_DB))
    upgrade(URL)
    return asyncio.run(seed(URL))


@dataclass(frozen=True)
class Measured:
    clients: int
    pgbench: list[float]  # tpcb-like TPS per round
    flows: list[float]  # the flows' transfers/s per round (alternating with pgbench)
    pgbench_cpu: list[Cpu]  # per round, per transaction
    flows_cpu: list[Cpu]  # per round, per transfer

    @property
    def base(self) -> float:
        return statistics.median(self.pgbench)

    @property
    def rate(self) -> float:
        return statistics.median(self.flows)

    @property
    def cpu(self) -> Cpu:
        return _median(self.flows_cpu)

    @property
    def base_cpu(self) -> Cpu:
        return _median(self.pgbench_cpu)

    def ratios(self) -> list[float]:
        return [flows / base for base, flows in zip(self.pgbench, self.flows, strict=True)]


def _median(measured: list[Cpu]) -> Cpu:
    return Cpu(
        statistics.median(cpu.client_us for cpu in measured),
        statistics.median(cpu.server_us for cpu in measured),
    )


def _cpu_text(cpu: Cpu) -> str:
    return f"{cpu.total_us:.0f} us CPU each ({cpu.client_us:.0f} client + {cpu.server_us:.0f} server)"


@dataclass(frozen=True)
class Run:
    rows: list[Measured]
    server_side: float  # the posting function under pgbench's C client, top clients
    raw: tuple[float, Cpu]  # asyncpg alone: transfers/s, CPU per transfer
    locked: float | None
    ok: bool
    chained: int


def measure(counts: list[int], seconds: int, rounds: int, chain_lock: bool) -> Run:
    wallets, fee = prepare()
    rows = []
    for clients in counts:
        bases, rates, base_cpus, cpus = [], [], [], []
        for round_ in range(rounds):
            base, base_cpu = pgbench_measured(clients, seconds)
            rate, cpu = run_flows(wallets, fee, clients, seconds, f"c{clients}r{round_}", chain_lock=False)
            bases.append(base)
            base_cpus.append(base_cpu)
            rates.append(rate)
            cpus.append(cpu)
            print(f"clients={clients:>3} round {round_ + 1}: pgbench tpcb-like {base:7.0f} tps, "
                  f"{_cpu_text(base_cpu)}; flows' ledger path {rate:7.0f}/s, {_cpu_text(cpu)}; "
                  f"ratio {rate / base:5.2f}x; load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
        rows.append(Measured(clients, bases, rates, base_cpus, cpus))
    top = counts[-1]
    script = FUNCTION_SCRIPT.format(low=min(wallets), high=max(wallets), fee=fee)
    server_side = pgbench(top, seconds, script, LEDGER_DB)
    print(
        f"ledger_post_entry driven by pgbench (C client) at {top} clients: {server_side:.0f} tps", flush=True
    )
    raw = run_flows(wallets, fee, top, seconds, "raw", chain_lock=False, runner="asyncpg")
    print(f"the same posting through asyncpg alone (BEGIN, call, COMMIT) at {top} clients: {raw[0]:.0f}/s, "
          f"{_cpu_text(raw[1])}", flush=True)  # fmt: skip
    locked = None
    if chain_lock:
        locked = run_flows(wallets, fee, top, seconds, "locked", chain_lock=True)[0]
        print(f"with the audit chain lock per write at {top} clients: {locked:.0f}/s", flush=True)
    ok, chained = asyncio.run(chain_and_check(URL))
    print(f"audit rows chained by the sweeper afterwards: {chained}; ledger + audit verify: {ok}", flush=True)
    return Run(rows, server_side, raw, locked, ok, chained)


def run(short: bool) -> list[Row]:
    """`make bench`: the flows' path at 32 clients against pgbench, alternating rounds, same run."""
    seconds = 8 if short else 15
    measured = measure([32], seconds, rounds=2 if short else 3, chain_lock=not short)
    top = measured.rows[-1]
    clients, base, flows = top.clients, top.base, top.rate
    spread = ", ".join(f"{ratio:.2f}x" for ratio in top.ratios())
    out = [
        Row(figure=f"ledger: flows' transfer (session, ledger.transfer, commit) /s, {clients} clients",
            value=flows, unit="/s", anchor=f"pgbench tpcb-like TPS, {clients} clients", anchor_value=base,
            target=">= 1.0x", met=flows >= base and measured.ok,
            note=(f"medians of {len(top.flows)} alternating rounds, per round {spread}; "
                  f"{_cpu_text(top.cpu)} vs pgbench's {_cpu_text(top.base_cpu)}")
            + ("" if measured.ok else "; ledger verify FAILED")),
        Row(figure=f"ledger: the same posting function driven by pgbench's C client, {clients} clients",
            value=measured.server_side, unit="tps", anchor=f"pgbench tpcb-like TPS, {clients} clients",
            anchor_value=base, note="server side only: no Python client"),
        Row(figure=f"ledger: the same posting through asyncpg alone (BEGIN, call, COMMIT), {clients} clients",
            value=measured.raw[0], unit="/s", anchor=f"pgbench tpcb-like TPS, {clients} clients",
            anchor_value=base,
            note=f"no ORM session: {_cpu_text(measured.raw[1])}; not a flows' path"),
    ]  # fmt: skip
    if measured.locked is not None:
        out.append(Row(figure="ledger: same, audit chain lock taken per write (the old path)",
                       value=measured.locked, unit="/s", anchor="flows' transfer /s",
                       anchor_value=flows))  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--rounds", type=int, default=3, help="alternating pgbench / flows rounds")
    parser.add_argument("--chain-lock", action="store_true")
    parser.add_argument("--write", type=Path, help="update the Ledger section of this markdown file")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    load_at_start = os.getloadavg()[0]
    measured = measure(counts, args.seconds, args.rounds, args.chain_lock)
    load_at_end = os.getloadavg()[0]
    if args.write:
        top = measured.rows[-1]
        lines = [
            "## Ledger (issue 2, issue 20)",
            "",
            f"Command: `.venv/bin/python bench/bench_ledger.py --seconds {args.seconds} --clients {args.clients}"
            f" --rounds {args.rounds}{' --chain-lock' if args.chain_lock else ''} --write BENCHMARKS.md`",
            f"Machine: {os.cpu_count()} cores, PostgreSQL local (fsync on, synchronous_commit on), shared "
            f"(load average {load_at_start:.2f} at start, {load_at_end:.2f} at end).",
            "Each transfer is the unit of work a USSD send runs: a session, `core.ledger.service.transfer`"
            " (customer -> customer + fee), commit; the client is 2 processes, as pgbench -j 2. pgbench and"
            " the flows' path alternate; medians of the rounds, per-round ratios beside them.",
            "",
            "| clients | pgbench tpcb-like TPS | flows' ledger transfers/s | ratio | per round "
            "| CPU per transaction, pgbench: client + server | CPU per transfer, flows: client + server |",
            "|---:|---:|---:|---:|---|---:|---:|",
            *[f"| {m.clients} | {m.base:,.0f} | {m.rate:,.0f} | {m.rate / m.base:.2f}x | "
              f"{', '.join(f'{r:.2f}x' for r in m.ratios())} | "
              f"{m.base_cpu.client_us:.0f} + {m.base_cpu.server_us:.0f} us | "
              f"{m.cpu.client_us:.0f} + {m.cpu.server_us:.0f} us |" for m in measured.rows],
            "",
        ]  # fmt: skip
        lines.append(f"- `ledger_post_entry` driven by pgbench's C client (a custom script, the same 3-leg "
                     f"transfer) at {top.clients} clients: {measured.server_side:,.0f} TPS, "
                     f"{measured.server_side / top.base:.2f}x tpcb-like.")  # fmt: skip
        lines.append(f"- The same posting through asyncpg alone (BEGIN, the call, COMMIT; no ORM session) at "
                     f"{top.clients} clients: {measured.raw[0]:,.0f}/s, {measured.raw[0] / top.base:.2f}x "
                     f"tpcb-like, {_cpu_text(measured.raw[1])}.")  # fmt: skip
        if measured.locked is not None:
            lines.append(f"- With the audit chain's advisory lock taken per write (as before) at {top.clients} "
                         f"clients: {measured.locked:,.0f}/s.")  # fmt: skip
        lines.append(f"- Audit rows the sweeper chained after the run: {measured.chained:,}; `ledger verify` "
                     f"and the audit chain verify: {'ok' if measured.ok else 'PROBLEMS'}.")  # fmt: skip
        replace_section(args.write, "## Ledger (issue 2", "\n".join(lines))


def replace_section(path: Path, heading: str, body: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"{re.escape(heading)}.*?\n.*?(?=\n## |\Z)", re.S)
    text = (
        pattern.sub(lambda _: body.rstrip("\n") + "\n", text)
        if pattern.search(text)
        else text.rstrip("\n") + "\n\n" + body
    )
    path.write_text(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
