"""What the running assistant sees and says, kept for the page: the newest `FrameReport`, the
sentences as they were said, and the debug view of the newest frame as a JPEG.

Threads: `observe` runs on the loop's thread for every frame and only stores a reference and
counts; `heard` runs on the speech thread; everything else runs on the server's threads, which
draw and encode the debug view there, at most `max_jpeg_fps` times a second and at most once
per frame however many pages are watching. The heatmap is fed only the frames drawn; it fades
by media time, so it looks as the debug window's does, a little coarser.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

import cv2

from ..config.calibration import UNCALIBRATED, Calibration
from ..config.rules import Rules
from ..core import PRIORITY_NAMES
from ..runtime.frame_report import FrameReport
from ..speech.speaker import Spoken
from ..view.draw import Heatmap
from ..view.viewer import SpokenGlow, report_view

MAX_SENTENCES = 200  # the log the page can catch up from
FPS_WINDOW = 30  # frames whose arrival times give the fps
JPEG_QUALITY = 75
MAX_JPEG_FPS = 5.0


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence as it was said: `seq` counts from 1; `time_s` is the wall clock (Unix seconds)."""

    seq: int
    time_s: float
    kind: str
    priority: int
    text: str
    language: str

    def to_json(self) -> dict:
        return {"seq": self.seq, "time": self.time_s, "kind": self.kind, "priority": self.priority,
                "priority_name": PRIORITY_NAMES[self.priority], "text": self.text, "language": self.language}


@dataclass(frozen=True, slots=True)
class View:
    """One encoded debug view: the JPEG, the frame's index and when it was captured (monotonic seconds)."""

    jpeg: bytes
    index: int
    captured_s: float


class LiveFeed:
    """The running assistant, as the page sees it.

    `rules`: the run's rules at the start (a report's own rules replace them). `model` and
    `calibration`: one line each, for the status. `queued`: how many sentences wait to be said.
    `live`: the source is a camera or stream, said to be lost when no frame has come for the
    profile's camera_timeout_s (a file read in order may wait that long for its voice, and is not).
    `clock`: monotonic seconds (a test passes its own).
    """

    def __init__(self, rules: Rules, model: str, calibration: str, *, queued: Callable[[], int] = lambda: 0,
                 live: bool = True, max_jpeg_fps: float = MAX_JPEG_FPS, half_life_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.model, self.calibration = model, calibration
        self.queued, self.live, self.max_jpeg_fps, self.clock = queued, live, max_jpeg_fps, clock
        self._rules = rules
        self._lock = threading.Lock()
        self._latest: FrameReport | None = None
        self._observed_s: float | None = None
        self._arrivals: deque[float] = deque(maxlen=FPS_WINDOW)
        self._glow = SpokenGlow()  # noted on every frame, read only when one is drawn
        self.frames = 0
        self._sentences: deque[Sentence] = deque(maxlen=MAX_SENTENCES)
        self._said = 0
        self._render_lock = threading.Lock()  # one drawing at a time; the others wait and share it
        self._view: View | None = None
        self._view_report: FrameReport | None = None
        self._encoded_s = float("-inf")
        self._heat = Heatmap(half_life_s)
        self.encodes = 0

    # The loop's thread.

    def observe(self, report: FrameReport) -> None:
        """Keep the newest report: a reference and a count, nothing drawn here."""
        now = self.clock()
        with self._lock:
            self._latest = report
            self._observed_s = now
            self._arrivals.append(now)
            self.frames += 1
            self._glow.note(report)

    # The speech thread.

    def heard(self, spoken: Spoken) -> None:
        """Log a sentence as it was said."""
        u = spoken.utterance
        with self._lock:
            self._said += 1
            self._sentences.append(Sentence(self._said, time.time(), u.kind, u.priority, u.text, u.language))

    # Any thread.

    def latest(self) -> FrameReport | None:
        with self._lock:
            return self._latest

    def sentences(self, after: int = 0) -> list[Sentence]:
        """The sentences said after sequence number `after` that are still in the log, oldest first."""
        with self._lock:
            return [s for s in self._sentences if s.seq > after]

    def status(self) -> dict:
        """What the page's status panel shows, as JSON values."""
        now = self.clock()
        with self._lock:
            report, observed_s, frames = self._latest, self._observed_s, self.frames
            arrivals = tuple(self._arrivals)
        rules = report.rules if report is not None else self._rules
        profile = rules.profile
        since_s = now - observed_s if observed_s is not None else None
        lost = self.live and since_s is not None and since_s >= profile.camera_timeout_s
        fps = _rate(arrivals)
        return {
            "frames": frames,
            "camera": "waiting" if since_s is None else "lost" if lost else "ok",
            "since_frame_s": None if since_s is None else round(since_s, 2),
            "paused": bool(report and report.paused),
            "covered": bool(report and report.covered),
            "fps": None if fps is None or lost else round(fps, 1),
            "frame_age_ms": None if report is None else round(report.age_ms),
            "dropped": 0 if report is None else report.dropped,
            "max_fps": None if report is None else report.max_fps,
            "profile": profile.name,
            "language": profile.language,
            "model": self.model,
            "calibration": self.calibration,
            "in_view": in_view(report),
        }

    # The server's threads.

    def frame_jpeg(self) -> View | None:
        """The debug view of the newest frame, drawn here; None before the first frame.

        A frame is drawn once whatever the number of viewers, and no more than `max_jpeg_fps`
        times a second: a request in between gets the last drawing."""
        with self._render_lock:
            report = self.latest()
            if report is None:
                return None
            now = self.clock()
            if self._view is not None and (report is self._view_report
                                           or now - self._encoded_s < 1 / self.max_jpeg_fps):
                return self._view
            self._view = self._draw(report)
            self._view_report, self._encoded_s = report, now
            self.encodes += 1
            return self._view

    def _draw(self, report: FrameReport) -> View:
        frame = report.frame
        with self._lock:
            spoken = self._glow.recent(frame.timestamp_ms)
            last_said = self._sentences[-1].text if self._sentences else ""
            fps = _rate(tuple(self._arrivals))
        heat = self._heat.update(report.detections, frame.width, frame.height, frame.timestamp_ms)
        view = report_view(report, heat, spoken, fps, self.queued(), last_said)
        ok, encoded = cv2.imencode(".jpg", view, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError("OpenCV could not encode the debug view as a JPEG.")
        return View(encoded.tobytes(), frame.index, frame.captured_s)


def _rate(arrivals: tuple[float, ...]) -> float | None:
    """Frames a second over the arrival times kept, or None with fewer than two."""
    if len(arrivals) < 2 or arrivals[-1] <= arrivals[0]:
        return None
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


def calibration_line(found: Calibration | None) -> str:
    """Which calibration is in use, in one short line for the status panel (the run's start says where it is)."""
    if found is None or found.source is None:
        return f"none: every class is spoken at {UNCALIBRATED}"
    return f"{found.source.name}: {found.summary()}"


def in_view(report: FrameReport | None) -> list[dict]:
    """What the profile kept in the frame (spoken or tracked), counted by class, most first."""
    if report is None:
        return []
    counts = Counter(d.label for d, fate in zip(report.detections, report.fates) if fate.kept)
    return [{"label": label, "count": n} for label, n in counts.most_common()]

