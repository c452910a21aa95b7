"""scripts/vulncheck.py: a lock file checked against the offline PyPA advisory snapshot (issue 21
item 1). A vulnerable pin fails unless an unexpired exception records why it does not apply."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SNAPSHOT = ROOT.parent / "shared" / "data" / "advisories"


def _load():
    spec = importlib.util.spec_from_file_location("vulncheck", ROOT / "scripts" / "vulncheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["vulncheck"] = module
    spec.loader.exec_module(module)
    return module


vulncheck = _load()


def _snapshot() -> Path:
    """The PyPA snapshot sits beside the repo in CI (../shared); a checkout elsewhere may lack it."""
    if not SNAPSHOT.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the advisory snapshot is expected beside the repo at {SNAPSHOT}")
        pytest.skip(f"no advisory snapshot at {SNAPSHOT}")
    return SNAPSHOT


def _advisory(folder: Path, package: str, name: str, body: str) -> None:
    (folder / "vulns" / package).mkdir(parents=True, exist_ok=True)
    (folder / "vulns" / package / f"{name}.yaml").write_text(body)


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    folder = tmp_path / "advisories"
    _advisory(
        folder, "Demo-Pkg", "PYSEC-2020-1",
        "id: PYSEC-2020-1\nmodified: '2024-03-01T00:00:00Z'\naffected:\n- package: {name: demo-pkg, ecosystem: PyPI}\n"
        "  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: '1.0'\n    - fixed: '1.4.2'\n",
    )  # fmt: skip
    _advisory(
        folder, "demo-pkg", "PYSEC-2021-2",
        "id: PYSEC-2021-2\nmodified: '2024-05-02T00:00:00Z'\naffected:\n- package: {name: demo-pkg, ecosystem: PyPI}\n"
        "  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: '0'\n    - last_affected: '0.9'\n",
    )  # fmt: skip
    _advisory(
        folder, "other", "PYSEC-2022-3",
        "id: PYSEC-2022-3\nmodified: '2024-01-01T00:00:00Z'\nwithdrawn: '2024-02-01T00:00:00Z'\n"
        "affected:\n- package: {name: other, ecosystem: PyPI}\n  versions: ['2.0']\n",
    )  # fmt: skip
    return folder


def _lock(tmp_path: Path, *pins: str) -> Path:
    path = tmp_path / "requirements.lock"
    path.write_text("".join(f"{pin} \\\n    --hash=sha256:{'0' * 64}\n" for pin in pins))
    return path


@pytest.mark.parametrize(
    ("pin", "advisory"),
    [
        ("demo-pkg==1.4.1", "PYSEC-2020-1"),
        ("Demo_Pkg==1.0", "PYSEC-2020-1"),
        ("demo-pkg==0.9", "PYSEC-2021-2"),
    ],
)
def test_a_vulnerable_pin_fails(tmp_path: Path, snapshot: Path, pin: str, advisory: str, capsys) -> None:
    code = vulncheck.main(
        ["--lock", str(_lock(tmp_path, pin)), "--advisories", str(snapshot), "--exceptions", "none"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert advisory in out and "VULNERABLE" in out


@pytest.mark.parametrize("pin", ["demo-pkg==1.4.2", "demo-pkg==0.9.1", "other==2.0", "unrelated==1.0"])
def test_fixed_unaffected_or_withdrawn_pins_pass(tmp_path: Path, snapshot: Path, pin: str) -> None:
    args = ["--lock", str(_lock(tmp_path, pin)), "--advisories", str(snapshot), "--exceptions", "none"]
    assert vulncheck.main(args) == 0


def test_the_report_says_how_old_the_snapshot_is(tmp_path: Path, snapshot: Path, capsys) -> None:
    lock = _lock(tmp_path, "unrelated==1.0")
    vulncheck.main(["--lock", str(lock), "--advisories", str(snapshot), "--today", "2024-06-01"])
    assert "snapshot of 2024-05-02 (30 days old" in capsys.readouterr().out


def test_an_exception_holds_until_it_expires(tmp_path: Path, snapshot: Path, capsys) -> None:
    exceptions = tmp_path / "exceptions.toml"
    exceptions.write_text(
        '[[exception]]\nid = "PYSEC-2020-1"\npackage = "demo-pkg"\nreason = "not reachable"\nexpires = "2025-01-31"\n'
    )
    args = [
        "--lock",
        str(_lock(tmp_path, "demo-pkg==1.2")),
        "--advisories",
        str(snapshot),
        "--exceptions",
        str(exceptions),
    ]
    assert vulncheck.main([*args, "--today", "2025-01-31"]) == 0
    assert "excepted" in capsys.readouterr().out
    assert vulncheck.main([*args, "--today", "2025-02-01"]) == 1
    assert "expired" in capsys.readouterr().out


def test_no_snapshot_is_an_error_not_a_clean_result(tmp_path: Path) -> None:
    assert (
        vulncheck.main(["--lock", str(_lock(tmp_path, "x==1")), "--advisories", str(tmp_path / "nowhere")])
        == 2
    )


def test_the_real_snapshot_catches_a_known_old_vulnerability(tmp_path: Path, capsys) -> None:
    assert SNAPSHOT.is_dir(), f"the advisory snapshot is expected beside the repo at {SNAPSHOT}"
    assert (
        vulncheck.main(["--lock", str(_lock(tmp_path, "aiohttp==3.9.1")), "--advisories", str(SNAPSHOT)]) == 1
    )
    assert "PYSEC-2024-26" in capsys.readouterr().out


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_the_shipped_lock_files_are_clean(lock: str) -> None:
    assert vulncheck.main(["--lock", str(ROOT / lock), "--advisories", str(_snapshot())]) == 0
