"""Core never names an outer package by string (a job's dotted path, an import by name): it imports
none of them (import-linter), and a string naming one would hide the same dependency from the
linter. Core declares what it needs (a port, a job name in core.outbox.handlers) and the composition
root wires the outer package's implementation. Docstrings and comments may mention the packages."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[3] / "core"
OUTER = ("webapp.",)
# (file, string) pairs allowed for now, each with why. Remove an entry once its string is gone.
ALLOWED = {
    # a deployment setting (KIBETI_WORKER_SETUP) naming the composition root's entry point: config
    ("core/config.py", "webapp.bootstrap.install"),
    # owned by another change under way: to become core.outbox.handlers.OPEN_REFUND_CASE
    ("core/rails/refunds.py", "webapp.api.pesapal.open_refund_case"),
}


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def outer_names(path: Path) -> list[tuple[int, str]]:
    """(line, string) of every string literal in `path` naming an outer package, docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        if any(outer in node.value for outer in OUTER)
    ]


def test_core_names_no_outer_package_in_a_string() -> None:
    found = [
        f"{path.relative_to(CORE.parent)}:{line}: {text!r}"
        for path in sorted(CORE.rglob("*.py"))
        for line, text in outer_names(path)
        if (str(path.relative_to(CORE.parent)), text) not in ALLOWED
    ]
    assert found == [], "core names an outer package; declare a port or a job name instead:\n" + "\n".join(
        found
    )


def test_the_check_sees_a_job_path_and_skips_docstrings(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""Built by webapp.bootstrap."""\nJOB = "webapp.api.pesapal.open_reversal_case"\n')
    assert outer_names(sample) == [(2, "webapp.api.pesapal.open_reversal_case")]
