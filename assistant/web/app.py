"""The page's ASGI application: the guard's routes and check, the live view's and the editor's
routes, and the static assets, all shipped in the package. Every error is a JSON sentence."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from . import editor_routes, live_routes
from .context import WebContext
from .security import Guard, GuardMiddleware

STATIC = Path(__file__).resolve().parent / "static"
SENTENCES = {404: "There is nothing at this address.", 405: "This address does not take that kind of request."}


def create_app(ctx: WebContext, guard: Guard) -> Starlette:
    """The whole page for `ctx`, every request checked by `guard`."""
    routes = [*guard.routes(), *live_routes.routes(ctx), *editor_routes.routes(ctx),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    return Starlette(routes=routes, middleware=[Middleware(GuardMiddleware, guard=guard)],
                     exception_handlers={HTTPException: _http_error, Exception: _failure})


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """A route's HTTPException as {"error": sentence}: its own detail, else a sentence for the status."""
    plain = exc.detail == HTTPStatus(exc.status_code).phrase
    sentence = SENTENCES.get(exc.status_code, exc.detail) if plain else exc.detail
    return JSONResponse({"error": sentence}, status_code=exc.status_code, headers=exc.headers)


async def _failure(request: Request, exc: Exception) -> Response:
    """An unexpected failure: one sentence for the page; the traceback goes to the log, not to the browser."""
    return JSONResponse({"error": "The assistant could not answer this request."}, status_code=500)
