"""Sanctions screening benchmark (issue 8).

1. One name against the full OFAC SDN + UN lists (names and aliases): p50 / p99 per query, measured
   with the per-token similarity cache cleared before every query (cold) and as it runs in a
   re-screen (warm).
2. A full re-screen of N synthetic customers (name + DOB + national ID).

Run:  .venv/bin/python bench/bench_screening.py [--lists /work/shared/data/sanctions] [--customers 100000] [--write]
(--write replaces the "## Sanctions screening (issue 8)" section of BENCHMARKS.md.)
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import time
from datetime import date
from pathlib import Path

from compliance.sanctions.loader import load_path
from compliance.sanctions.normalize import normalize
from compliance.sanctions.screening import Outcome, Subject, screen

GIVEN = (  # noqa: SIM905
    "John Mary Peter Grace James Joseph Faith Daniel Esther David Ann Samuel Jane Paul Lucy Brian "
    "Mercy Kevin Caroline Dennis Wanjiku Njeri Wambui Achieng Akinyi Atieno Chebet Jepkoech Moraa "
    "Kerubo Mwende Nduta Kiprono Kiprop Otieno Odhiambo Ochieng Wafula Wekesa Mutua Kamau Mwangi"
).split()
SURNAMES = (  # noqa: SIM905
    "Kamau Mwangi Njoroge Kariuki Otieno Odhiambo Ochieng Onyango Kiprono Cheruiyot Kipchumba Rotich "
    "Wafula Wekesa Barasa Mutua Musyoka Kilonzo Nyaboke Momanyi Ndungu Gitau Wanjiru Muthoni Kibet "
    "Korir Langat Omondi Owino Juma Kimani Maina Macharia Waweru Njuguna Mbugua Kiplagat Chege"
).split()
ARABIC_ORIGIN = (  # noqa: SIM905
    "Mohamed Ali Hassan Abdi Abdullahi Ahmed Omar Ibrahim Yusuf Fatuma Amina Halima Khamis Said "
    "Mwanajuma Hussein Osman Aden Abdirahman Salim Rashid Mustafa Zainab Asha Mariam"
).split()


def synthetic_customers(count: int, rng: random.Random) -> list[Subject]:
    people = []
    for _ in range(count):
        if rng.random() < 0.25:
            parts = rng.sample(ARABIC_ORIGIN, rng.choice((2, 3)))
        else:
            parts = [rng.choice(GIVEN), rng.choice(GIVEN), rng.choice(SURNAMES)][rng.choice((0, 1)) :]
        dob = date(rng.randint(1945, 2006), rng.randint(1, 12), rng.randint(1, 28))
        people.append(
            Subject(name=" ".join(parts), date_of_birth=dob, id_number=str(rng.randint(10**7, 10**8 - 1)))
        )
    return people


def perturb(name: str, rng: random.Random) -> str:
    letters = list(normalize(name))
    if len(letters) > 6:
        i = rng.randrange(1, len(letters) - 1)
        letters[i] = rng.choice("aeiou") if letters[i] not in " " else letters[i]
    return "".join(letters)


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lists", type=Path, default=Path("/work/shared/data/sanctions"))
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    rng = random.Random(8)
    load = os.getloadavg()[0]
    results: dict[str, object] = {}

    started = time.perf_counter()
    lists = load_path(args.lists)
    print(f"loaded and indexed in {time.perf_counter() - started:.2f} s: {lists.summary()}")

    listed = [e for e in lists.entities if e.entity_type in ("individual", "entity")]
    queries = [s.name for s in synthetic_customers(args.queries // 2, rng)]
    queries += [perturb(rng.choice(listed).name, rng) for _ in range(args.queries - len(queries))]
    rng.shuffle(queries)

    for label, cold in (("cold", True), ("warm", False)):
        wall: list[float] = []
        cpu: list[float] = []
        for name in queries:
            if cold:
                lists.index._similar_cache.clear()
            t0, c0 = time.perf_counter(), time.thread_time()
            screen(lists, Subject(name=name))
            cpu.append((time.thread_time() - c0) * 1000)
            wall.append((time.perf_counter() - t0) * 1000)
        results[label] = (
            percentile(cpu, 50),
            percentile(cpu, 99),
            percentile(wall, 50),
            percentile(wall, 99),
        )
        for kind, timings in (("CPU", cpu), ("wall", wall)):
            print(
                f"one name vs {lists.index.name_count} names+aliases ({label} token cache, {len(queries)} "
                f"queries, {kind} time): p50 {percentile(timings, 50):.2f} ms, "
                f"p99 {percentile(timings, 99):.2f} ms, max {max(timings):.2f} ms, "
                f"mean {statistics.fmean(timings):.2f} ms"
            )

    customers = synthetic_customers(args.customers, rng)
    lists.index._similar_cache.clear()
    outcomes: dict[str, int] = {o.value: 0 for o in Outcome}
    t0, c0 = time.perf_counter(), time.process_time()
    for person in customers:
        outcomes[screen(lists, person).outcome.value] += 1
    elapsed = time.perf_counter() - t0
    cpu_elapsed = time.process_time() - c0
    print(
        f"full re-screen of {len(customers)} customers: {elapsed:.1f} s "
        f"({len(customers) / elapsed:,.0f} customers/s, one process; CPU {cpu_elapsed:.1f} s); outcomes {outcomes}"
    )
    if args.write:
        write_section(
            args,
            lists.summary(),
            results,
            len(queries),
            len(customers),
            (elapsed, cpu_elapsed),
            outcomes,
            load,
        )


SECTION = "## Sanctions screening (issue 8)"


def verdict(results: dict[str, object], load: float) -> str:
    cold = results["cold"]
    cpu99, wall99 = cold[1], cold[3]  # type: ignore[index]
    cpu_ok = "meets" if cpu99 <= 5 else "misses"
    wall_ok = "meets" if wall99 <= 5 else "misses"
    return (
        f"Cold-cache p99: CPU {cpu99:.2f} ms ({cpu_ok} the 5 ms target); wall-clock {wall99:.2f} ms ({wall_ok} it "
        f"at load average {load:.2f} on {os.cpu_count()} CPUs, where the tail is time spent preempted). "
        "Re-run on an idle machine before judging the wall-clock figure."
    )


def write_section(
    args: argparse.Namespace,
    summary: dict[str, int],
    results: dict[str, object],
    queries: int,
    customers: int,
    elapsed_pair: tuple[float, float],
    outcomes: dict[str, int],
    load: float,
) -> None:
    elapsed, cpu_elapsed = elapsed_pair
    rows = []
    for label, values in results.items():
        cpu50, cpu99, wall50, wall99 = values  # type: ignore[misc]
        rows.append(
            f"| {label} | {cpu50:.2f} | {cpu99:.2f} | {wall50:.2f} | {wall99:.2f} | {'yes' if cpu99 <= 5 else 'no'} |"
        )
    body = "\n".join(
        [
            SECTION,
            "",
            f"Command: `.venv/bin/python bench/bench_screening.py --customers {customers} --queries {queries} --write`.",
            f"Measured {time.strftime('%Y-%m-%d')} on CPython {platform.python_version()}, {platform.machine()}, "
            f"{os.cpu_count()} CPUs, load average {load:.2f} at start (a shared machine: wall-clock tails include "
            "time preempted by other processes; CPU time is the screening's own cost).",
            "",
            f"Lists: OFAC SDN CSV + UN consolidated XML + OFAC crypto address lists from /work/shared/data/sanctions: "
            f"{summary['ofac']} OFAC + {summary['un']} UN entries, **{summary['names_and_aliases']} names and aliases**, "
            f"{summary['crypto_addresses']} crypto addresses. Load + index: see `kibeti sanctions load` (about 1 s).",
            "",
            f"One name against the full lists ({queries} queries: half synthetic Kenyan customer names, a quarter of them "
            "Arabic-origin, half perturbed listed names). `cold` clears the per-token similarity cache before every "
            "query; `warm` keeps it, as a re-screen does. Target: p99 <= 5 ms.",
            "",
            "| token cache | CPU p50 (ms) | CPU p99 (ms) | wall p50 (ms) | wall p99 (ms) | CPU p99 <= 5 ms |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            verdict(results, load),
            "",
            f"Full re-screen of {customers:,} synthetic customers (name + DOB + national ID), one process: "
            f"**{elapsed:.1f} s wall, {cpu_elapsed:.1f} s CPU** ({customers / cpu_elapsed:,.0f} customers per CPU-second; "
            "the job is embarrassingly parallel, so N worker processes divide the wall time by about N). "
            f"Outcomes: {outcomes}. Blocks on a synthetic population must be 0: a name+DOB block needs the "
            "customer's name to cover the listed name, and random 8-digit national IDs do not hit listed IDs.",
            "",
        ]
    )
    path = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: body + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text, encoding="utf-8")
    print(f"updated {path}")


if __name__ == "__main__":
    main()
