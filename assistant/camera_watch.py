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


def luminance(rgb: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the luminance of an RGB frame, on a small thumbnail."""
    small = cv2.resize(rgb, THUMBNAIL, interpolation=cv2.INTER_AREA)
    mean, std = cv2.meanStdDev(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    return float(mean[0, 0]), float(std[0, 0])


def looks_covered(mean: float, std: float) -> bool:
    return mean < COVER_MEAN and std < COVER_STD


class LossWatch:
    """`update(now_s, fresh)` once per loop step says "lost" when no fresh frame came for
    `timeout_s`, "back" at the first fresh frame after that, else None."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.lost = False
        self.losses = 0
        self._last_s: float | None = None

    def update(self, now_s: float, fresh: bool) -> str | None:
        if self._last_s is None or fresh:
            self._last_s = now_s
        if fresh and self.lost:
            self.lost = False
            return "back"
        if not self.lost and now_s - self._last_s >= self.timeout_s:
            self.lost = True
            self.losses += 1
            return "lost"
        return None

    def silent_s(self, now_s: float) -> float:
        """Seconds since the last fresh frame."""
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
