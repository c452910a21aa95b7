"""uvicorn's worker processes, each listening on a socket of its own (`kibeti serve --reuse-port`).

uvicorn's `--workers N` binds one socket and hands it to every worker: whichever worker wakes first
on a new connection accepts it, and everything queued with it (uvloop accepts until the queue is
empty). Keep-alive connections then stay with the worker that accepted them. When connections arrive
together (nginx opening its upstream keep-alive pool, a load test), one worker can end up holding most
of them and serve most requests while the other idles: in the USSD benchmark one worker did 89% of
the hops' CPU, and the hop's open-loop p99 was 361 ms against 69 ms for the floor, whose connections
happened to split evenly (`bench/bench_ussd.py --floor`, "busiest worker's share").

Here each worker gets its own listening socket, bound with SO_REUSEPORT to the same address: the
kernel assigns each new connection to one of them by a hash of its addresses, evenly whatever the
workers are doing. A worker that exits takes its socket with it (the supervisor keeps no copy, so no
connection is ever queued where nobody accepts); the connections still queued on it are handed to the
others only where `net.ipv4.tcp_migrate_req` is 1 (Linux 5.14+, per network namespace: docker-compose
sets it for the api service), and are reset otherwise. Hence an option, not the default.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from uvicorn.config import Config
from uvicorn.supervisors.multiprocess import Multiprocess


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A TCP socket listening on host:port with SO_REUSEPORT (and SO_REUSEADDR, as uvicorn binds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


class SocketPerWorker(Multiprocess):
    """uvicorn's supervisor (start-up health checks, restarts on SIGHUP, replacement of dead workers),
    except that every worker it starts gets a new SO_REUSEPORT socket, which the supervisor closes
    once the worker holds it (spawn passes it at exec)."""

    def __init__(self, config: Config) -> None:
        self._handed: list[socket.socket] = []
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        """What Multiprocess passes to each worker it starts: a socket of its own."""
        sock = listening_socket(self.config.host, self.config.port, self.config.backlog)
        self._handed.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, _value: list[socket.socket]) -> None:
        pass  # Multiprocess.__init__ stores the shared socket list; there is none

    def _close_handed(self) -> None:
        while self._handed:
            self._handed.pop().close()

    def init_processes(self) -> None:
        try:
            super().init_processes()
        finally:
            self._close_handed()

    def restart_all(self) -> None:
        try:
            super().restart_all()
        finally:
            self._close_handed()

    def keep_subprocess_alive(self) -> None:
        try:
            super().keep_subprocess_alive()
        finally:
            self._close_handed()


def run(app: str, *, host: str, port: int, workers: int, reuse_port: bool, **options: Any) -> None:
    """uvicorn.run(app, ...), with a socket per worker when `reuse_port` and `workers` > 1."""
    if not reuse_port or workers < 2:
        uvicorn.run(app, host=host, port=port, workers=workers, **options)
        return
    config = Config(app, host=host, port=port, workers=workers, **options)
    SocketPerWorker(config).run()


def main(argv: list[str] | None = None) -> None:
    """`python -m webapp.serving APP --port P --workers N [--reuse-port]`: what the benchmarks serve
    (uvicorn's options there: no access log, warnings only)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--reuse-port", action="store_true")
    args = parser.parse_args(argv)
    run(args.app, host=args.host, port=args.port, workers=args.workers, reuse_port=args.reuse_port,
        access_log=False, log_level="warning")  # fmt: skip


if __name__ == "__main__":  # spawned workers import this module as __mp_main__: only the parent runs it
    main()
