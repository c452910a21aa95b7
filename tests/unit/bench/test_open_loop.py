"""The USSD benchmark's open loop (bench.common.run_wrk_open_loop through bench_ussd.open_loop) times
a request from when it was due, not from when its connection was free to send it (no coordinated
omission), and sends Africa's Talking hops: each connection one phone, its sessions' hops in order."""

from __future__ import annotations

import importlib
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from channels.ussd.router import decode_form

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")

STALL_AT, STALL_SECONDS = 40, 0.5


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[bytes] = []
        self.gate = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk's connections are
    disable_nagle_algorithm = True  # headers and body are two writes
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.gate:  # one request at a time: the STALL_AT-th holds every connection up
            self.server.bodies.append(body)
            if len(self.server.bodies) == STALL_AT:
                time.sleep(STALL_SECONDS)
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"CON ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    served = _Server()
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()


@pytest.fixture
def bench_ussd(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("bench.bench_ussd")


def test_requests_due_while_the_server_stalls_count_their_wait_and_are_real_hops(
    server: _Server, bench_ussd: ModuleType
) -> None:
    rate, seconds, connections = 200, 1, 2
    run = bench_ussd.open_loop(server.server_address[1], rate, seconds, connections)

    # every request due in the run is counted: answered, or with its wait so far when wrk stopped
    assert len(run.latencies) == rate * seconds and run.errors == 0 and run.unfinished == 0
    # The STALL_AT-th request held the server STALL_SECONDS. The ~50 requests due in the stall's first
    # half waited at least a quarter of it each, though each connection could send only one of them
    # before the stall ended: timed from when they were sent, at most one a connection would show it.
    assert max(run.latencies) >= STALL_SECONDS * 1000 * 0.9
    assert sum(1 for value in run.latencies if value >= STALL_SECONDS * 1000 / 4) >= 20

    # what was sent: Africa's Talking's form, connection t the seeded phone t, its hops in order (the
    # dial, "1", then "1*5", "1*5*5"...), a new session every HOPS_PER_SESSION hops
    per_phone: dict[str, list[dict[str, str]]] = {}
    for body in server.bodies:
        form = decode_form(body)
        assert set(form) == {"sessionId", "serviceCode", "phoneNumber", "networkCode", "text"}
        assert (form["serviceCode"], form["networkCode"]) == ("*483*1#", "63902")
        per_phone.setdefault(form["phoneNumber"], []).append(form)
    assert sorted(per_phone) == ["+254710000001", "+254710000002"]
    per = bench_ussd.HOPS_PER_SESSION
    for hops in per_phone.values():
        assert len(hops) == rate * seconds // connections
        for k, form in enumerate(hops):
            step = k % per
            assert form["text"] == ("" if step == 0 else "1" + "*5" * (step - 1))
        sessions = [form["sessionId"] for form in hops]
        assert len(set(sessions)) == len(hops) // per and sessions[:per] == [sessions[0]] * per
    all_sessions = {form["sessionId"] for hops in per_phone.values() for form in hops}
    assert len(all_sessions) == connections * (rate * seconds // connections) // per
