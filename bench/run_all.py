"""`make bench`: run every benchmark with short defaults and print one table with the load average.

Discovers `bench/bench_*.py` modules exposing `run(short: bool) -> list[bench.common.Row]` (a module
without `run` is listed as skipped). Run: `.venv/bin/python bench/run_all.py [--full] [--only ledger,ussd]`.
A benchmark that fails prints its error as a row and the others still run; the exit code is 1 when
any target was missed or any benchmark failed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import time
import traceback
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from bench.common import Row, load_average, table

# Heavy, machine-saturating benchmarks last, so the quick in-process ones see a quieter machine.
ORDER = ["quote", "screening", "erc20_scan", "telegram", "invoices", "ussd", "payouts", "ledger"]


def discover() -> list[str]:
    names = [path.stem.removeprefix("bench_") for path in sorted(BENCH.glob("bench_*.py"))]
    return sorted(names, key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER), name))


def run_one(name: str, short: bool) -> tuple[list[Row], str]:
    module = importlib.import_module(f"bench.bench_{name}")
    runner = getattr(module, "run", None)
    if runner is None:
        return [], "no run(short) in this module: skipped"
    started = time.perf_counter()
    rows = list(runner(short))
    return rows, f"{time.perf_counter() - started:.0f} s"


SECTION = "## make bench (issue 20)"


def write_section(command: str, load_start: float, load_end: float, body: str) -> None:
    path = BENCH.parent / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    section = (
        f"{SECTION}\n\nCommand: `{command.replace(' --write', '')}`. Measured {stamp} on {os.cpu_count()} CPUs, "
        f"load average {load_start:.2f} at start and {load_end:.2f} at the end (a machine shared with other "
        "engineers' test runs: ratios are within one run, each figure beside its anchor measured minutes apart "
        "at most).\n\n" + body + "\n"
    )
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = (
            text.replace("\n## ", "\n" + section + "\n## ", 1) if "\n## " in text else text + "\n" + section
        )
    path.write_text(text.rstrip("\n") + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="the longer runs BENCHMARKS.md records")
    parser.add_argument("--only", default="", help="comma-separated names, e.g. ledger,ussd")
    parser.add_argument(
        "--write", action="store_true", help="put the table into BENCHMARKS.md (## make bench)"
    )
    args = parser.parse_args()
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    names = [name for name in discover() if not wanted or name in wanted]
    short = not args.full
    load_start = load_average()
    print(f"# make bench ({'full' if args.full else 'short'}): {', '.join(names)}", flush=True)
    print(f"{os.cpu_count()} CPUs, load average at start {load_start:.2f}", flush=True)
    all_rows: list[Row] = []
    failed = False
    for name in names:
        print(f"\n## {name} (load average {load_average():.2f})", flush=True)
        try:
            rows, how = run_one(name, short)
        except Exception as exc:  # one broken benchmark must not hide the others
            traceback.print_exc()
            failed = True
            all_rows.append(
                Row(figure=f"{name}: FAILED ({type(exc).__name__}: {exc})"[:160], value=0.0, met=False)
            )
            continue
        print(f"{name}: {len(rows)} figure(s), {how}", flush=True)
        for row in rows:
            print("  " + table([row]).splitlines()[-1], flush=True)
        all_rows.extend(rows)
    print(f"\n# Results (load average at start {load_start:.2f}, at end {load_average():.2f}, "
          f"{os.cpu_count()} CPUs)\n", flush=True)  # fmt: skip
    print(table(all_rows), flush=True)
    if args.write:
        command = " ".join(
            ["make bench" if not sys.argv[1:] else ".venv/bin/python bench/run_all.py", *sys.argv[1:]]
        )
        write_section(command, load_start, load_average(), table(all_rows))
    missed = failed or any(row.met is False for row in all_rows)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
