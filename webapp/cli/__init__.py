"""The `kibeti` command. Each module in this package exposes a click command or group named `cli`;
groups with the same name (e.g. `worker`) are merged, so each area adds its own subcommands.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from core.config import get_settings
from core.errors import KibetiError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def kibeti() -> None:
    """Kibeti: crypto and KES wallet and payments for Kenya."""


def _merge(root: click.Group, command: click.Command) -> None:
    existing = root.commands.get(command.name or "")
    if isinstance(existing, click.Group) and isinstance(command, click.Group):
        for sub in command.commands.values():
            _merge(existing, sub)
        return
    root.add_command(command)


def _discover() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        command = getattr(module, "cli", None)
        if isinstance(command, click.Command):
            if isinstance(command, click.Group) and command.name == "kibeti":
                for sub in command.commands.values():
                    _merge(kibeti, sub)
            else:
                _merge(kibeti, command)


def main() -> None:
    _discover()
    try:
        kibeti(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KibetiError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # a person at a terminal gets one line and what to do, not a traceback
        if _debugging():
            raise
        explained = _explain(exc)
        click.echo(f"Error: {explained or f'{type(exc).__name__}: {exc}'}", err=True)
        if explained is None:  # a failure nobody foresaw: the traceback is for whoever fixes it
            click.echo("(set KIBETI_DEBUG=1 to see the full traceback)", err=True)
        sys.exit(1)


def _debugging() -> bool:
    """KIBETI_DEBUG=1 shows the traceback (False when the settings themselves are what failed)."""
    try:
        return get_settings().kibeti_debug
    except Exception:
        return False


def _explain(exc: Exception) -> str | None:
    """One line for a failure the operator can fix; None for one that needs the traceback."""
    if isinstance(exc, (ArgumentError, NoSuchModuleError)):  # SQLAlchemy's words for a malformed URL
        return (
            f"DATABASE_URL is not a database URL Kibeti can use ({exc}): e.g. "
            "sqlite+aiosqlite:///var/kibeti.db or postgresql+asyncpg://user@host/kibeti"
        )
    if isinstance(exc, ConnectionError):
        return (
            f"cannot connect ({exc.strerror or exc}): check that the database (DATABASE_URL) "
            "and Redis (REDIS_URL, when set) are up and reachable"
        )
    if isinstance(exc, OSError) and exc.strerror:
        if exc.filename:
            return f"{exc.strerror}: {exc.filename} (check the path and that its directory exists)"
        return exc.strerror
    if "database is locked" in str(exc):
        return "the database is busy (another kibeti process is writing to it); try again in a moment"
    if isinstance(exc, DBAPIError) and _missing_table(str(exc.orig)):
        return "the database has no Kibeti tables yet (or misses newer ones): run `kibeti db upgrade`"
    if isinstance(exc, OperationalError):
        return f"cannot use the database ({exc.orig}); check DATABASE_URL and that the database is up"
    if isinstance(exc, ArithmeticError):
        return "that number is not one Kibeti can use; check the amounts you typed"
    return None


def _missing_table(message: str) -> bool:
    """SQLite's and PostgreSQL's words for a table the migrations have not created."""
    return "no such table" in message or ("relation" in message and "does not exist" in message)
