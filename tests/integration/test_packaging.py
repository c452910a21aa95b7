"""The wheel carries everything the code loads (issue 11 item 12).

Build the wheel from a copy of the checkout, install it into a fresh virtualenv outside the
checkout and, from a directory where the checkout is not importable, migrate, serve and dial a
USSD session in English and in Swahili: real screens, not message keys, and /phone answers. A
non-editable install (the Docker image's `pip install .`) used to ship only .py files.

Fast: the new venv borrows the dependencies of the running one through a .pth line (a .pth found
in a directory added that way is not processed, so the checkout's editable install stays out) and
gets only the wheel itself.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.i18n import translate

ROOT = Path(__file__).resolve().parents[2]
AT_TOKEN = "packaging-test-at-callback-token-0123456789"
NOT_SOURCES = shutil.ignore_patterns(
    ".venv", ".git", "var", "*.egg-info", "build", "dist", "__pycache__", ".mypy_cache", ".ruff_cache",
    ".hypothesis", ".import_linter_cache", ".pytest_cache", "tests", "bench", "*.db",
)  # fmt: skip
STARTUP_SECONDS = 180  # a generous bound for a cold start on a loaded CI machine, polled, not slept


def _run(*command: str | Path, cwd: Path, env: dict[str, str], timeout: int = 300) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """(venv, environment): the wheel installed in a fresh venv, and a clean environment for it."""
    work = tmp_path_factory.mktemp("packaging")
    shutil.copytree(ROOT, work / "src", ignore=NOT_SOURCES)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "KIBETI_"))}
    env.update(
        PYTHONNOUSERSITE="1",
        DATA_DIR=str(work / "var"),
        DATABASE_URL=f"sqlite+aiosqlite:///{work / 'var' / 'kibeti.db'}",
        REDIS_URL="",
        KIBETI_ENV="development",
        AT_CALLBACK_TOKEN=AT_TOKEN,
    )
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        work / "dist",
        work / "src",
        cwd=work,
        env=env,
    )
    (wheel,) = (work / "dist").glob("kibeti-*.whl")
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work, env=env)
    python = venv / "bin" / "python"
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=work, env=env
        ).strip()
    )
    (site / "kibeti-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        python,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-index",
        "--ignore-installed",
        "-q",
        wheel,
        cwd=work,
        env=env,
    )
    yield venv, env


def test_the_installed_wheel_is_what_runs_not_the_checkout(outside: tuple[Path, dict[str, str]]) -> None:
    venv, env = outside
    files = _run(
        venv / "bin" / "python", "-c", "import core, webapp, channels; print(core.__file__, webapp.__file__)",
        cwd=venv.parent, env=env,
    )  # fmt: skip
    for path in files.split():
        assert Path(path).is_relative_to(venv), f"{path} is not the installed copy"
        assert not Path(path).is_relative_to(ROOT)


@pytest.mark.slow
def test_the_installed_wheel_migrates_serves_and_speaks_both_languages(
    outside: tuple[Path, dict[str, str]],
) -> None:
    venv, env = outside
    kibeti = venv / "bin" / "kibeti"
    _run(kibeti, "db", "upgrade", cwd=venv.parent, env=env)  # Alembic's template, env and every revision
    port = _free_port()
    log = (venv.parent / "serve.log").open("w")
    server = subprocess.Popen(
        [str(kibeti), "serve", "--port", str(port)],
        cwd=venv.parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            give_up = time.monotonic() + STARTUP_SECONDS
            while True:
                assert server.poll() is None, (venv.parent / "serve.log").read_text()[-3000:]
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < give_up, "the server did not start"
                time.sleep(0.2)  # polling interval, not a wait for an outcome
            phone = client.get("/phone")
            assert phone.status_code == 200 and "<html" in phone.text.lower()
            for choice, language in (("1", "en"), ("2", "sw")):
                session = {"sessionId": f"ATUid_packaging_{language}", "serviceCode": "*483*1#",
                           "phoneNumber": f"+25471100000{choice}", "networkCode": "63902"}  # fmt: skip
                welcome = client.post(f"/ussd/{AT_TOKEN}", data={**session, "text": ""})
                name = client.post(f"/ussd/{AT_TOKEN}", data={**session, "text": choice})
                for screen in (welcome, name):
                    assert screen.status_code == 200 and screen.text.startswith("CON "), screen.text
                    assert "ussd." not in screen.text, f"a raw message key: {screen.text!r}"
                assert translate("ussd.welcome", language).splitlines()[0] in welcome.text
                assert translate("ussd.reg.name", language) in name.text, (language, name.text)
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
