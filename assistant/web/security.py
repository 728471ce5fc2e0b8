"""Who may use the page: sessions, the CSRF token and the Origin check (pairing is filled in next)."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "assistant_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class Guard:
    """Sessions and their CSRF tokens. On loopback a session is given to whoever asks."""

    def __init__(self) -> None:
        self._sessions: dict[str, str] = {}  # session id -> its CSRF token

    def routes(self) -> list[BaseRoute]:
        return [Route("/api/session", self._session, methods=["GET"])]

    async def _session(self, request: Request) -> Response:
        sid = request.cookies.get(COOKIE)
        if sid not in self._sessions:
            sid = secrets.token_urlsafe(32)
            self._sessions[sid] = secrets.token_urlsafe(32)
        response = JSONResponse({"csrf": self._sessions[sid]})
        response.set_cookie(COOKIE, sid, httponly=True, samesite="strict")
        return response

    def allows(self, scope: Scope) -> Response | None:
        """None if the request may go on, else the refusal."""
        request = Request(scope)
        if request.method in SAFE_METHODS:
            return None
        token = self._sessions.get(request.cookies.get(COOKIE, ""))
        if token is None:
            return JSONResponse({"error": "Open the page first: this request has no session."}, status_code=401)
        if not secrets.compare_digest(request.headers.get(CSRF_HEADER, ""), token):
            return JSONResponse({"error": "This request did not come from the page."}, status_code=403)
        return None


class GuardMiddleware:
    """Asks the guard about every HTTP request before it reaches a route."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.guard.allows(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
