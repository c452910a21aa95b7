"""Catalog maintenance with Babel: ``python -m core.i18n.build [extract|update|compile|all]``.

extract: scan core/ and channels/ for ``translate("...")``, ``t("...")`` and ``N_("...")`` into
messages.pot; update: merge the template into en and sw .po files; compile: write the .mo files.
"""

from __future__ import annotations

import sys

from babel.messages.frontend import CommandLineInterface

from core.i18n.catalog import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = LOCALE_DIR.parent.parent.parent
POT = LOCALE_DIR / f"{DOMAIN}.pot"
MAPPING = LOCALE_DIR.parent / "babel.cfg"


def _run(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])  # type: ignore[no-untyped-call]


def extract() -> None:
    _run(
        "extract", "-F", str(MAPPING), "--no-location", "--omit-header", "--sort-output",
        "-k", "translate", "-k", "t", "-k", "N_", "-k", "flash",
        "-o", str(POT), str(ROOT / "core"), str(ROOT / "channels"),
    )  # fmt: skip


def update() -> None:
    for language in LANGUAGES:
        po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po.exists():
            _run("update", "-i", str(POT), "-d", str(LOCALE_DIR), "-l", language, "--no-fuzzy-matching")
        else:
            _run("init", "-i", str(POT), "-d", str(LOCALE_DIR), "-l", language)


def compile_catalogs() -> None:
    _run("compile", "-d", str(LOCALE_DIR), "-D", DOMAIN)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "all"
    steps = {"extract": [extract], "update": [update], "compile": [compile_catalogs]}
    for step in steps.get(command, [extract, update, compile_catalogs]):
        step()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
