"""The import-linter contracts encode the architecture (issue 13): main keeps every contract, and each
leak the contracts exist for, planted in a copy of the tree, breaks lint-imports. Also: core stages
higher layers' jobs by name and never imports them by string (only the outbox runner imports jobs)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("core", "wallets", "payouts", "compliance", "channels", "webapp", "simulators")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
# The one module of core allowed to import by dotted name: the job runner (core.outbox).
STRING_IMPORTS_ALLOWED = {"core/outbox/service.py"}


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("kibeti")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "migrations", "templates", "static", "*.mo")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    (copy / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "lint_strings.py", copy / "scripts" / "lint_strings.py")  # a contract type
    return copy


@pytest.fixture
def plant(tree: Path) -> Iterator[dict[str, str]]:
    """Lines to add to files of the copy for one test (a new file, or appended to one that exists),
    undone afterwards: {relative path: source}."""
    planted: dict[str, str] = {}
    yield planted
    for relative in planted:
        if relative not in _ORIGINALS:
            (tree / relative).unlink(missing_ok=True)
    for relative, text in _ORIGINALS.items():
        (tree / relative).write_text(text)
    _ORIGINALS.clear()
    shutil.rmtree(tree / "channels" / "whatsapp", ignore_errors=True)


_ORIGINALS: dict[str, str] = {}


def _write(tree: Path, plant: dict[str, str], relative: str, source: str) -> None:
    path = tree / relative
    plant[relative] = source
    if path.exists():
        _ORIGINALS[relative] = path.read_text()
        path.write_text(_ORIGINALS[relative] + "\n" + source)
    else:
        path.write_text(source)


def test_main_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


LEAKS = {
    "ledger_imports_flows": ("core/ledger/planted.py", "import core.flows.service\n"),
    "money_imports_ledger": ("core/money.py", "import core.ledger.service  # noqa\n"),
    "core_imports_httpx": ("core/fx/planted.py", "import httpx\n"),
    "core_imports_web3": ("core/planted_chain.py", "import web3\n"),
    "core_imports_an_adapter": ("core/planted_adapter.py", "import wallets.gateway\n"),
    "channel_imports_core_db": ("channels/ussd/planted.py", "from core.db import base\n"),
    "channel_imports_a_table": ("channels/sms/planted.py", "from core.identity import models\n"),
    "channel_imports_sqlalchemy": ("channels/telegram/planted.py", "import sqlalchemy\n"),
    "channel_imports_the_ledger_service": ("channels/ussd/planted.py", "from core.ledger import service\n"),
    "channel_imports_another_channel": ("channels/sms/planted.py", "import channels.ussd.engine\n"),
    "production_imports_a_simulator": ("payouts/planted.py", "import simulators.daraja.simulator\n"),
    "channel_imports_the_shell": ("channels/ussd/planted.py", "import webapp.bootstrap\n"),
    "adapters_import_each_other": ("wallets/planted.py", "import payouts.jobs\n"),
}


@pytest.mark.parametrize("leak", sorted(LEAKS))
def test_each_planted_leak_breaks_lint_imports(tree: Path, plant: dict[str, str], leak: str) -> None:
    relative, source = LEAKS[leak]
    _write(tree, plant, relative, source)
    result = _lint(tree)
    assert result.returncode != 0, f"{leak} passed lint-imports:\n{result.stdout[-2000:]}"
    assert "BROKEN" in result.stdout


TABLES_CONTRACT = "outer packages never touch core's tables"
# One planted table import per package the contract covers: each must break that contract by name.
TABLE_LEAKS = {
    "wallets": ("wallets/planted.py", "from core.ledger.models import Account\n"),
    "payouts": ("payouts/planted.py", "from core.payments.models import Payout\n"),
    "compliance": ("compliance/planted.py", "from core.identity import models\n"),
    "channels": ("channels/webhooks/planted.py", "from core.webhooks.models import WebhookEndpoint\n"),
    "simulators": ("simulators/planted.py", "import core.payments.models\n"),
    "webapp": ("webapp/staff_portal/planted.py", "from core.auth.models import StaffUser\n"),
}


def _contract_line(stdout: str, name: str) -> str:
    """The contract's line of the report (a long name may wrap: the status word ends the entry)."""
    flat = " ".join(stdout.split())
    start = flat.index(name)
    ends = [flat.find(word, start) for word in ("KEPT", "BROKEN")]
    return flat[start : min(e for e in ends if e >= 0) + len("BROKEN")]


@pytest.mark.parametrize("package", sorted(TABLE_LEAKS))
def test_an_outer_package_importing_a_core_table_breaks_lint_imports(
    tree: Path, plant: dict[str, str], package: str
) -> None:
    relative, source = TABLE_LEAKS[package]
    _write(tree, plant, relative, source)
    result = _lint(tree)
    assert result.returncode != 0, f"{package} importing a table passed:\n{result.stdout[-2000:]}"
    assert "BROKEN" in _contract_line(result.stdout, TABLES_CONTRACT), result.stdout[-2000:]


def test_main_keeps_the_tables_contract() -> None:
    """Same tree, the contract itself named: it is there and kept (a renamed or dropped contract fails)."""
    result = _lint(ROOT)
    assert "KEPT" in _contract_line(result.stdout, TABLES_CONTRACT), result.stdout[-2000:]


def test_a_new_channel_importing_another_channel_breaks_lint_imports(
    tree: Path, plant: dict[str, str]
) -> None:
    """The wildcard covers a channel nobody listed yet."""
    (tree / "channels" / "whatsapp").mkdir()
    (tree / "channels" / "whatsapp" / "__init__.py").write_text("")
    (tree / "channels" / "whatsapp" / "bot.py").write_text("from channels.ussd import engine\n")
    result = _lint(tree)
    assert result.returncode != 0 and "channels do not import each other" in result.stdout, result.stdout[
        -2000:
    ]


def string_imports(root: Path) -> list[str]:
    """Modules of core that import by dotted name (importlib), besides the job runner."""
    found = []
    for path in sorted((root / "core").rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative not in STRING_IMPORTS_ALLOWED and re.search(
            r"\bimport_module\(|__import__\(", path.read_text()
        ):
            found.append(relative)
    return found


def test_core_imports_no_higher_layer_by_string() -> None:
    assert string_imports(ROOT) == []


def test_a_planted_string_import_is_found(tree: Path, plant: dict[str, str]) -> None:
    relative = "core/payments/planted.py"
    plant[relative] = "x"
    (tree / relative).write_text('import importlib\nimportlib.import_module("core.flows.jobs")\n')
    assert string_imports(tree) == [relative]
