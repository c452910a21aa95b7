"""What the Lighthouse scripts share (lighthouse_portals.py, lighthouse_staff.py): the embedded default
on a fresh SQLite database seeded by `kibeti demo`, served by uvicorn on a free port; the kibeti CLI;
a sign-in form's CSRF token; one Lighthouse run in Debian's Chromium with a session's cookie, its
category scores and the floors a page must reach."""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = {"performance": 90, "accessibility": 95, "best-practices": 90}


@dataclass(frozen=True)
class DemoServer:
    base: str  # http://127.0.0.1:<port>
    env: dict[str, str]  # the environment the server runs with, for the kibeti CLI beside it
    work: Path  # the database and data folder


def arguments(description: str) -> argparse.Namespace:
    """The scripts' command line: the lighthouse binary and where to keep the JSON reports."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lighthouse", default="lighthouse", help="the lighthouse binary (npm)")
    parser.add_argument("--keep", type=Path, default=None, help="a folder for the JSON reports")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kibeti(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-c", "from webapp.cli import main; main()", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"kibeti {' '.join(args)} failed: {done.stdout}\n{done.stderr}")
    return done.stdout


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not found:
        raise SystemExit("no CSRF token on the sign-in page")
    return found.group(1)


@contextmanager
def demo_server(prefix: str) -> Iterator[DemoServer]:
    """The embedded default on a new demo database, up until the block ends."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{work}/kibeti.db", "REDIS_URL": "",
           "MPESA_BASE_URL": "", "MPESA_CALLBACK_BASE_URL": base, "AT_BASE_URL": "",
           "DATA_DIR": str(work)}  # fmt: skip
    kibeti(env, "db", "upgrade")
    kibeti(env, "demo")
    server = subprocess.Popen(  # noqa: S603 - our own app
        [sys.executable, "-m", "uvicorn", "webapp.main:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield DemoServer(base=base, env=env, work=work)
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_lighthouse(binary: str, url: str, cookie: str, out: Path, *options: str) -> dict[str, Any]:
    """One Lighthouse run as the session behind `cookie`, its JSON report written to `out` and read."""
    subprocess.run(  # noqa: S603 - the lighthouse binary the operator named
        [binary, url, "--quiet", *options, "--output=json", f"--output-path={out}",
         "--chrome-flags=--headless=new --no-sandbox", f"--extra-headers={json.dumps({'Cookie': cookie})}"],
        env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"}, check=True, timeout=300,
    )  # fmt: skip
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def category_scores(report: dict[str, Any]) -> dict[str, float | None]:
    """Each category's score out of 100 (None where Lighthouse gave none)."""
    return {
        name: (None if c["score"] is None else round(c["score"] * 100))
        for name, c in report["categories"].items()
    }


def misses(scores: dict[str, float | None]) -> list[str]:
    """The categories below their floor."""
    return [k for k, floor in THRESHOLDS.items() if (scores.get(k) or 0) < floor]
