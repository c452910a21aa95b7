"""Run the `kibeti` command inside the test process.

A `kibeti` subprocess pays ~3 s of CPU importing web3, eth_account and bitcoinlib before it does
anything; on the shared 2-CPU machine that made the CLI tests the slowest of the suite and let a
busy moment hit their subprocess timeouts. In-process, the imports are paid once per session; the
command still goes through `webapp.cli.main` (argument parsing, error messages, exit statuses).
The e2e journeys keep running the real `kibeti` executable.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from core import runtime as runtime_module
from core.config import get_settings
from webapp.cli import main


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """The CLI points the root logger at its (captured) stderr: put the test's logging back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers, root.level = handlers, level


def _run(args: tuple[str, ...], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    previous_runtime = runtime_module._current
    argv = sys.argv
    with _environment(env), _logging_restored():
        sys.argv = ["kibeti", *args]
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                stderr.write(exc.code)
        finally:
            sys.argv = argv
            runtime_module._current = previous_runtime
            with warnings.catch_warnings():  # what the command left open is finalised here, quietly,
                warnings.simplefilter("ignore", ResourceWarning)  # as its process exit would have
                gc.collect()
    return subprocess.CompletedProcess(["kibeti", *args], code, stdout.getvalue(), stderr.getvalue())


def kibeti(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`kibeti *args` with `env` added to the environment; stdout, stderr and the exit status as a
    subprocess would give them. Runs on its own thread: the command calls asyncio.run, and the
    calling test may be running an event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_run, args, env).result()
