"""Frame sources: a camera, a video file, a stream URL, or still images, each yielding `Frame`s."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2

from ..core import Frame
from ..errors import SourceError
from ..process.run_context import CaptureThreads
from .capture import OPEN_TIMEOUT_MS, Capture, open_device, open_file, open_url
from .imaging import IMAGE_SUFFIXES, cut_off_warning, images_in, read_image, to_rgb

FALLBACK_FPS = 25.0  # for files whose container gives no frame rate
IDLE_S = 0.1  # while no new frame comes, the loop still wakes this often
CUT_OFF_SHARE = 0.95  # a video that ends before this share of the frames its container lists is cut off
MAX_CAMERA_INDEX = 9999  # OpenCV adds a backend id to the index; beyond this it overflows
SAMPLE_SLACK_MS = 1e-6  # media times this close to a sampling instant count as on it


class Source:
    """An iterable of frames (or None: no new frame yet); use it in `with` so the device or file is released."""

    description = ""  # what the source is, for messages: "camera 0", "stream rtsp://..."
    still = False  # stills are described at once; streams are tracked
    live = False  # a camera or stream: it can be lost, and is watched for that
    in_order = False  # a file read every frame, as fast as the loop goes: its clock is the media's
    fps: float | None = None  # a file's own rate
    max_fps: float | None = None  # the frame-rate cap, set by the loop; it may change between frames
    dropped = 0  # frames the loop was too slow for
    capped = 0  # frames left out to keep under the cap
    skipped = 0  # unreadable images passed over
    arrived: tuple[int, float | None] = (0, None)  # a live source: frames read so far, and when the newest
    named = False  # a folder of photos: what is said about each frame names its file

    @property
    def one_at_a_time(self) -> bool:
        """Each sentence is said in full before the next frame: a file read in order, or stills."""
        return self.in_order or self.still

    def __iter__(self) -> Iterator[Frame | None]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ImageSource(Source):
    """One image file, or every image in a directory in name order. In a directory, an unreadable
    image is passed over with one line to `warn` and counted in `skipped`, so the rest are still described."""

    still = True

    def __init__(self, path: Path, warn: Callable[[str], None] = lambda message: None):
        self.warn = warn
        self.paths = images_in(path)
        self.named = path.is_dir()
        if not path.is_dir():
            read_image(path)  # fail now, before the model loads, if the only image is unreadable

    def __iter__(self) -> Iterator[Frame | None]:
        for index, path in enumerate(self.paths):
            try:
                image = read_image(path)
            except SourceError as exc:
                if len(self.paths) == 1:
                    raise
                self.warn(f"{exc} Skipped.")
                self.skipped += 1
                continue
            warning = cut_off_warning(path)
            if warning:
                self.warn(warning)
            yield Frame(image, timestamp_ms=index, index=index, still=True, name=str(path),
                        captured_s=time.monotonic())


class VideoFile(Source):
    """A video file read in order, stamped with its own media time: every frame, or under a cap,
    the first frame at or after each 1/max_fps seconds of media time. So a file sampled at 3 fps
    gives the same frames on any machine, as a device that detects 3 times a second would see."""

    in_order = True

    def __init__(self, path: Path | str, warn: Callable[[str], None] = lambda message: None, *,
                 opened: cv2.VideoCapture | None = None, description: str = ""):
        """`path`, or a file at a URL already `opened` and described as `description`. A file of one
        frame (a photo at a URL) is a still: described at once."""
        self.description = description or f"video {path}"
        self.warn = warn
        self.capture = opened if opened is not None else open_file(str(path), self.description)
        self.fps = file_fps(self.capture)
        self.listed = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)  # what the container says it holds
        self.still = self.listed == 1

    def __iter__(self) -> Iterator[Frame | None]:
        index, due_ms = 0, 0.0
        while True:
            media_ms = index * 1000 / self.fps
            wanted = self.max_fps is None or media_ms >= due_ms - SAMPLE_SLACK_MS
            ok, image = self.capture.read() if wanted else (self.capture.grab(), None)
            if not ok or (wanted and image is None):
                if index == 0:
                    raise SourceError(f"{self.description} has no readable frames (corrupt or unsupported video).")
                if index < self.listed * CUT_OFF_SHARE - 1:
                    self.warn(f"{self.description} looks cut off: it ended after {index} of the {self.listed} "
                              "frames it lists.")
                return
            if wanted:
                if self.max_fps is not None:
                    period_ms = 1000 / self.max_fps
                    due_ms = (math.floor((media_ms + SAMPLE_SLACK_MS) / period_ms) + 1) * period_ms
                yield Frame(to_rgb(image), timestamp_ms=round(media_ms), index=index, still=self.still,
                            name=self.description, captured_s=time.monotonic())
            else:
                self.capped += 1
            index += 1

    def close(self) -> None:
        self.capture.release()


class NewestFrameSource(Source):
    """A camera, a stream, or a file played at its own rate: a capture thread reads it, and each
    step of the loop gets the newest frame not yet seen, at most `max_fps` times a second. While
    no new frame is due it yields None every IDLE_S, so the loop can notice a lost camera, a key
    press or a stop."""

    def __init__(self, capture: Capture, *, live: bool):
        self.capture = capture
        self.live = live
        self.description = capture.description
        self._capped = 0  # frames that replaced each other while the cap held the loop back
        self._held: int | None = None  # the mailbox's drop count when the cap began to hold back

    def wait_open(self, stop: threading.Event) -> None:
        """Wait until the first open has succeeded or failed (SourceError), or `stop` is set."""
        while not self.capture.opened.wait(IDLE_S):
            if stop.is_set():
                return
        if self.capture.error is not None:
            raise self.capture.error

    @property
    def capped(self) -> int:
        holding = 0 if self._held is None else self.capture.frames.dropped - self._held
        return self._capped + holding

    @property
    def dropped(self) -> int:
        return self.capture.frames.dropped - self.capped

    @property
    def arrived(self) -> tuple[int, float | None]:
        """How many frames the capture thread has read, and when it read the newest."""
        return self.capture.arrived

    def __iter__(self) -> Iterator[Frame | None]:
        self.capture.play()
        mailbox = self.capture.frames
        due_s = 0.0
        while True:
            wait_s = due_s - time.monotonic()
            if wait_s > 0:  # under the cap: the frames that come meanwhile replace each other
                self._held = mailbox.dropped if self._held is None else self._held
                time.sleep(min(wait_s, IDLE_S))
                yield None
                continue
            if self._held is not None:
                self._capped, self._held = self.capped, None
            item = mailbox.take(IDLE_S)
            if item is not None:
                if self.max_fps is not None:
                    due_s = time.monotonic() + 1 / self.max_fps
                yield Frame(to_rgb(item.bgr), timestamp_ms=item.timestamp_ms, index=item.index,
                            name=self.description, captured_s=item.captured_s)
            elif mailbox.finished:
                if self.capture.error is not None:
                    raise self.capture.error
                return
            else:
                yield None

    def close(self) -> None:
        self.capture.stop()


def is_url(spec: str) -> bool:
    """Whether a --source is a stream or file URL (rtsp://, http://, udp://...) rather than a path."""
    return "://" in spec


def is_camera_index(spec: str) -> bool:
    """Whether a --source names a camera by number: ASCII digits only ("²" is a digit to Python, but
    no camera index; "-1" and " 1" are paths)."""
    return spec.isascii() and spec.isdigit()


def file_fps(capture: cv2.VideoCapture) -> float:
    """The container's frame rate, or FALLBACK_FPS when it gives none."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if fps and math.isfinite(fps) and 0 < fps < 1000 else FALLBACK_FPS


def open_source(
    spec: str | None,
    *,
    realtime: bool = False,
    stop: threading.Event | None = None,
    note: Callable[[str], None] = lambda message: None,
    warn: Callable[[str], None] = lambda message: None,
    threads: CaptureThreads | None = None,
    open_timeout_ms: int = OPEN_TIMEOUT_MS,
) -> Source:
    """Open what --source names: a camera index (default 0), a stream URL, a video, an image or a directory.

    Cameras and streams are read by a capture thread that keeps the newest frame; so is a video
    with `realtime`, at its own frame rate. Opening waits for the first answer (a stream's for
    `open_timeout_ms`), but returns as soon as `stop` is set. `note` hears "Connecting to ..." for streams;
    `warn` hears of images skipped, and of a camera not there yet: it is waited for as a lost one, so a
    service started before its USB camera enumerates does not fail (and restart for ever). Each capture
    thread is added to `threads`.
    """
    spec = "0" if spec is None else spec
    if not spec:  # as a path it would be the current folder
        raise SourceError("--source is empty; give a camera index, a video, an image, a directory or a stream URL.")
    waiting = ""  # what to say if the device is not there yet
    stop = stop or threading.Event()
    if is_camera_index(spec):
        index = int(spec)
        if index > MAX_CAMERA_INDEX:
            raise SourceError(f"No camera found at index {spec}; camera numbers are small (0, 1, 2, ...).")
        device = Capture(lambda: open_device(index), f"camera {spec}", retry_first=True, threads=threads)
        source = NewestFrameSource(device, live=True)
        waiting = (f"No camera found at index {spec} yet; waiting for it as for a lost camera "
                   "(--give-up-s limits the wait).")
    elif is_url(spec):
        note(f"Connecting to {spec}")
        description = f"stream {spec}"
        stream = Capture(lambda: open_url(spec, description, open_timeout_ms), description, hand_over_files=True,
                         threads=threads)
        source = NewestFrameSource(stream, live=True)
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            raise SourceError(f"{spec} does not exist; give a camera index, a video, an image, a directory or a stream URL.")
        if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
            return ImageSource(path, warn)
        if not realtime:
            return VideoFile(path, warn)
        description = f"video {path}"
        capture = open_file(str(path), description)  # handed to the capture thread, which releases it
        fps = file_fps(capture)
        source = NewestFrameSource(Capture(lambda: capture, description, pace_fps=fps, threads=threads), live=False)
        source.fps = fps
    try:
        source.wait_open(stop)
    except SourceError:
        source.close()
        raise
    if waiting and source.capture.missing is not None:
        warn(waiting)
    if isinstance(source, NewestFrameSource) and source.capture.file is not None:  # a finite file at a URL
        return VideoFile(spec, warn, opened=source.capture.file, description=source.description)
    return source
