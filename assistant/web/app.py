"""The page's ASGI application: the guard's routes and check, the live view's and the editor's
routes, and the static assets, all shipped in the package."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from . import editor_routes, live_routes
from .context import WebContext
from .security import Guard, GuardMiddleware

STATIC = Path(__file__).resolve().parent / "static"


def create_app(ctx: WebContext, guard: Guard) -> Starlette:
    """The whole page for `ctx`, every request checked by `guard`."""
    routes = [*guard.routes(), *live_routes.routes(ctx), *editor_routes.routes(ctx),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    return Starlette(routes=routes, middleware=[Middleware(GuardMiddleware, guard=guard)])
