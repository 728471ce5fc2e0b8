"""Live capture: one thread owns cv2.VideoCapture, reads without pause, and keeps only the newest frame.

Used for cameras, stream URLs, and files paced at their own frame rate (--realtime). The loop
takes the newest frame it has not seen yet; the frames it was too slow for are dropped and
counted, so it always works on the world as it is now, never on a backlog.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import cv2
import numpy as np

from ..errors import SourceError
from ..process.run_context import CaptureThreads
from .imaging import opencv_path

OPEN_TIMEOUT_MS = 10_000  # a stream that has not answered by then is unreachable
READ_TIMEOUT_MS = 5_000  # a stream silent this long is reopened
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 5.0)  # waits between reopening attempts; the last repeats forever
JOIN_S = 0.5  # how long closing waits for the thread; one stuck in a driver call is left to finish alone
# FFmpeg's UDP reader ends the stream when its buffer overruns unless told otherwise: a run reading a
# stream sets this in its environment (RunContext.set_default_env), which FFmpeg reads at each open.
FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
FFMPEG_OPTIONS = "overrun_nonfatal;1"

T = TypeVar("T")


class NewestFrame(Generic[T]):
    """A one-slot mailbox between a producer that never waits and a consumer that may be slow.

    `put` replaces what is there (counting it in `dropped` if it was never taken); `take`
    returns the newest item not taken yet, so the consumer never sees an item twice or an old one.
    """

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._item: T | None = None
        self._closed = False
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._ready:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._ready.notify()

    def take(self, timeout_s: float) -> T | None:
        """The newest item not yet taken, waiting up to `timeout_s`; None if none came or it is closed and empty."""
        with self._ready:
            self._ready.wait_for(lambda: self._item is not None or self._closed, timeout_s)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        """No more items; a waiting `take` returns at once, after the last item is taken."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    @property
    def finished(self) -> bool:
        """Closed, and the last item taken."""
        with self._ready:
            return self._closed and self._item is None


@dataclass(frozen=True, slots=True)
class Captured:
    """One frame as the capture thread read it: BGR (converted only if the loop takes it), and when."""

    bgr: np.ndarray
    index: int
    timestamp_ms: int
    captured_s: float


Opener = Callable[[], cv2.VideoCapture]


def open_url(url: str, description: str, open_timeout_ms: int = OPEN_TIMEOUT_MS) -> cv2.VideoCapture:
    """A stream through FFmpeg, with open and read timeouts, so a dead host never hangs a read forever."""
    started = time.monotonic()
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, open_timeout_ms,
                                                     cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS])
    if capture.isOpened():
        return capture
    capture.release()
    if time.monotonic() - started >= open_timeout_ms / 1000 * 0.9:
        raise SourceError(f"Cannot open {description}: no answer within {open_timeout_ms / 1000:g} s; "
                          "check the address and that the camera is on and sending.")
    raise SourceError(f"Cannot open {description}: refused, not found, or a format OpenCV cannot read.")


def open_device(index: int) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(index)
    if capture.isOpened():
        return capture
    capture.release()
    raise SourceError(f"No camera found at index {index}; connect one, or pass --source with a video or image file.")


def open_file(path: str, description: str) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(opencv_path(path))
    if capture.isOpened():
        return capture
    capture.release()
    raise SourceError(f"Cannot open {description}: OpenCV cannot read it (missing, corrupt or unsupported).")


class Capture:
    """The capture thread. It opens with `opener`, then reads frames into `frames` until stopped.

    Live (`pace_fps` None): frames are stamped with the time they were read; when reading fails
    the device is released and reopened with backoff, for ever. Paced (`pace_fps` set): a file is
    played at that rate from the moment `play()` is called (the loop is ready), each frame handed
    over when its time comes, and `frames` closes at the end.
    A failure to open the first time is kept in `error`, and `opened` is set either way; with
    `retry_first` (a USB camera that enumerates after the service starts) it is kept in `missing`
    instead, and opening is retried as for a lost device. With `hand_over_files` (a URL), what
    opens as a finite file (its container lists its frames) is not read: it is left in `file`, for
    the caller to read in order as a file, and the thread ends.
    `arrived` is how many frames it has read so far, and when it read the newest. The thread is
    added to `threads`, the run's record of the capture threads it started.
    """

    def __init__(self, opener: Opener, description: str, *, pace_fps: float | None = None,
                 retry_first: bool = False, hand_over_files: bool = False, threads: CaptureThreads | None = None):
        self.frames: NewestFrame[Captured] = NewestFrame()
        self.opened = threading.Event()
        self.error: SourceError | None = None
        self.missing: SourceError | None = None
        self.file: cv2.VideoCapture | None = None
        self._retry_first = retry_first
        self._hand_over_files = hand_over_files
        self.description = description
        self.arrived: tuple[int, float | None] = (0, None)
        self._opener = opener
        self._pace_fps = pace_fps
        self._stop = threading.Event()
        self._playing = threading.Event()
        self.epoch_s = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        if threads is not None:
            threads.add(self._thread)
        self._thread.start()

    def play(self) -> None:
        """Start a paced file playing (a live source plays regardless: the world does not wait)."""
        self._playing.set()

    def stop(self) -> None:
        """Ask the thread to end, and wait for it briefly; it releases the device itself."""
        self._stop.set()
        self._playing.set()
        self.frames.close()
        self._thread.join(JOIN_S)

    def _run(self) -> None:
        try:
            capture = self._opener()
            if self._hand_over_files and capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0:
                self.file = capture
                return
        except SourceError as exc:
            if not self._retry_first:
                self.error = exc
                self.frames.close()
                return
            self.missing, capture = exc, None  # _stream reopens it with backoff, as a lost device
        finally:
            self.opened.set()
        try:
            if self._pace_fps:
                self._play(capture, self._pace_fps)
            else:
                self._stream(capture)
        finally:
            self.frames.close()

    def _stream(self, capture: cv2.VideoCapture | None) -> None:
        index = failures = 0
        while not self._stop.is_set():
            ok, bgr = capture.read() if capture is not None else (False, None)
            if ok and bgr is not None:
                now = time.monotonic()
                self.frames.put(Captured(bgr, index, round((now - self.epoch_s) * 1000), now))
                index += 1
                self.arrived = (index, now)
                failures = 0
                continue
            if capture is not None:
                capture.release()
                capture = None
            if self._stop.wait(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]):
                break
            failures += 1
            try:
                capture = self._opener()
            except SourceError:
                capture = None
        if capture is not None:
            capture.release()

    def _play(self, capture: cv2.VideoCapture, fps: float) -> None:
        try:
            while not self._playing.wait(0.1):
                if self._stop.is_set():
                    return
            start = time.monotonic()
            index = 0
            while True:
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    if index == 0:
                        self.error = SourceError(
                            f"{self.description} has no readable frames (corrupt or unsupported video).")
                    return
                if self._stop.wait(max(0.0, start + index / fps - time.monotonic())):
                    return
                now = time.monotonic()
                self.frames.put(Captured(bgr, index, round(index * 1000 / fps), now))
                index += 1
                self.arrived = (index, now)
        finally:
            capture.release()
