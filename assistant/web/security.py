"""Who may use the page: sessions and their CSRF tokens, pairing beyond loopback, the Origin and Host
checks, a limit on every request's body, and the security headers on every response."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .pairing import CODE_TTL_S, Pairing, spoken
from .server import is_loopback

COOKIE = "assistant_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_BODY_BYTES = 21 * 1024 * 1024  # the photo try-out's 20 MB photo and its form; each route has its own, lower limit
MAX_SESSIONS = 64  # the oldest is forgotten beyond this: no one can fill the memory with sessions
PAIRING_PATHS = ("/api/pair", "/api/pair/new")  # the only changes a browser may ask for before it has a session
PUBLIC_PATHS = ("/pair", "/api/session", *PAIRING_PATHS)  # reachable before pairing
PAIR_PAGE = Path(__file__).resolve().parent / "static" / "pair.html"
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                                 b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def _refuse(status: int, sentence: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": sentence}, status_code=status, headers=headers)


class Guard:
    """Sessions and their CSRF tokens. On loopback a session is given to whoever asks (from this
    machine: the Host header must name loopback, against DNS rebinding); with `pairing`, only to a
    browser that typed the code `say` spoke aloud and `note` printed."""

    def __init__(self, pairing: bool = False, say: Callable[[str], None] = lambda text: None,
                 note: Callable[[str], None] = lambda text: None, clock: Callable[[], float] = time.monotonic,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.pairing = Pairing() if pairing else None
        self.max_body_bytes = max_body_bytes
        self._say, self._note, self._clock = say, note, clock
        self._sessions: dict[str, str] = {}  # session id -> its CSRF token

    def routes(self) -> list[BaseRoute]:
        return [Route("/api/session", self._session, methods=["GET"]),
                Route("/api/pair", self._pair, methods=["POST"]),
                Route("/api/pair/new", self._new_code, methods=["POST"]),
                Route("/pair", self._pair_page, methods=["GET"])]

    def announce(self) -> None:
        """With pairing, make a new code, say it digit by digit and print it."""
        if self.pairing is None:
            return
        code = self.pairing.new_code(self._clock())
        self._say(f"Pairing code for the caregiver's page: {spoken(code)}.")
        self._note(f"Pairing code for the caregiver's page: {code} (for {CODE_TTL_S / 60:.0f} minutes).")

    def session_of(self, request: HTTPConnection) -> str | None:
        """The CSRF token of the request's session, None without one."""
        return self._sessions.get(request.cookies.get(COOKIE, ""))

    def _open_session(self, request: Request) -> JSONResponse:
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = secrets.token_urlsafe(32)
        while len(self._sessions) > MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        response = JSONResponse({"csrf": self._sessions[sid]})
        response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                            path="/")
        return response

    async def _session(self, request: Request) -> Response:
        token = self.session_of(request)
        if token is not None:
            return JSONResponse({"csrf": token})
        if self.pairing is not None:
            return _refuse(401, "Pair this browser first: type the code the assistant says.")
        return self._open_session(request)

    async def _pair(self, request: Request) -> Response:
        if self.pairing is None:
            return self._open_session(request)  # nothing to pair on loopback
        try:
            code = (await request.json()).get("code")
        except (ValueError, AttributeError):
            code = None
        if not isinstance(code, str) or not code.strip().isdigit():
            return _refuse(400, "Type the code's digits.")
        attempt = self.pairing.attempt(code, self._clock())
        if attempt.paired:
            return self._open_session(request)
        headers = {"Retry-After": str(attempt.retry_after_s)} if attempt.retry_after_s else None
        return _refuse(attempt.status, attempt.error, headers)

    async def _new_code(self, request: Request) -> Response:
        if self.pairing is None:
            return _refuse(404, "This page needs no pairing: it is only reachable from this machine.")
        wait = self.pairing.new_code_wait(self._clock())
        if wait:
            return _refuse(429, f"A code was just said: wait {wait} seconds before asking for another.",
                           {"Retry-After": str(wait)})
        self.announce()
        return JSONResponse({"said": True})

    async def _pair_page(self, request: Request) -> Response:
        if self.pairing is None or self.session_of(request) is not None:
            return RedirectResponse("/", status_code=303)
        return FileResponse(PAIR_PAGE, media_type="text/html")

    def allows(self, request: Request) -> Response | None:
        """None if the request may go on, else the refusal."""
        path = request.url.path
        if self.pairing is None and not _loopback_host(request):
            return _refuse(403, "This page answers only at this machine's own address.")
        if request.method in SAFE_METHODS:
            if self.pairing is None or path in PUBLIC_PATHS or path.startswith("/static/"):
                return None
            if self.session_of(request) is not None:
                return None
            if path.startswith("/api/"):
                return _refuse(401, "Pair this browser first: type the code the assistant says.")
            return RedirectResponse("/pair", status_code=303)
        if not _same_origin(request):
            return _refuse(403, "This request came from another site.")
        if path in PAIRING_PATHS:  # no session yet: a JSON body needs a CORS preflight from any other site
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return _refuse(415, "Send the code as JSON.")
            return None
        token = self.session_of(request)
        if token is None:
            return _refuse(401, "Open the page first: this request has no session.")
        if not secrets.compare_digest(request.headers.get(CSRF_HEADER, "").encode(), token.encode()):
            return _refuse(403, "This request did not come from the page.")
        return None

    def allows_socket(self, connection: HTTPConnection) -> bool:
        """A WebSocket carries no CSRF token: it needs this machine's host name on loopback, a
        same-origin Origin (which browsers always send), and a session."""
        return ((self.pairing is not None or _loopback_host(connection)) and _same_origin(connection)
                and connection.headers.get("origin") is not None and self.session_of(connection) is not None)


def _loopback_host(request: HTTPConnection) -> bool:
    """True if the Host header names loopback; a page at another name that resolves here is refused."""
    host = request.headers.get("host", "")
    name = host[1:].partition("]")[0] if host.startswith("[") else host.rpartition(":")[0] if ":" in host else host
    return is_loopback(name)


def _same_origin(request: HTTPConnection) -> bool:
    """True unless an Origin header names another origin than the one the request was sent to."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    scheme = {"ws": "http", "wss": "https"}.get(request.url.scheme, request.url.scheme)
    return origin.lower() == f"{scheme}://{request.headers.get('host', '')}".lower()


class BodyTooLarge(Exception):
    """A streamed request body ran past the limit."""


class GuardMiddleware:
    """Asks the guard about every HTTP request before it reaches a route, limits its body, and adds
    the security headers to every response."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if not self.guard.allows_socket(HTTPConnection(scope)):
                await send({"type": "websocket.close", "code": 1008})  # policy violation
                return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asset = scope["path"].startswith("/static/")  # the same for everyone; the rest depends on the session
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
                if not asset and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        limit = self.guard.max_body_bytes
        too_large = _refuse(413, f"The request is too large: at most {limit // (1024 * 1024)} MB.")
        request = Request(scope)
        length = request.headers.get("content-length", "0")
        if not length.isdigit():
            await _refuse(400, "The request's length is not a number.")(scope, receive, send_with_headers)
            return
        if int(length) > limit:
            await too_large(scope, receive, send_with_headers)
            return
        refusal = self.guard.allows(request)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send_with_headers)
        except BodyTooLarge:
            if not started:
                await too_large(scope, receive, send_with_headers)
