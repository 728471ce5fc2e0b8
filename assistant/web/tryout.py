"""The photo try-out: an uploaded photo read in memory with the CLI's size and image-bomb checks, and
a detector of its own for photos, made on first use on the server's side, never the loop's."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from ..core import Detection, Frame
from ..runtime.loop import CANDIDATE_MAX_RESULTS
from ..sources.imaging import decode_image
from ..vision.detector import Detector

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a phone's photo fits; the header check stops a bomb of any size
MAX_PROFILE_FIELD_BYTES = 256 * 1024
PHOTO_SCORE_FLOOR = 0.05  # every class down to this, so any edited profile is judged from one pass


class UploadError(ValueError):
    """An upload refused, in one sentence, with its HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class _InMemory(MultiPartParser):
    """Starlette's multipart parser with every part held in memory (nothing spooled to disk)."""

    spool_max_size = MAX_UPLOAD_BYTES + 1


async def read_upload(request: Request) -> tuple[bytes, str | None]:
    """The photo's bytes and the optional `profile` field (JSON text) of a multipart request."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_UPLOAD_BYTES + MAX_PROFILE_FIELD_BYTES):
        raise UploadError(f"The photo is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.", 413)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UploadError("Send the photo as a form upload (multipart/form-data) in a field named photo.", 415)

    async def capped():
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > MAX_UPLOAD_BYTES + MAX_PROFILE_FIELD_BYTES:
                raise UploadError(f"The photo is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.", 413)
            yield chunk

    parser = _InMemory(request.headers, capped(), max_files=1, max_fields=2, max_part_size=MAX_PROFILE_FIELD_BYTES)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise UploadError(f"The upload could not be read: {exc.message}") from None
    try:
        photo, profile = form.get("photo"), form.get("profile")
        if not isinstance(photo, UploadFile):
            raise UploadError("Choose a photo to upload (the form has no photo).")
        data = await photo.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise UploadError(f"The photo is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.", 413)
        if not data:
            raise UploadError("The photo is empty.")
        return data, profile if isinstance(profile, str) else None
    finally:
        await form.close()


class PhotoDetector:
    """Detection for uploaded photos: an IMAGE-mode detector of every class down to a low score, so
    any edited profile is judged from one pass. Each photo gets a detector of its own, made and
    closed on the request's worker thread (never the loop's); MediaPipe's graph is never left for
    the garbage collector, whose close of it can hang. The lock keeps to one photo at a time."""

    def __init__(self, model_path: Path):
        self.model_path = model_path
        self._lock = threading.Lock()

    def detect(self, data: bytes, name: str) -> tuple[Frame, tuple[Detection, ...], float]:
        """The photo as a frame, everything the detector sees in it, and how long detection took (ms);
        SourceError for a photo that is too large or not an image."""
        frame = Frame(decode_image(data, name), timestamp_ms=0, index=0, still=True, name=name)
        with self._lock, Detector(self.model_path, video=False, score_threshold=PHOTO_SCORE_FLOOR,
                                  max_results=CANDIDATE_MAX_RESULTS) as detector:
            start = time.perf_counter()
            detections = detector.detect(frame)
        return frame, detections, (time.perf_counter() - start) * 1000
