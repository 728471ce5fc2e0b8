"""Where the debug view goes: a window, an MP4 recording, PNG snapshots; and the window's keys.

`annotate` draws each candidate box from its fate, decided upstream (spoken, tracked, hazard, or
filtered and why); `Viewer.show` renders a frame with `debug_view` and sends it to the chosen outputs.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from ..config.rules import Rules
from ..core import Detection
from ..errors import AssistantError
from ..narration.wording import distance_label
from ..process import outputs
from ..runtime.controls import Command, command_for
from ..runtime.frame_report import FrameReport
from ..sources.imaging import opencv_path
from ..vision.speaking import Fate, Kind, score_text
from .draw import Annotation, Heatmap, Hud, frame_heat, render

WINDOW = "assistant debug view"
SPOKEN_GLOW_MS = 2000  # a box stays "spoken" green this long after its sentence
MAX_BOXES = 40  # the most confident candidates drawn; the heatmap uses them all
RATE_FRAMES = 15  # frames whose timestamps set a recording's frame rate
FALLBACK_FPS = 10.0  # for a recording of a single frame
RECORD_RESERVE_BYTES = 4 << 20  # free space a recording stops at, to finish its file whole
MAX_FILTERED_LABELS = 8  # the rest of the filtered boxes are drawn without a label, to keep the view readable


def has_display() -> bool:
    """Whether a window can be opened: an X or Wayland display on Linux, always elsewhere."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def annotate(
    detections: Sequence[Detection],
    fates: Sequence[Fate],
    track_ids: Sequence[int | None],
    rules: Rules,
    spoken_ids: Iterable[int | None] = (),
) -> list[Annotation]:
    """Every candidate with its status and label text, most confident first, at most MAX_BOXES.

    `fates[i]` is what became of `detections[i]`, `track_ids[i]` the track it belongs to (None, or
    empty for a photo). A kept candidate is drawn as spoken when its fate says so or its track is
    in `spoken_ids` (said a moment ago)."""
    ids = list(track_ids) or [None] * len(detections)
    spoken = set(spoken_ids)
    out = []
    filtered = 0
    for d, fate, track_id in sorted(zip(detections, fates, ids), key=lambda each: -each[0].score)[:MAX_BOXES]:
        if not fate.kept:
            filtered += 1
            text = f"{d.label} {score_text(d.score)} {fate.reason}" if filtered <= MAX_FILTERED_LABELS else ""
            out.append(Annotation(d, "filtered", text))
            continue
        ident = f"#{track_id} " if track_id is not None else ""
        where = f"{fate.position.direction} {distance_label(fate.position)}" if fate.position else ""
        text = f"{d.label} {score_text(d.score)} {ident}{where}".rstrip()
        if rules.rule(d.label).hazard:
            status = "hazard"
        elif fate.kind is Kind.SPOKEN or (track_id is not None and track_id in spoken):
            status = "spoken"
        else:
            status = "tracked"
        out.append(Annotation(d, status, text))
    return out


def still_view(rgb: np.ndarray, detections: Sequence[Detection], fates: Sequence[Fate], rules: Rules,
               threshold: float | None, sentence: str, detector_ms: float) -> np.ndarray:
    """The debug view of one photo: boxes at or above `threshold` (by default, each class's own
    min_score, so every box the profile speaks is drawn), and the heat of every candidate."""
    h, w = rgb.shape[:2]
    shown = [(d, fate) for d, fate in zip(detections, fates)
             if d.score >= (rules.min_score(d.label) if threshold is None else threshold)]
    annotations = annotate([d for d, _ in shown], [fate for _, fate in shown], (), rules)
    said = sum(fate.kind is Kind.SPOKEN for fate in fates)
    hud = Hud(None, detector_ms, said, 0, sentence, rules.profile.name)
    return render(rgb, annotations, frame_heat(detections, w, h), hud)


def truth_and_prediction_view(rgb: np.ndarray, truths: Sequence, predictions: Sequence[Detection]) -> np.ndarray:
    """A dataset image with its ground truth in white ("GT person") and the predictions in orange
    ("person 0.87"), drawn like the debug view's boxes."""
    annotations = [Annotation(Detection(t.label, 1.0, t.box), "truth", f"GT {t.label}" + (" (difficult)" if t.ignore else ""))
                   for t in truths]
    annotations += [Annotation(d, "predicted", f"{d.label} {score_text(d.score)}") for d in predictions]
    return render(rgb, annotations, None, None)


def png_bytes(path: Path, bgr: np.ndarray) -> bytes:
    """An image encoded as PNG; AssistantError with one sentence if OpenCV cannot."""
    try:
        ok, encoded = cv2.imencode(".png", bgr)
    except cv2.error as exc:
        raise AssistantError(f"Cannot draw {path}: {exc}.") from None
    if not ok:
        raise AssistantError(f"Cannot draw {path} as a PNG.")
    return encoded.tobytes()


def write_png(path: Path, bgr: np.ndarray) -> None:
    """Write a PNG safely (see outputs.replace), creating its folder; AssistantError with one sentence if that fails."""
    try:
        outputs.replace(path, png_bytes(path, bgr))
    except OSError as exc:
        raise AssistantError(f"Cannot write {path}: {exc.strerror or exc}.") from None


class SpokenGlow:
    """Which tracks were just spoken about, to draw their boxes green for SPOKEN_GLOW_MS of media time."""

    def __init__(self) -> None:
        self._spoken_at: dict[int, int] = {}

    def note(self, report: FrameReport) -> None:
        """Remember the tracks this frame's sentence named (and forget those long past, even if nothing is drawn)."""
        if report.utterance is not None:
            now_ms = report.frame.timestamp_ms
            self._spoken_at = {k: t for k, t in self._spoken_at.items() if now_ms - t <= SPOKEN_GLOW_MS}
            self._spoken_at.update((s.track_id, now_ms) for s in report.utterance.objects if s.track_id is not None)

    def recent(self, timestamp_ms: int) -> set[int]:
        """The tracks named within SPOKEN_GLOW_MS before `timestamp_ms`; older ones are forgotten."""
        self._spoken_at = {k: t for k, t in self._spoken_at.items() if timestamp_ms - t <= SPOKEN_GLOW_MS}
        return {k for k, t in self._spoken_at.items() if t <= timestamp_ms}


def report_view(report: FrameReport, heat: np.ndarray | None, spoken: set[int], rate: float | None, queued: int,
                last_said: str, *, boxes: bool = True) -> np.ndarray:
    """The debug view of one report: its boxes drawn from their fates, the heatmap and the HUD."""
    annotations = annotate(report.detections, report.fates, report.track_ids, report.rules, spoken)
    hud = Hud(rate, report.detect_ms, sum(t.misses == 0 for t in report.tracks), queued, last_said,
              report.rules.profile.name, report.age_ms, report.dropped, report.max_fps)
    return render(report.frame.image, annotations, heat, hud, boxes=boxes)


class Viewer:
    """Renders each FrameReport and sends it to a window, a recording and/or snapshots.

    Keys in the window: h toggles the heatmap, b the boxes, s saves a snapshot; the shared
    controls (space, d, p, plus, minus, q) go to `commands` like keys typed in the terminal.
    """

    def __init__(
        self,
        *,
        window: bool = False,
        record: Path | None = None,
        snapshots: Path | None = None,
        snapshot_every: int = 30,
        heatmap: bool = True,
        boxes: bool = True,
        half_life_s: float = 1.0,
        commands: queue.SimpleQueue[Command] | None = None,
        warn: Callable[[str], None] = lambda message: None,
    ):
        if not window and record is None and snapshots is None:
            raise AssistantError(
                "The debug view needs a display for its window; with none here, add --record FILE.mp4 "
                "or --snapshots DIR to write it to files instead."
            )
        self.window, self.record, self.snapshots = window, record, snapshots
        self.snapshot_every = snapshot_every
        self.heatmap, self.boxes = heatmap, boxes
        self.commands = commands
        self._heat = Heatmap(half_life_s)
        self._writer: cv2.VideoWriter | None = None
        self._recording: Path | None = None  # the temporary file the writer fills, renamed at close
        self._record_out = outputs.Output(f"The recording {record}", warn)
        self._snapshots_out = outputs.Output(f"The snapshots in {snapshots or Path.cwd()}", warn)
        self._pending: list[tuple[np.ndarray, int]] = []  # the first views, to learn the frame rate
        self._glow = SpokenGlow()
        self._last_wall: float | None = None
        self._rate = 0.0
        self._shots = 0
        self._last_view: np.ndarray | None = None
        self.frames_written = 0
        self._shown = 0
        if window:
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)

    def show(self, report: FrameReport, queued: int, last_said: str) -> None:
        """Render one frame to every output, and act on any key pressed in the window."""
        frame = report.frame
        now = time.perf_counter()
        if self._last_wall is not None and now > self._last_wall:
            instant = 1 / (now - self._last_wall)
            self._rate = instant if self._rate == 0 else 0.9 * self._rate + 0.1 * instant
        self._last_wall = now
        self._glow.note(report)
        heat = (self._heat.update(report.detections, frame.width, frame.height, frame.timestamp_ms)
                if self.heatmap else None)  # hidden: skipped; shown again, the old heat has decayed by then
        view = report_view(report, heat, self._glow.recent(frame.timestamp_ms), self._rate, queued, last_said,
                           boxes=self.boxes)
        self._last_view = view
        if self.record is not None and not self._record_out.stopped:
            self._write_video(view, frame.timestamp_ms)
        self._shown += 1  # counted here, not from frame.index: a live source skips the frames it drops
        if self.snapshots is not None and (self._shown - 1) % self.snapshot_every == 0:
            path = self.snapshots / f"frame_{frame.index:06d}.png"
            self._snapshots_out.replace(path, png_bytes(path, view))
        if self.window:
            cv2.imshow(WINDOW, view)
            self._keys(cv2.waitKey(1))

    def _write_video(self, view: np.ndarray, timestamp_ms: int) -> None:
        """Record a view. The file's frame rate is the rate frames really came at (their timestamps
        over the first RATE_FRAMES), so a camera loop running slower than its camera plays back true."""
        if self._writer is None:
            self._pending.append((view, timestamp_ms))
            if len(self._pending) >= RATE_FRAMES:
                self._open_writer()
            return
        self._writer.write(view)
        self.frames_written += 1
        self._check_room()

    def _open_writer(self) -> None:
        (first, t0), t1 = self._pending[0], self._pending[-1][1]
        fps = (len(self._pending) - 1) * 1000 / (t1 - t0) if t1 > t0 else FALLBACK_FPS
        h, w = first.shape[:2]
        opencv_path(self.record)  # before a temporary file named after it exists
        try:
            self._recording = outputs.temporary_beside(self.record)
        except OSError as exc:
            self._drop_recording(exc.strerror or str(exc))
            return
        self._writer = cv2.VideoWriter(opencv_path(self._recording), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        if not self._writer.isOpened():
            self._recording.unlink(missing_ok=True)
            raise AssistantError(f"Cannot record to {self.record}; use a .mp4 name in a writable folder.")
        pending, self._pending = self._pending, []
        for view, _ in pending:
            self._writer.write(view)
        self.frames_written += len(pending)
        self._check_room()

    def _check_room(self) -> None:
        """Stop recording while the disk still has room to finish the file: the video writer does
        not report a full disk, it leaves a file that will not play."""
        if shutil.disk_usage(self._recording.parent).free < RECORD_RESERVE_BYTES:
            self._drop_recording(f"less than {RECORD_RESERVE_BYTES >> 20} MB left on its disk")

    def _drop_recording(self, reason: str) -> None:
        """Stop recording with one warning and remove the unfinished file."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._recording is not None:
            self._recording.unlink(missing_ok=True)
        self._pending = []
        self._record_out.stop(reason)

    def _finish_recording(self) -> None:
        """Close the recording and rename it into place if it plays to its last frame, else drop it."""
        self._writer.release()
        self._writer = None
        video = cv2.VideoCapture(str(self._recording))
        frames = int(video.get(cv2.CAP_PROP_FRAME_COUNT)) if video.isOpened() else 0
        video.release()
        if frames < self.frames_written:
            self._drop_recording("the finished file would not play; is the disk full?")
            return
        try:
            outputs.settle(self._recording, self.record)
        except (OSError, AssistantError) as exc:
            self._drop_recording(exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))

    def _keys(self, key: int) -> None:
        if key == -1:
            if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1 and self.commands is not None:
                self.commands.put(Command.QUIT)  # the window was closed
            return
        char = chr(key & 0xFF)
        if char in "hH":
            self.heatmap = not self.heatmap
        elif char in "bB":
            self.boxes = not self.boxes
        elif char in "sS" and self._last_view is not None:
            self._shots += 1
            path = (self.snapshots or Path.cwd()) / f"snapshot_{self._shots:03d}.png"
            self._snapshots_out.replace(path, png_bytes(path, self._last_view))
        elif (command := command_for(char)) is not None and self.commands is not None:
            self.commands.put(command)

    def close(self) -> None:
        if self._writer is None and self._pending:
            self._open_writer()  # a run shorter than RATE_FRAMES
        if self._writer is not None:
            self._finish_recording()
        if self.window:
            cv2.destroyWindow(WINDOW)
