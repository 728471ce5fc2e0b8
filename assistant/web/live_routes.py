"""The live view's routes: the page, the newest debug view as a JPEG, the status with the sentences
said, and the buttons' commands. Under `assistant web` there is no camera: the API says so (409)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..runtime.controls import Command
from .context import WebContext

STATIC = Path(__file__).resolve().parent / "static"
NO_CAMERA = ("There is no camera in this mode ('assistant web'): to see what the assistant sees, start it with "
             "'assistant run --web PORT'. The Profile and Try a photo pages work here.")
COMMANDS = {"repeat": Command.REPEAT, "describe": Command.DESCRIBE, "pause": Command.PAUSE,
            "faster": Command.FASTER, "slower": Command.SLOWER}
MAX_COMMAND_BYTES = 1024
NO_STORE = {"Cache-Control": "no-store"}


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The live view's page and API."""

    def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=NO_STORE)

    def frame(request: Request) -> Response:
        if ctx.live is None:
            return _error(NO_CAMERA, 409)
        view = ctx.live.frame_jpeg()  # a sync route: drawn on a server worker thread, never the loop's
        if view is None:
            return Response(status_code=204, headers=NO_STORE)
        age_ms = (time.monotonic() - view.captured_s) * 1000
        return Response(view.jpeg, media_type="image/jpeg",
                        headers={**NO_STORE, "X-Frame-Index": str(view.index), "X-Frame-Age-Ms": f"{age_ms:.1f}"})

    def live(request: Request) -> Response:
        if ctx.live is None:
            return _error(NO_CAMERA, 409)
        after = request.query_params.get("after", "0")
        if not after.isdigit() or len(after) > 12:
            return _error("'after' must be a sentence number: a whole number, 0 or more.", 400)
        sentences = [s.to_json() for s in ctx.live.sentences(int(after))]
        return JSONResponse({"status": ctx.live.status(), "sentences": sentences}, headers=NO_STORE)

    async def command(request: Request) -> Response:
        if ctx.live is None or ctx.commands is None:
            return _error(NO_CAMERA, 409)
        body = await request.body()
        if len(body) > MAX_COMMAND_BYTES:
            return _error("The request is too long for a command.", 413)
        try:
            name = json.loads(body).get("command")
        except (ValueError, AttributeError):
            name = None
        if not isinstance(name, str) or name not in COMMANDS:
            return _error(f"Send one command: {', '.join(COMMANDS)}.", 400)
        ctx.commands.put(COMMANDS[name])
        return JSONResponse({"command": name, "done": COMMANDS[name].value})

    return [Route("/", page, methods=["GET"]), Route("/api/frame.jpg", frame, methods=["GET"]),
            Route("/api/live", live, methods=["GET"]), Route("/api/command", command, methods=["POST"])]


def _error(sentence: str, status: int) -> JSONResponse:
    return JSONResponse({"error": sentence}, status_code=status, headers=NO_STORE)
