"""An import-linter contract type for imports by name: a module named in a string (a job's dotted
path, `importlib.import_module("webapp...")`) is a dependency the import graph never sees. This
contract reads the string literals of the source packages (docstrings aside) and is broken by any
that contains a forbidden prefix, e.g. core naming "webapp." (pyproject.toml registers it)."""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def strings_naming(path: Path, prefixes: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, string) of every string literal in `path` containing one of `prefixes`, docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        if any(prefix in node.value for prefix in prefixes)
    ]


def package_files(package: str) -> Iterator[tuple[str, Path]]:
    """(dotted module, file) of every .py file of `package`, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{package} is not a package")
    root = Path(next(iter(spec.submodule_search_locations)))
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def violations(packages: list[str], prefixes: tuple[str, ...], ignored: set[str]) -> list[str]:
    """'module:line: string' for each forbidden string not in `ignored` ('module:string' entries)."""
    return [
        f"{module}:{line}: {text!r}"
        for package in packages
        for module, path in package_files(package)
        for line, text in strings_naming(path, prefixes)
        if f"{module}:{text}" not in ignored
    ]


class ForbiddenStringsContract(Contract):
    """Configuration: source_modules (packages), forbidden_strings (e.g. "webapp."), ignore_strings
    ("module:the whole string" entries allowed, each with a reason in a comment)."""

    source_modules = fields.ListField(subfield=fields.StringField())
    forbidden_strings = fields.ListField(subfield=fields.StringField())
    ignore_strings = fields.ListField(subfield=fields.StringField(), required=False, default=[])

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        found = violations(
            cast(list[str], self.source_modules),
            tuple(cast(list[str], self.forbidden_strings)),
            set(cast(list[str], self.ignore_strings)),
        )
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        output.print_error("A string names a package these modules must not depend on:")
        output.new_line()
        for line in check.metadata["found"]:
            output.print_error(f"-   {line}", bold=False)
        output.new_line()
