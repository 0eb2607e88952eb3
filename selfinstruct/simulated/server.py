"""HTTP plumbing of the simulated model: ``LoopbackServer`` serves the core on 127.0.0.1.

In-process use: ``with LoopbackServer(ServerOptions(seed=1)) as srv: srv.url`` (``model=loopback``
runs it so, see ``selfinstruct.llm.endpoint``); standalone: ``python -m selfinstruct.simulated``.
"""

from __future__ import annotations

import select
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from selfinstruct.simulated.core import Reply, _Core, _error, _json_bytes
from selfinstruct.simulated.batches import route as batch_route
from selfinstruct.simulated.finetuning import route
from selfinstruct.simulated.options import MODEL_ID, ServerOptions


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the core; every response carries Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "selfinstruct-loopback/1"
    timeout = 60  # idle keep-alive connections are closed after a minute
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the default per-request stderr log; --log covers it."""

    def _read_body(self) -> bytes:
        """The request body, by Content-Length or chunked (an upload from a stream may be chunked)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers, then the blank line
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _api(self, method: str) -> bool:
        """Serve a fine-tuning or batch API call (files, fine_tuning/jobs, batches); False when the path is not one."""
        found = route(method, self.path) or batch_route(method, self.path)
        if found is None:
            return False
        body = self._read_body() if method == "POST" else b""
        self._deliver(self.server.core.api(*found, self.path, body, self.headers))
        return True

    def _deliver(self, reply: Reply) -> None:
        """Wait the reply's delay (dropping the request if the server stops meanwhile), run its
        deferred operation if any, and send it."""
        core = self.server.core
        if reply.delay_s > 0 and core.stopping.wait(reply.delay_s):
            self.close_connection = True  # shutting down: drop the request
            return
        if reply.run is not None and reply.delay_s > 0 and self._client_gone():
            self.close_connection = True  # it timed out and left: its upload or job must not happen
            return
        self._send(reply.run() if reply.run is not None else reply)

    def _client_gone(self) -> bool:
        """True when the client closed the connection (a readable socket with nothing to read)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def do_GET(self) -> None:
        if self._api("GET"):
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        core = self.server.core
        if path in ("/v1/models", "/models"):
            data = [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "selfinstruct"}]
            self._send(Reply(200, _json_bytes({"object": "list", "data": data})))
        elif path == "/stats":
            self._send(Reply(200, _json_bytes(core.stats())))
        elif path in ("", "/health", "/v1"):
            self._send(Reply(200, _json_bytes({"ok": True, "model": MODEL_ID})))
        else:
            self._send(_error(404, f"No route for GET {path}", "invalid_request_error"))

    def do_DELETE(self) -> None:
        if not self._api("DELETE"):
            path = self.path.split("?", 1)[0].rstrip("/")
            self._send(_error(404, f"No route for DELETE {path}", "invalid_request_error"))

    def do_POST(self) -> None:
        if self._api("POST"):
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        body = self._read_body()
        core = self.server.core
        if path in ("/v1/chat/completions", "/chat/completions"):
            self._deliver(core.chat(body, self.headers))
        elif path == "/reset":
            core.reset()
            self._send(Reply(200, _json_bytes({"ok": True})))
        else:
            self._send(_error(404, f"No route for POST {path}", "invalid_request_error"))

    def _send(self, reply: Reply) -> None:
        """Write the reply; a client that already hung up is not an error."""
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The stdlib default backlog (5) drops bursts of concurrent connects, which
    # clients then see as resets or 1 s SYN-retry timeouts the test never asked for.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], core: _Core) -> None:
        self.core = core
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def close_connections(self) -> None:
        """Unblock handler threads parked on idle keep-alive sockets."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Disconnects are routine here (timeouts are simulated); stay quiet."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """The loopback server on a background thread; start() returns the base URL."""

    def __init__(self, options: ServerOptions | None = None) -> None:
        self.options = options or ServerOptions()
        self._core: _Core | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None

    def start(self) -> str:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._core = _Core(self.options)
        self._httpd = _HTTPServer((self.options.host, self.options.port), self._core)
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="loopback-llm-server", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers, close sockets and the log."""
        if self._httpd is None or self._core is None:
            return
        self._core.stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._core.close()
        self._httpd = self._thread = None

    def stats(self) -> dict[str, Any]:
        if self._core is None:
            raise RuntimeError("server not started")
        return self._core.stats()

    def reset(self) -> None:
        if self._core is not None:
            self._core.reset()

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
