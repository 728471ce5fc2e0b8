"""The profile editor's and the photo try-out's routes (filled in by the editor's work)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .context import WebContext


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The editor's pages and API."""
    return []
