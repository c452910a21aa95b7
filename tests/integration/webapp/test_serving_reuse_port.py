"""`kibeti serve --reuse-port` (webapp.serving): every worker listens on a socket of its own, the
supervisor keeps none (nothing queues where nobody accepts), a replaced worker gets a new one, and
connections arriving together are spread over the workers rather than taken by whichever woke first."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
STARTUP_SECONDS = 60  # polled, not slept: a bound for a loaded machine
APP = """
import os

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on `port` (state 0A in /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            found.add(fields[9])
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def _workers(parent: int, port: int, count: int) -> dict[int, set[str]]:
    """The parent's `count` workers once each listens on `port`: their listening sockets' inodes."""
    give_up_at = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < give_up_at:
        listening = _listening_inodes(port)
        found = {}
        for child in _children(parent):
            try:
                mine = _socket_inodes(child) & listening
            except OSError:
                continue
            if mine:
                found[child] = mine
        if len(found) == count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{count} workers did not listen on {port}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    (tmp_path / "pidapp.py").write_text(APP)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    command = [sys.executable, "-m", "webapp.serving", "pidapp:app", "--port", str(port), "--workers", "2",
               "--reuse-port"]  # fmt: skip
    process = subprocess.Popen(command, cwd=tmp_path, env=env, start_new_session=True)
    try:
        yield process, port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_each_worker_listens_on_its_own_socket_and_connections_are_spread_over_them(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = served
    workers = _workers(process.pid, port, 2)
    first, second = workers.values()
    assert len(first) == len(second) == 1 and first != second  # a socket each, not one shared
    assert not _socket_inodes(process.pid) & _listening_inodes(port)  # the supervisor holds none
    assert _listening_inodes(port) == first | second

    # 40 keep-alive connections opened together: the kernel picks a socket for each by a hash of
    # its addresses, so both workers answer (all 40 on one socket: a chance of 2 in 2^40)
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(40)]
    try:
        answered = {int(client.get("/").text) for client in clients}
    finally:
        for client in clients:
            client.close()
    assert answered == set(workers)

    # a worker that dies is replaced by one with a new socket; the dead one's socket is gone with it
    # (nobody holds a copy where connections would queue unaccepted)
    dead = min(workers)
    os.kill(dead, signal.SIGKILL)
    give_up_at = time.monotonic() + STARTUP_SECONDS
    while dead in _children(process.pid) or len(_children(process.pid)) < 2:
        assert time.monotonic() < give_up_at, "the dead worker was not replaced"
        time.sleep(0.2)
    replaced = _workers(process.pid, port, 2)
    assert dead not in replaced and set(replaced) >= set(workers) - {dead}
    assert _listening_inodes(port) == set().union(*replaced.values())
    assert workers[dead] not in replaced.values() and len(_listening_inodes(port)) == 2
    assert not _socket_inodes(process.pid) & _listening_inodes(port)
