"""A TCP proxy in front of PostgreSQL that loses the server's answer to one statement after the server
committed it: the connection is cut instead of forwarding that answer (what a dropped network, a
NAT timeout or a restarted pgbouncer does). Nothing is mocked: the statement really ran and committed,
and the client really sees its connection closed in the middle of the operation.

The statement is named by a piece of its text (`trigger`), read in the client's Parse message; the
proxy waits for a Bind of that prepared statement (asyncpg sends Bind/Execute/Sync, having prepared
it and perhaps introspected its types with other statements first). The answer cut is the one to that
Bind, ending with ReadyForQuery ('Z'): PostgreSQL sends it once Sync has ended the autocommitted
statement's implicit transaction, and its status byte "I" (idle, no transaction open) after a
DataRow says the statement ran and committed (`kinds`, `ready_status`). Connections must not use TLS
(the proxy reads both sides' messages)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType


class _Piped:
    def __init__(self, proxy: LosingProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = socket.create_connection(proxy.upstream)
        self.sent = b""  # the client's messages not read yet
        self.startup = True  # the first message (startup or SSL request) has no type byte
        self.statements: set[bytes] = set()  # prepared statements whose text holds the trigger
        self.triggered = False
        self.buffer = b""
        self.closed = False

    def start(self) -> None:
        threading.Thread(target=self._client_to_server, daemon=True).start()
        threading.Thread(target=self._server_to_client, daemon=True).start()

    def _client_to_server(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.client.recv(65536):
                if not self.triggered and self._executes_trigger(data) and self.proxy.claim():
                    if self.proxy.before_commit:  # the statement never reaches the server
                        self.proxy.cut_done()
                        self.close()
                        return
                    self.triggered = True
                    self.buffer = b""  # the server has answered everything before: a message boundary
                self.server.sendall(data)
        self.close()

    def _executes_trigger(self, data: bytes) -> bool:
        """True when `data` binds a statement prepared (Parse) with the trigger in its text."""
        self.sent += data
        bound = False
        while True:
            if self.startup:
                if len(self.sent) < 4:
                    return bound
                (length,) = struct.unpack("!I", self.sent[:4])
                if len(self.sent) < length:
                    return bound
                self.sent, self.startup = self.sent[length:], length == 8  # an SSL request: startup next
                continue
            if len(self.sent) < 5:
                return bound
            kind = self.sent[:1]
            (length,) = struct.unpack("!I", self.sent[1:5])
            if len(self.sent) < 1 + length:
                return bound
            body, self.sent = self.sent[5 : 1 + length], self.sent[1 + length :]
            if kind == b"P":  # Parse: statement name, query text, ...
                name, query = body.split(b"\0", 2)[:2]
                if self.proxy.trigger in query:
                    self.statements.add(name)
            elif kind == b"B":  # Bind: portal name, statement name, ...
                bound = bound or body.split(b"\0", 2)[1] in self.statements

    def _server_to_client(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.server.recv(65536):
                if self.triggered and self._answer_complete(data):
                    self.proxy.cut_done()
                    self.close()  # the committed statement's answer is never delivered
                    return
                self.client.sendall(data)
        self.close()

    def _answer_complete(self, data: bytes) -> bool:
        """True when `data` ends the bound statement's answer: its ReadyForQuery ('Z')."""
        self.buffer += data
        while len(self.buffer) >= 5:
            kind = self.buffer[:1]
            (length,) = struct.unpack("!I", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return False
            body, self.buffer = self.buffer[5 : 1 + length], self.buffer[1 + length :]
            self.proxy.kinds.append(kind.decode())
            if kind == b"Z":
                self.proxy.ready_status = body.decode()  # "I": no transaction open, it committed
                if self.proxy.until_idle and self.proxy.ready_status != "I":
                    continue  # the transaction goes on: this answer is delivered
                return True
        return False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for end in (self.client, self.server):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


class LosingProxy:
    """`with LosingProxy(port, ("127.0.0.1", 5432), trigger=b"...") as proxy:` clients connect to
    127.0.0.1:proxy.port (port 0: a free one the system picks, read back once bound); the first
    statement whose text holds `trigger` has its answer lost (`cuts` is 1 once that happened); every
    other byte is forwarded unchanged."""

    def __init__(
        self,
        port: int,
        upstream: tuple[str, int],
        *,
        trigger: bytes,
        before_commit: bool = False,
        until_idle: bool = False,
    ) -> None:
        self.port = port
        self.upstream = upstream
        self.trigger = trigger
        self.before_commit = before_commit  # cut when the client sends the Bind instead: never run
        # the statement runs in an explicit transaction: cut the answer that ends it (its COMMIT's,
        # ReadyForQuery "I") instead of the statement's own (ReadyForQuery "T")
        self.until_idle = until_idle
        self.cuts = 0
        self.kinds: list[str] = []  # the server's messages in the answer cut
        self.ready_status = ""  # its ReadyForQuery's transaction status
        self._armed = True
        self._lock = threading.Lock()
        self._cut = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._pipes: list[_Piped] = []

    def claim(self) -> bool:
        """The first connection to send the trigger takes the one cut."""
        with self._lock:
            armed, self._armed = self._armed, False
            return armed

    def cut_done(self) -> None:
        self.cuts += 1
        self._cut.set()

    def wait_cut(self, timeout: float) -> bool:
        return self._cut.wait(timeout)

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                piped = _Piped(self, client)
                self._pipes.append(piped)
                piped.start()

    def __enter__(self) -> LosingProxy:
        self._listener.bind(("127.0.0.1", self.port))
        self.port = self._listener.getsockname()[1]  # the one the system picked for port 0
        self._listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread, frees the port
        self._listener.close()
        for piped in self._pipes:
            piped.close()
