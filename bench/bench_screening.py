"""Sanctions screening benchmark (issues 8 and 12).

1. One name against the full OFAC SDN + UN lists (names and aliases): p50 / p99 per query, measured
   with the per-token similarity cache cleared before every query (cold) and as it runs in a
   re-screen (warm).
2. A full re-screen of N synthetic customers (name + DOB + national ID).
3. Quality (issue 12): recall at review and false positives at alert on a labelled set generated
   deterministically from the lists (compliance.sanctions.evaluation): perturbed listed names
   (dropped middle name, transliteration, initial, two edits) and common Kenyan names.

Run:  .venv/bin/python bench/bench_screening.py [--lists /work/shared/data/sanctions] [--customers 100000]
      [--positives 2000 --negatives 2000] [--part speed|quality|all] [--write]
(--write replaces the "## Sanctions screening (issue 8)" and "## Sanctions screening quality (issue 12)"
sections of BENCHMARKS.md, for the parts run.)
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

from compliance.sanctions.evaluation import PERTURBATIONS, Evaluation, evaluate, labelled_set
from compliance.sanctions.loader import SanctionsList, load_path
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
    parser.add_argument("--positives", type=int, default=2_000)
    parser.add_argument("--negatives", type=int, default=2_000)
    parser.add_argument("--part", choices=("speed", "quality", "all"), default="all")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    lists = load_path(args.lists)
    load_seconds = time.perf_counter() - started
    print(f"loaded and indexed in {load_seconds:.2f} s: {lists.summary()}")
    if args.part in ("quality", "all"):
        quality(args, lists, load_seconds)
    if args.part in ("speed", "all"):
        speed(args, lists)


def speed(args: argparse.Namespace, lists: SanctionsList) -> None:
    rng = random.Random(8)
    load = os.getloadavg()[0]
    results: dict[str, object] = {}

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


def run(short: bool) -> list:
    """`make bench`: one name against the full lists, cold token cache, CPU p99 (absolute target)."""
    from bench.common import Row

    lists = load_path(Path("/work/shared/data/sanctions"))
    rng = random.Random(8)
    count = 500 if short else 2_000
    listed = [e for e in lists.entities if e.entity_type in ("individual", "entity")]
    queries = [s.name for s in synthetic_customers(count // 2, rng)]
    queries += [perturb(rng.choice(listed).name, rng) for _ in range(count - len(queries))]
    cpu: list[float] = []
    for name in queries:
        lists.index._similar_cache.clear()
        c0 = time.thread_time()
        screen(lists, Subject(name=name))
        cpu.append((time.thread_time() - c0) * 1000)
    p99 = percentile(cpu, 99)
    return [Row(figure=f"sanctions screening CPU p99, one name, cold cache ({count} names)", value=p99, unit="ms",
                target="<= 5 ms", met=p99 <= 5)]  # fmt: skip


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
            f"{summary['crypto_addresses']} crypto addresses. Load + index: see `kibeti sanctions load` (about 2 s since issue 12 added canonicalisation and phonetic keys).",
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
            f"Outcomes: {outcomes} (before issue 12: review 1,405, alert 1,875 per 100,000). "
            "Blocks on a synthetic population must be 0: a name+DOB block needs the "
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


QUALITY_SECTION = "## Sanctions screening quality (issue 12)"
# The same 4,000-name set screened by the matcher before issue 12 (commit 8aaf3c8), minutes apart on
# the same machine: kept as the baseline the changes are judged against.
BEFORE_ISSUE_12 = (
    "Before issue 12 (commit 8aaf3c8, the same set, measured minutes apart at load ~11): recall at review "
    "**0.876** (dropped middle name 1.000, transliteration 0.966, initial **0.564**, two slips 0.974); false "
    "positives at alert **0.0085**, 16 of the 17 Somali or Coastal names (7% of the Coastal names, 4% of the "
    'Somali: "Ali Abdi", "Abu Said", "Mohamed Salat", "Hamida Ismail"). CPU p99 per name on the issue 8 query '
    "mix (cold token cache): 3.4-3.5 ms before against 4.5-5.0 ms now, run back to back at load 8-10; the "
    "phonetic candidate path, canonicalisation and evidence cost about 35% more CPU per name. Over seven runs of "
    "this set at load 8-11 the CPU p99 moved between 4.6 and 5.8 ms (CPU time on 2 shared cores still rises "
    "with load): the target is met on most runs, not with margin; re-run on a quiet machine."
)


def quality(args: argparse.Namespace, lists: SanctionsList, load_seconds: float) -> None:
    load_before = os.getloadavg()
    labelled = labelled_set(lists.entities, positive_count=args.positives, negative_count=args.negatives)
    result = evaluate(lists, labelled)
    load_after = os.getloadavg()
    cpu50, cpu99 = percentile(result.cpu_ms, 50), percentile(result.cpu_ms, 99)
    wall50, wall99 = percentile(result.wall_ms, 50), percentile(result.wall_ms, 99)
    print(
        f"labelled set: {args.positives} positives, {args.negatives} negatives; recall at review "
        f"{result.recall_review:.4f} (any entity flagged {result.flagged_any:.4f}); false positives at alert "
        f"{result.fp_alert:.4f} (at review {result.fp_review:.4f})"
    )
    print(f"recall by perturbation: {result.recall_by_kind}")
    print(f"alerts by community: {result.fp_alert_by_community}")
    print(
        f"per name: CPU p50 {cpu50:.2f} ms p99 {cpu99:.2f} ms; wall p50 {wall50:.2f} ms p99 {wall99:.2f} ms"
    )
    for item in result.misses[:20]:
        print(f"  missed ({item.kind}): {item.name} -> {item.entity_key}")
    for item, listed in result.false_alerts[:20]:
        print(f"  false alert ({item.kind}): {item.name} ~ {listed}")
    if args.write:
        write_quality(args, lists, result, load_seconds, (load_before[0], load_after[0]))


def write_quality(
    args: argparse.Namespace,
    lists: SanctionsList,
    result: Evaluation,
    load_seconds: float,
    loads: tuple[float, float],
) -> None:
    cpu50, cpu99 = percentile(result.cpu_ms, 50), percentile(result.cpu_ms, 99)
    wall50, wall99 = percentile(result.wall_ms, 50), percentile(result.wall_ms, 99)
    positives = {k: v for k, v in result.composition.items() if not k.startswith("negative:")}
    negatives = {k.split(":", 1)[1]: v for k, v in result.composition.items() if k.startswith("negative:")}
    summary = lists.summary()
    kinds = "\n".join(
        f"| {kind} | {positives.get(kind, 0)} | {result.recall_by_kind.get(kind, 0.0):.3f} |"
        for kind in PERTURBATIONS
    )
    communities = "\n".join(
        f"| {community} | {count} | {result.fp_alert_by_community.get(community, 0.0):.3f} |"
        for community, count in negatives.items()
    )
    misses = "; ".join(f"{m.name} ({m.kind})" for m in result.misses[:8]) or "none"
    body = "\n".join(
        [
            QUALITY_SECTION,
            "",
            f"Command: `.venv/bin/python bench/bench_screening.py --part quality --positives {args.positives} "
            f"--negatives {args.negatives} --write`.",
            f"Measured {time.strftime('%Y-%m-%d')} on CPython {platform.python_version()}, {platform.machine()}, "
            f"{os.cpu_count()} CPUs, load average {loads[0]:.2f} at start and {loads[1]:.2f} at the end (a shared "
            "machine: wall-clock tails include time preempted by other processes; CPU time is the screening's own cost).",
            "",
            f"Lists: /work/shared/data/sanctions, {summary['ofac']} OFAC + {summary['un']} UN entries, "
            f"{summary['names_and_aliases']} distinct names and aliases after canonicalisation; load + index "
            f"{load_seconds:.1f} s.",
            "",
            "The labelled set is generated deterministically (seed 12) by `compliance.sanctions.evaluation` from the "
            "lists and the Kenyan name corpus shipped in `compliance/sanctions/data/kenyan_names.tsv`; name only, "
            "no DOB or ID, so the secondary evidence does not help. "
            "**Positives**: OFAC SDN and UN primary names of individuals, an equal share per perturbation: "
            "a middle name dropped; a transliteration (half a swap to another spelling of the same class, which "
            "exercises the class table; half a rule-based respelling the table does not list: ou/u, ee/i, kh/k, q/k, "
            "ph/f, doubled letters ...); the first given name as an initial; two typing slips (one in each of two "
            "names, or two in one name of 8+ letters). A positive counts as found when *its* entity is among the "
            "matches at review or above. **Negatives**: common Kenyan names, the same number per community, built the "
            "way each community names people (Somali: two or three of given, father's, grandfather's names; "
            "Coastal: given and father's name; others: a Christian, Swahili or community given name, sometimes a "
            "second, and a family name). They come from the same corpus that caps the weights of common tokens: "
            "the false-positive rate measures names the corpus knows. A negative counts as a false positive when "
            "screened alert or block.",
            "",
            "| positives | names | recall at review |",
            "|---|---|---|",
            kinds,
            f"| **all** | {sum(positives.values())} | **{result.recall_review:.4f}** |",
            "",
            "| negatives (community) | names | alert or block |",
            "|---|---|---|",
            communities,
            f"| **all** | {sum(negatives.values())} | **{result.fp_alert:.4f}** |",
            "",
            f"Recall at review **{result.recall_review:.4f}** (target >= 0.95; any entity flagged: "
            f"{result.flagged_any:.4f}); false positives at alert **{result.fp_alert:.4f}** (target <= 0.01); "
            f"negatives at review or above: {result.fp_review:.4f}. Per name (the whole set, one process, token "
            f"cache as in a re-screen): CPU p50 {cpu50:.2f} ms, **p99 {cpu99:.2f} ms**; wall p50 {wall50:.2f} ms, "
            f"p99 {wall99:.2f} ms (target p99 <= 5 ms: CPU {'meets' if cpu99 <= 5 else 'misses'} it, wall-clock "
            f"{'meets' if wall99 <= 5 else 'misses'} it at this load). First misses: {misses}.",
            "",
            BEFORE_ISSUE_12,
            "",
            "How: transliteration classes canonicalise tokens on both sides (mohamed/maxamed -> muhammad, "
            "abdul rahman -> abdrahman, el -> al); a Metaphone key (jellyfish) proposes candidates Jaro-Winkler "
            "prunes; an initial counts 0.9 against a listed token it may abbreviate; a name match is capped by its "
            "evidence (the information of the token pairs it rests on: inverse list frequency, at most 2 nats for a "
            "name common in Kenya), so a match on common tokens alone stays at review unless a DOB or nationality "
            "supports it. Unit tests: tests/unit/compliance/test_screening_quality.py, test_transliteration.py.",
            "",
        ]
    )
    path = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(QUALITY_SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: body + "\n", text)
    else:
        marker = re.compile(r"^## Sanctions screening \(issue 8\)\n.*?(?=^## |\Z)", re.S | re.M)
        found = marker.search(text)
        at = found.end() if found else len(text)
        text = text[:at].rstrip("\n") + "\n\n" + body + "\n" + text[at:]
    path.write_text(text, encoding="utf-8")
    print(f"updated {path}")


if __name__ == "__main__":
    main()
