"""Is the camera giving usable frames? Lost and back, covered and uncovered. Pure policy: time is passed in.

A blind user cannot tell silence ("nothing there") from a dead or covered camera, so both are
said aloud. Covering the lens is also a control that needs no keyboard: it pauses the narration.

Covered means dark and nearly uniform: on a 64x48 grey thumbnail (0-255), mean luminance under
COVER_MEAN and standard deviation under COVER_STD. Measured by `benchmarks/cover.py` on the 250
real photos in ../shared: none at full brightness and 1 in 250 at 30% brightness (a night photo
that is nearly black already) count as covered, while every photo dimmed to 5% or less with
sensor noise does. Uniformity is what tells a covered lens from a dim street with lamps in it.
"""

from __future__ import annotations

import cv2
import numpy as np

COVER_MEAN = 20.0
COVER_STD = 6.0
THUMBNAIL = (64, 48)
COVER_HOLD_MS = 1000  # dark this long before it counts as covered
UNCOVER_HOLD_MS = 300  # and light this long before it counts as uncovered again
BACK_FRAMES = 3  # a lost camera is back after this many new frames
BACK_SPAN_S = 0.5  # spanning at least this long


def luminance(rgb: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the luminance of an RGB frame, on a small thumbnail."""
    small = cv2.resize(rgb, THUMBNAIL, interpolation=cv2.INTER_AREA)
    mean, std = cv2.meanStdDev(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    return float(mean[0, 0]), float(std[0, 0])


def looks_covered(mean: float, std: float) -> bool:
    return mean < COVER_MEAN and std < COVER_STD


class LossWatch:
    """`update(now_s, read, read_s)` once per loop step, given how many frames the source has read
    so far and when it read the newest (None before the first): "lost" when no new frame came for
    `timeout_s`, "back" once frames really flow again, else None.

    Back means BACK_FRAMES new frames spanning BACK_SPAN_S, with no gap of `timeout_s` between
    them: the burst of buffered frames a dead stream hands over when it times out is not the
    camera coming back. Frames are counted as the source reads them, not as the loop takes them,
    so a frame-rate cap or a slow detector never looks like a lost camera.
    """

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.lost = False
        self.losses = 0
        self._read = 0
        self._last_s: float | None = None  # when the newest frame was read, or when watching began
        self._flow: tuple[float, int] | None = None  # since the loss: when the frames began, and how many

    def update(self, now_s: float, read: int, read_s: float | None) -> str | None:
        if self._last_s is None:
            self._last_s = now_s
        if read > self._read and read_s is not None:
            new, self._read = read - self._read, read
            if self.lost:
                resumed = self._flow is None or read_s - self._last_s >= self.timeout_s
                self._flow = (read_s, new) if resumed else (self._flow[0], self._flow[1] + new)
            self._last_s = read_s
        if self.lost and self._flow is not None:
            began_s, count = self._flow
            if count >= BACK_FRAMES and self._last_s - began_s >= BACK_SPAN_S:
                self.lost, self._flow = False, None
                return "back"
        if not self.lost and now_s - self._last_s >= self.timeout_s:
            self.lost, self._flow = True, None
            self.losses += 1
            return "lost"
        return None

    def silent_s(self, now_s: float) -> float:
        """Seconds since the last new frame."""
        return 0.0 if self._last_s is None else now_s - self._last_s


class CoverWatch:
    """`update(dark, timestamp_ms)` per frame says "covered" after COVER_HOLD_MS of dark frames,
    "uncovered" after UNCOVER_HOLD_MS of light ones, else None."""

    def __init__(self) -> None:
        self.covered = False
        self._since_ms: int | None = None  # when the frames began to disagree with `covered`

    def update(self, dark: bool, timestamp_ms: int) -> str | None:
        if dark == self.covered:
            self._since_ms = None
            return None
        if self._since_ms is None:
            self._since_ms = timestamp_ms
        if timestamp_ms - self._since_ms < (COVER_HOLD_MS if dark else UNCOVER_HOLD_MS):
            return None
        self.covered, self._since_ms = dark, None
        return "covered" if dark else "uncovered"
