"""Shared helpers for CLI modules: run async code with the installed Runtime, show progress."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from core.runtime import Runtime
from webapp.bootstrap import install

T = TypeVar("T")


def run_with_runtime(work: Callable[[Runtime], Awaitable[T]], *, for_worker: bool = False) -> T:
    """Build and install the Runtime, run `work(runtime)` to completion, dispose the engine."""

    async def main() -> T:
        runtime = install(for_worker=for_worker, log_level="WARNING", kind="cli")
        try:
            return await work(runtime)
        finally:
            await runtime.session_factory.kw["bind"].dispose()

    return asyncio.run(main())


def progress_printer(label: str) -> Callable[[int, int], None]:
    """A progress callback printing `label: done/total` in place, at most ~100 updates."""

    interactive = sys.stderr.isatty()

    def report(done: int, total: int) -> None:
        step = max(1, total // 100)
        if done == total:
            click.echo(f"\r{label}: {done}/{total}", err=True)
        elif interactive and done % step == 0:
            click.echo(f"\r{label}: {done}/{total}", nl=False, err=True)

    return report
