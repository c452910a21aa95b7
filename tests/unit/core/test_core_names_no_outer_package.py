"""Core never names an outer package by string (a job's dotted path, an import by name): it imports
none of them (import-linter), and a string naming one would hide the same dependency from the
linter. Core declares what it needs (a port, a job name in core.outbox.handlers) and the composition
root wires the outer package's implementation. Docstrings and comments may mention the packages.

The check is an import-linter contract (scripts/lint_strings.py, registered in pyproject.toml, run
by `lint-imports`); these tests run the same check and prove it can fail."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from scripts.lint_strings import ForbiddenStringsContract, strings_naming, violations

ROOT = Path(__file__).resolve().parents[3]


def _contract() -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    assert "forbidden_strings: scripts.lint_strings.ForbiddenStringsContract" in config["contract_types"]
    [contract] = [c for c in config["contracts"] if c["type"] == "forbidden_strings"]
    return dict(contract)


def test_core_names_no_webapp_module_in_a_string() -> None:
    contract = _contract()
    assert contract["source_modules"] == ["core"] and contract["forbidden_strings"] == ["webapp."]
    found = violations(["core"], ("webapp.",), set(contract["ignore_strings"]))
    assert found == [], "core names an outer package; declare a port or a job name instead:\n" + "\n".join(
        found
    )


def test_the_check_sees_a_job_path_and_skips_docstrings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fakecore"
    (package / "rails").mkdir(parents=True)
    (package / "__init__.py").write_text('"""Built by webapp.bootstrap."""\n')
    (package / "rails" / "__init__.py").write_text("")
    (package / "rails" / "service.py").write_text(
        '"""Staged for webapp.api."""\n\n# webapp.api in a comment\nJOB = "webapp.api.pesapal.open_reversal_case"\n'
    )
    assert strings_naming(package / "rails" / "service.py", ("webapp.",)) == [
        (4, "webapp.api.pesapal.open_reversal_case")
    ]
    monkeypatch.syspath_prepend(str(tmp_path))
    assert violations(["fakecore"], ("webapp.",), set()) == [
        "fakecore.rails.service:4: 'webapp.api.pesapal.open_reversal_case'"
    ]
    ignored = {"fakecore.rails.service:webapp.api.pesapal.open_reversal_case"}
    assert violations(["fakecore"], ("webapp.",), ignored) == []
    contract = ForbiddenStringsContract(
        name="t",
        session_options={},
        contract_options={"source_modules": ["fakecore"], "forbidden_strings": ["webapp."]},
    )
    assert not contract.check(graph=None, verbose=False).kept  # type: ignore[arg-type]
