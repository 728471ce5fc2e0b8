"""The profile editor's and the photo try-out's pages and API. Profiles are named, never given by
path; the blocking work (validation, synthesis, detection, encoding) runs in the thread pool."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..config import models
from ..config.profile import Profile
from ..config.profile_files import ProfileProblems
from ..config.rules import Rules
from ..errors import SourceError
from ..language import catalog as language
from .context import WebContext
from .preview import Spoken, debug_jpeg, verdict
from .profiles import ProfileStore, StoreError
from .tryout import PhotoDetector, UploadError, read_upload

STATIC = Path(__file__).resolve().parent / "static"
MAX_JSON_BYTES = 256 * 1024
NO_LIVE = "No camera is running here, so there is no current frame; try a photo instead."


class BadRequest(ValueError):
    """A request body the editor cannot use, in one sentence."""


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def problems_json(name: str, exc: ProfileProblems) -> dict:
    """`profiles check`'s problems, each at its key path, worded as the command words them."""
    return {"error": f"The profile {name} has {len(exc.problems)} problem(s); nothing was saved.",
            "problems": [{"loc": [str(part) for part in p.loc], "path": p.path, "message": p.message,
                          "text": str(replace(p, file=Path(name), line=None))} for p in exc.problems]}


async def json_body(request: Request) -> dict:
    """The request's JSON object, at most MAX_JSON_BYTES."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise BadRequest(f"The request is larger than {MAX_JSON_BYTES // 1024} KB.")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request is not JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request must be a JSON object.")
    return data


def document_of(data: Any) -> dict:
    """The edited profile in a request: `{"document": {...}}`."""
    document = data.get("document") if isinstance(data, dict) else None
    if not isinstance(document, dict):
        raise BadRequest("The request has no profile document (a JSON object under \"document\").")
    return document


class Editor:
    """The editor's state: the profile store, the photo detector, and the sentences kept for Play."""

    def __init__(self, ctx: WebContext):
        self.ctx = ctx
        self.store = ProfileStore(ctx.profile_spec, ctx.labels)
        self.photos = PhotoDetector(ctx.model_path)
        self.spoken = Spoken()

    def routes(self) -> list[BaseRoute]:
        guarded = self._guarded
        return [
            Route("/profile", lambda request: FileResponse(STATIC / "profile.html"), methods=["GET"]),
            Route("/try", lambda request: FileResponse(STATIC / "try.html"), methods=["GET"]),
            Route("/api/schema", self.schema, methods=["GET"]),
            Route("/api/classes", guarded(self.classes), methods=["GET"]),
            Route("/api/profiles", guarded(self.listing), methods=["GET"]),
            Route("/api/profiles/{name}", guarded(self.read), methods=["GET"]),
            Route("/api/profiles/{name}", guarded(self.save), methods=["PUT"]),
            Route("/api/profiles/{name}/check", guarded(self.check), methods=["POST"]),
            Route("/api/profiles/{name}/undo", guarded(self.undo), methods=["POST"]),
            Route("/api/preview", guarded(self.preview), methods=["POST"]),
            Route("/api/speak", guarded(self.speak), methods=["POST"]),
            Route("/api/try", guarded(self.try_photo), methods=["POST"]),
        ]

    @staticmethod
    def _guarded(endpoint):
        """Every refusal as one sentence in JSON, never a traceback."""
        async def wrapped(request: Request) -> Response:
            try:
                return await endpoint(request)
            except StoreError as exc:
                return error(str(exc), exc.status)
            except UploadError as exc:
                return error(str(exc), exc.status)
            except BadRequest as exc:
                return error(str(exc), 400)
            except SourceError as exc:
                return error(str(exc), 422)
        return wrapped

    async def schema(self, request: Request) -> Response:
        """The profile's JSON schema, from pydantic; the languages it validates against are added as an enum."""
        schema = Profile.model_json_schema()
        schema["properties"]["language"]["enum"] = list(language.available())
        return JSONResponse(schema)

    async def classes(self, request: Request) -> Response:
        """The model's classes, each with its name in `?language=` (the profile's language)."""
        code = request.query_params.get("language", language.ENGLISH)
        if code not in language.available():
            return error(f"There is no language {code!r}; there are: {', '.join(language.available())}.", 400)
        lang = language.load(code)
        labels = sorted(models.classes(self.ctx.labels))
        return JSONResponse({"language": code, "classes": sorted(
            ({"label": label, "name": lang.noun(label).form("one")} for label in labels),
            key=lambda c: c["name"].casefold())})

    async def listing(self, request: Request) -> Response:
        entries = await run_in_threadpool(self.store.entries)
        return JSONResponse({"profiles": [e.to_json() for e in entries], "current": self.store.current,
                             "live": self.ctx.live is not None})

    async def read(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.store.read, request.path_params["name"]))

    async def check(self, request: Request) -> Response:
        name, document = request.path_params["name"], document_of(await json_body(request))
        try:
            await run_in_threadpool(self.store.check, name, document)
        except ProfileProblems as exc:
            return JSONResponse({"ok": False, **problems_json(name, exc)})
        return JSONResponse({"ok": True, "problems": []})

    async def save(self, request: Request) -> Response:
        name, document = request.path_params["name"], document_of(await json_body(request))
        try:
            entry = await run_in_threadpool(self.store.save, name, document)
        except ProfileProblems as exc:
            return JSONResponse(problems_json(name, exc), status_code=422)
        return JSONResponse({"saved": entry.name, **entry.to_json()})

    async def undo(self, request: Request) -> Response:
        await run_in_threadpool(self.store.undo, request.path_params["name"])
        return JSONResponse({"undone": request.path_params["name"]})

    def _rules(self, data: Any) -> Rules:
        """Rules from the edited (unsaved) profile in a request, under the run's calibration."""
        name = data.get("name") if isinstance(data, dict) else None
        if not isinstance(name, str):
            raise BadRequest("The request has no profile name.")
        return Rules(self.store.check(name, document_of(data)), self.ctx.calibration)

    async def preview(self, request: Request) -> Response:
        """What the edited profile would say about the live view's current frame."""
        data = await json_body(request)
        if self.ctx.live is None:
            return error(NO_LIVE, 409)
        report = self.ctx.live.latest()
        if report is None:
            return error("The camera has not given a frame yet; try again in a moment.", 409)

        def work() -> dict:
            found = verdict(report.frame, report.detections, self._rules(data))
            return found.to_json(self.spoken.keep(found))
        try:
            return JSONResponse(await run_in_threadpool(work))
        except ProfileProblems as exc:
            return JSONResponse(problems_json(str(data.get("name")), exc), status_code=422)

    async def speak(self, request: Request) -> Response:
        """The previewed sentence as a stereo WAV in the profile's voice."""
        key = (await json_body(request)).get("speech")
        if not isinstance(key, str):
            raise BadRequest("Say which sentence to play (\"speech\" from a preview or a photo).")
        try:
            wav = await run_in_threadpool(self.spoken.wav, key)
        except (RuntimeError, OSError) as exc:
            return error(f"The voice could not be made: {exc}.", 503)
        if wav is None:
            return error("That sentence is no longer kept; preview it again.", 404)
        return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    async def try_photo(self, request: Request) -> Response:
        """A photo judged under the edited profile (or the run's), in memory: nothing is stored."""
        data, profile_text = await read_upload(request)
        try:
            chosen = json.loads(profile_text) if profile_text else None
        except ValueError:
            raise BadRequest("The profile field is not JSON.") from None

        def work() -> dict:
            rules = (self._rules(chosen) if chosen is not None
                     else Rules(self.store.check(self.store.current, self.store.read(self.store.current)["document"]),
                                self.ctx.calibration))
            frame, detections, detect_ms = self.photos.detect(data, "the photo")
            found = verdict(frame, detections, rules)
            return {**found.to_json(self.spoken.keep(found)), "image": debug_jpeg(found, detect_ms),
                    "width": frame.width, "height": frame.height, "detect_ms": round(detect_ms, 1)}
        try:
            return JSONResponse(await run_in_threadpool(work))
        except ProfileProblems as exc:
            return JSONResponse(problems_json(str((chosen or {}).get("name")), exc), status_code=422)


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The editor's pages and API."""
    return Editor(ctx).routes()
