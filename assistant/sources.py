"""Frame sources: a camera, a video file, a stream URL, or still images, each yielding `Frame`s."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import cv2

from .core import Frame
from .errors import SourceError
from .imaging import IMAGE_SUFFIXES, read_image, to_rgb

CAMERA_RETRIES = 3  # reopen attempts after a camera stops giving frames
FALLBACK_FPS = 25.0  # for files whose container gives no frame rate


class Source:
    """An iterable of frames; use it in `with` so the device or file is released."""

    still = False  # stills are described at once; streams are tracked
    fps: float | None = None  # the file's own rate, for --realtime pacing

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ImageSource(Source):
    """One image file, or every image in a directory in name order."""

    still = True

    def __init__(self, path: Path):
        if path.is_dir():
            self.paths = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.paths:
                raise SourceError(f"Directory {path} has no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        else:
            self.paths = [path]
            read_image(path)  # fail now, before the model loads, if the only image is unreadable

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            yield Frame(read_image(path), timestamp_ms=index, index=index, still=True, name=str(path))


class CaptureSource(Source):
    """A video file, camera or stream opened with cv2.VideoCapture."""

    def __init__(self, target: int | str, description: str, is_file: bool):
        self.target = target
        self.description = description
        self.is_file = is_file
        self.capture = self._open()
        if is_file:
            fps = self.capture.get(cv2.CAP_PROP_FPS)
            self.fps = fps if fps and math.isfinite(fps) and 0 < fps < 1000 else FALLBACK_FPS

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(self.target)
        if not capture.isOpened():
            capture.release()
            if isinstance(self.target, int):
                raise SourceError(
                    f"No camera found at index {self.target}; connect one, or pass --source with a video or image file."
                )
            raise SourceError(f"Cannot open {self.description}: OpenCV cannot read it (missing, corrupt or unsupported).")
        return capture

    def __iter__(self) -> Iterator[Frame]:
        start = time.monotonic()
        index = 0
        retries = 0
        while True:
            ok, image = self.capture.read()
            if not ok or image is None:
                if self.is_file:
                    if index == 0:
                        raise SourceError(f"{self.description} has no readable frames (corrupt or unsupported video).")
                    return
                if retries >= CAMERA_RETRIES:
                    raise SourceError(f"{self.description} stopped sending frames; check the cable or connection.")
                retries += 1
                self.capture.release()
                time.sleep(0.5 * retries)
                self.capture = cv2.VideoCapture(self.target)
                continue
            retries = 0
            if self.is_file:
                timestamp_ms = round(index * 1000 / self.fps)
            else:
                timestamp_ms = round((time.monotonic() - start) * 1000)
            yield Frame(to_rgb(image), timestamp_ms=timestamp_ms, index=index, name=self.description)
            index += 1

    def close(self) -> None:
        self.capture.release()


def open_source(spec: str | None) -> Source:
    """Open what --source names: a camera index (default 0), a stream URL, a video, an image or a directory."""
    spec = "0" if spec is None else spec
    if spec.isdigit():
        return CaptureSource(int(spec), f"camera {spec}", is_file=False)
    if "://" in spec:
        return CaptureSource(spec, f"stream {spec}", is_file=False)
    path = Path(spec).expanduser()
    if not path.exists():
        raise SourceError(f"{spec} does not exist; give a camera index, a video, an image, a directory or a stream URL.")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    return CaptureSource(str(path), f"video {path}", is_file=True)
