"""The page served for tests: a WebContext on the real model, the app behind a real uvicorn on
127.0.0.1 at a free port, a clock to move by hand, and raw HTTP that no client library tidies up."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from assistant.config import models
from assistant.web.app import create_app
from assistant.web.context import WebContext
from assistant.web.security import Guard
from assistant.web.server import WebServer

from .conftest import MODEL


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def web_context() -> WebContext:
    """The page's context under `assistant web`: the default profile, the real model, no camera."""
    return WebContext(None, MODEL, models.labels(MODEL))


@contextmanager
def served(guard: Guard, ctx: WebContext | None = None, **tls: object) -> Iterator[WebServer]:
    """The whole app behind a real uvicorn on 127.0.0.1, at a free port, stopped afterwards."""
    server = WebServer(create_app(ctx or web_context(), guard), "127.0.0.1", 0, **tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def raw_request(port: int, target: bytes, method: bytes = b"GET", headers: dict[bytes, bytes] | None = None,
                body: bytes = b"") -> tuple[int, bytes]:
    """Send `target` byte for byte (no client normalises `../` away) and return the status and body."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1:%d" % port, b"Connection: close"]
    lines += [name + b": " + value for name, value in (headers or {}).items()]
    if body and b"Transfer-Encoding" not in (headers or {}):  # else `body` is already in chunks
        lines.append(b"Content-Length: %d" % len(body))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


def free_port() -> int:
    """A port free on 127.0.0.1 just now, for a server in another process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout_s: float = 60) -> None:
    """Until `process` serves on 127.0.0.1:`port`; fails with its stderr if it ends first."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert process.poll() is None, process.stderr.read() if process.stderr else process.returncode
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the page never came up"
            time.sleep(0.1)
