"""MediaPipe's ObjectDetector behind a small interface. The only module that imports mediapipe."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


def _writable_folder(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)


def _matplotlib_home() -> None:
    """MediaPipe imports Matplotlib, which warns in three lines on every run when it cannot write
    its config or cache folder (a read-only HOME). Then, and only then, give it a temporary folder
    of its own, as Matplotlib would, but quietly; with MPLCONFIGDIR set or a writable HOME, nothing changes."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    home = Path.home()
    if sys.platform.startswith(("linux", "freebsd")):
        folders = [Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "matplotlib",
                   Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "matplotlib"]
    else:
        folders = [home / ".matplotlib"]
    if not all(_writable_folder(folder) for folder in folders):
        temporary = tempfile.mkdtemp(prefix="assistant-matplotlib-")
        atexit.register(shutil.rmtree, temporary, ignore_errors=True)
        os.environ["MPLCONFIGDIR"] = temporary


os.environ.setdefault("GLOG_minloglevel", "2")  # fewer MediaPipe C++ log lines
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_matplotlib_home()

import mediapipe as mp  # noqa: E402
from mediapipe.tasks.python import BaseOptions, vision  # noqa: E402

from ..config import models
from ..core import Box, Detection, Frame  # noqa: E402
from ..errors import ModelError  # noqa: E402
from ..process.run_context import native_stderr_silenced  # noqa: E402


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """What a detector is asked for: VIDEO or IMAGE mode, the lowest score it reports, at most how
    many boxes (best first), and the classes it reports (None: every class)."""

    video: bool
    score_threshold: float = 0.3
    max_results: int = 25
    labels: frozenset[str] | None = None


class FrameDetector(Protocol):
    """Anything that detects like `Detector`: the real model, or detections recorded from it."""

    def detect(self, frame: Frame) -> tuple[Detection, ...]: ...

    def close(self) -> None: ...


Detectors = Callable[[DetectorSettings], FrameDetector]  # a new detector for each settings asked for


def open_detector(model_path: Path, settings: DetectorSettings) -> Detector:
    """A real MediaPipe detector running this model with these settings."""
    return Detector(model_path, video=settings.video, score_threshold=settings.score_threshold,
                    max_results=settings.max_results, labels=settings.labels)


def category_options(model_labels: Iterable[str], wanted: Iterable[str] | None) -> dict[str, list[str] | None]:
    """MediaPipe's class options for a model with this label map: the wanted classes as an allowlist;
    with none wanted, the map's placeholders that name no class (`???`, Model Maker's `background`) as
    a denylist, so that MediaPipe skips them when it chooses each box's class. MediaPipe refuses both
    lists at once, and an allowlist leaves the placeholders out anyway."""
    if wanted:
        return {"category_allowlist": sorted(wanted), "category_denylist": None}
    placeholders = sorted(models.NOT_CLASSES & set(model_labels))
    return {"category_allowlist": None, "category_denylist": placeholders or None}


def mediapipe_detectors(model_path: Path) -> Detectors:
    """Real MediaPipe detectors running this model: what a run uses outside the tests."""
    return functools.partial(open_detector, model_path)


class Detector:
    """Detects objects in RGB frames. VIDEO mode for streams (monotonic ms timestamps), IMAGE mode for stills.

    Use it in `with`, so MediaPipe's graph is closed.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        video: bool,
        score_threshold: float = 0.3,
        max_results: int = 25,
        labels: Iterable[str] | None = None,
    ):
        self.video = video
        self._last_timestamp_ms = -1
        options = vision.ObjectDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            score_threshold=score_threshold,
            max_results=max_results,
            **category_options(models.labels(model_path), labels),
        )
        try:
            with native_stderr_silenced():
                self._detector = vision.ObjectDetector.create_from_options(options)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(
                f"MediaPipe cannot load {model_path} as an object detector (corrupt or not a detection model); "
                "run 'assistant models fetch' or pass --model with a good file."
            ) from exc

    def detect(self, frame: Frame) -> tuple[Detection, ...]:
        """Labelled detections in this frame, best first, with boxes in pixels."""
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame.image)
        if self.video:
            # MediaPipe needs strictly increasing timestamps; a camera can repeat one.
            timestamp_ms = max(frame.timestamp_ms, self._last_timestamp_ms + 1)
            self._last_timestamp_ms = timestamp_ms
            result = self._detector.detect_for_video(image, timestamp_ms)
        else:
            result = self._detector.detect(image)
        return tuple(_convert(result.detections, frame.width, frame.height))

    def close(self) -> None:
        self._detector.close()

    def __enter__(self) -> Detector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _convert(raw: list, width: int, height: int) -> Iterable[Detection]:
    for item in raw:
        if not item.categories:
            continue
        category = item.categories[0]
        label = category.category_name or ""
        if label in models.NOT_CLASSES:  # a placeholder MediaPipe still gave: never spoken
            continue
        bb = item.bounding_box
        box = Box(
            float(max(0, bb.origin_x)),
            float(max(0, bb.origin_y)),
            float(min(width, bb.origin_x + bb.width)),
            float(min(height, bb.origin_y + bb.height)),
        )
        if box.area > 0:
            yield Detection(label, float(category.score), box)
