"""The live view's routes (filled in by the live view's work)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .context import WebContext


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The live view's page and API."""
    return []
