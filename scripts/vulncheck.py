"""Check a pinned requirements lock file against an offline snapshot of the PyPA advisory database.

    python scripts/vulncheck.py [--lock requirements.lock] [--advisories DIR] [--exceptions FILE]

No online vulnerability service is reachable from the build machines, and a tool that cannot reach
one reports "no known vulnerabilities" without having checked anything. This reads the OSV YAML
files of the PyPA database (``vulns/<package>/PYSEC-*.yaml``) instead, and always says how old the
snapshot is: it catches what was known when it was taken, nothing newer.

A finding fails the check unless scripts/vuln_exceptions.toml records it (advisory id, package, why
it does not apply or what mitigates it, and an expiry date after which it fails again).
Exit status: 0 clean, 1 a vulnerable pin without a recorded exception, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ADVISORIES = ROOT.parent / "shared" / "data" / "advisories"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


@dataclass(frozen=True)
class Finding:
    advisory: str
    package: str
    version: str
    fixed: str


def read_pins(lock: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _version(text: str) -> Version | None:
    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def _in_range(version: Version, events: list[dict[str, str]]) -> tuple[bool, str]:
    """OSV ECOSYSTEM range semantics: sorted events open (introduced) and close (fixed /
    last_affected) intervals."""
    affected, fixed_text = False, ""
    for event in events:
        if "introduced" in event:
            start = event["introduced"]
            if start == "0" or ((v := _version(start)) is not None and version >= v):
                affected = True
        elif "fixed" in event:
            fixed = _version(event["fixed"])
            if fixed is not None and version >= fixed:
                affected = False
            elif affected:
                fixed_text = str(event["fixed"])
        elif "last_affected" in event:
            last = _version(event["last_affected"])
            if last is not None and version > last:
                affected = False
    return affected, fixed_text


def _affects(entry: dict[str, object], version_text: str) -> tuple[bool, str]:
    if version_text in {str(v) for v in entry.get("versions", []) or []}:  # type: ignore[attr-defined]
        fixed = ""
        for range_ in entry.get("ranges", []) or []:  # type: ignore[attr-defined]
            for event in range_.get("events", []):
                fixed = str(event.get("fixed", fixed))
        return True, fixed
    version = _version(version_text)
    if version is None:
        return False, ""
    for range_ in entry.get("ranges", []) or []:  # type: ignore[attr-defined]
        if range_.get("type") == "ECOSYSTEM":
            hit, fixed = _in_range(version, range_.get("events", []))
            if hit:
                return True, fixed
    return False, ""


def advisories_for(folder: Path, package: str) -> Iterator[dict[str, object]]:
    wanted = canonicalize_name(package)
    for candidate in (folder / "vulns").iterdir():
        if canonicalize_name(candidate.name) == wanted:
            for path in sorted(candidate.glob("*.yaml")):
                yield yaml.safe_load(path.read_text())


def find(pins: dict[str, str], folder: Path) -> list[Finding]:
    findings: list[Finding] = []
    for package, version in sorted(pins.items()):
        for advisory in advisories_for(folder, package):
            if advisory.get("withdrawn"):  # retracted by its publisher: not a finding
                continue
            for entry in advisory.get("affected", []) or []:  # type: ignore[attr-defined]
                if canonicalize_name(entry.get("package", {}).get("name", "")) != package:
                    continue
                hit, fixed = _affects(entry, version)
                if hit:
                    findings.append(Finding(str(advisory["id"]), package, version, fixed or "none"))
                    break
    return findings


MODIFIED = re.compile(r"^modified:\s*'?(\d{4}-\d{2}-\d{2})", re.MULTILINE)


def snapshot_date(folder: Path) -> dt.date:
    """The newest advisory's modification date: the snapshot knows nothing after it."""
    newest = dt.date.min
    for path in (folder / "vulns").glob("*/*.yaml"):
        for found in MODIFIED.findall(path.read_text()):
            newest = max(newest, dt.date.fromisoformat(found))
    return newest


def load_exceptions(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text())
    recorded: dict[tuple[str, str], dict[str, str]] = {}
    for item in data.get("exception", []):
        missing = {"id", "package", "reason", "expires"} - set(item)
        if missing:
            raise ValueError(f"{path}: an exception lacks {', '.join(sorted(missing))}")
        recorded[(str(item["id"]), canonicalize_name(str(item["package"])))] = {
            "reason": str(item["reason"]),
            "expires": str(item["expires"]),
        }
    return recorded


def report(
    findings: Iterable[Finding], exceptions: dict[tuple[str, str], dict[str, str]], today: dt.date
) -> int:
    failures = 0
    for finding in findings:
        recorded = exceptions.get((finding.advisory, finding.package))
        if recorded and dt.date.fromisoformat(recorded["expires"]) >= today:
            print(f"excepted  {finding.package}=={finding.version}  {finding.advisory}: {recorded['reason']}")
            continue
        failures += 1
        why = " (its recorded exception expired)" if recorded else ""
        pin = f"{finding.package}=={finding.version}"
        print(f"VULNERABLE {pin}  {finding.advisory}, fixed in {finding.fixed}{why}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements.lock")
    parser.add_argument("--advisories", type=Path, default=DEFAULT_ADVISORIES)
    parser.add_argument("--exceptions", type=Path, default=ROOT / "scripts" / "vuln_exceptions.toml")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.datetime.now(dt.UTC).date())
    args = parser.parse_args(argv)
    if not (args.advisories / "vulns").is_dir():
        print(f"no advisory snapshot at {args.advisories} (expected vulns/<package>/*.yaml)", file=sys.stderr)
        return 2
    if not args.lock.exists():
        print(f"no lock file at {args.lock}", file=sys.stderr)
        return 2
    pins = read_pins(args.lock)
    taken = snapshot_date(args.advisories)
    age = (args.today - taken).days
    print(
        f"Checked {len(pins)} pinned packages against the PyPA advisory snapshot of {taken} "
        f"({age} days old: advisories published since then are not known to this check)."
    )
    failures = report(find(pins, args.advisories), load_exceptions(args.exceptions), args.today)
    print(
        "No known vulnerability in the snapshot affects the lock."
        if not failures
        else f"{failures} finding(s)."
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
