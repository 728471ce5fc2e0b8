"""The page's HTTP server: uvicorn on a daemon thread of its own, beside the loop, on a socket bound
here first so that a busy port or a bad address is one sentence before anything is served."""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl
import threading
import time
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from ..errors import AssistantError

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080
START_TIMEOUT_S = 10.0


def parse_address(text: str) -> tuple[str, int]:
    """`[HOST:]PORT` as (host, port): `8080`, `0.0.0.0:8080`, `[::1]:8080`; the host defaults to loopback."""
    spec = text.strip()
    host, sep, port_text = spec.rpartition(":")
    if not sep:
        host, port_text = DEFAULT_HOST, spec
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:  # a bare IPv6 address has colons of its own
        raise AssistantError(f"--web {spec!r}: write an IPv6 address in brackets, as [::1]:8080.")
    if not host or any(c.isspace() for c in host) or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise AssistantError(f"--web {spec!r} is not [HOST:]PORT with a port from 0 to 65535, such as 8080 "
                             "or 0.0.0.0:8080.")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: only this machine can reach the page."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket at host:port, or AssistantError in one sentence."""
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError):
        raise AssistantError(f"Cannot serve the page at {where}: no such host name or address.") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AssistantError(f"Cannot serve the page at {where}: the port is in use; choose another with "
                                 "--web.") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise AssistantError(f"Cannot serve the page at {where}: this machine has no such address.") from None
        if exc.errno == errno.EACCES:
            raise AssistantError(f"Cannot serve the page at {where}: a port under 1024 needs administrator "
                                 "rights; choose a higher one.") from None
        raise AssistantError(f"Cannot serve the page at {where}: {exc.strerror or exc}.") from None
    return sock


def _lan_address() -> str:
    """This machine's address on its network, for a URL to open from a phone (no packet is sent)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the route
        return probe.getsockname()[0]
    except OSError:
        return socket.gethostname()
    finally:
        probe.close()


class WebServer:
    """`app` served at host:port (port 0: a free one), over TLS with `certfile` and `keyfile`."""

    def __init__(self, app: ASGIApp, host: str, port: int, certfile: Path | None = None,
                 keyfile: Path | None = None) -> None:
        self.host, self.port = host, port
        self.tls = certfile is not None
        # "error": a malformed request from the network ("Invalid HTTP request received.") is not news
        # for the terminal, which a screen reader may be reading; ws "none": no route is a WebSocket.
        self._config = uvicorn.Config(app, log_level="error", access_log=False, log_config=None, ws="none",
                                      ssl_certfile=certfile, ssl_keyfile=keyfile, lifespan="off",
                                      server_header=False, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self) -> None:
        """Bind, load the certificate and serve; return once it is listening. AssistantError in one sentence."""
        try:
            self._config.load()
        except ssl.SSLError:
            raise AssistantError("Cannot serve the page over TLS: --web-cert and --web-key are not a PEM "
                                 "certificate and its private key.") from None
        except OSError as exc:
            raise AssistantError(f"Cannot serve the page over TLS: cannot read {exc.filename or 'the certificate'} "
                                 f"({exc.strerror or exc}).") from None
        self._socket = _bind(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise AssistantError(f"The page's server did not start at {self.url}.")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving and wait for the thread; open connections are closed."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    @property
    def url(self) -> str:
        """Where to open the page: this machine's network address when bound to every address."""
        host = _lan_address() if self.host in ("0.0.0.0", "::", "") else self.host
        shown = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{shown}:{self.port}/"
