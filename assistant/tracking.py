"""A label-aware IoU tracker with a constant-velocity motion model: an id per object across frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .core import Box, Detection, Track
from .duplicates import SAME_CLASS_IOU

SMOOTHING = 0.5  # weight of the newest velocity measurement


@dataclass(slots=True)
class _State:
    """What the tracker remembers of one track between frames."""

    track: Track
    seen_ms: float
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # box corners, pixels per ms

    def predicted(self, now_ms: float) -> Box:
        """Where the box should be now if it kept its speed."""
        dt = now_ms - self.seen_ms
        b, v = self.track.detection.box, self.velocity
        return Box(b.x1 + v[0] * dt, b.y1 + v[1] * dt, b.x2 + v[2] * dt, b.y2 + v[3] * dt)


class Tracker:
    """`update(detections, timestamp_ms)` matches this frame's detections to the live tracks.

    Matching is greedy on IoU between each track's predicted box (its last box moved by its
    smoothed velocity) and the new boxes, never across labels. A track is confirmed after
    `confirm_frames` consecutive hits; an unconfirmed track dies on its first miss, a confirmed
    one survives `max_misses` frames (or `max_missing_ms`) unseen, so a missed detection
    neither re-announces nor forgets an object.
    """

    def __init__(
        self,
        confirm_frames: int = 3,
        max_misses: int = 5,
        min_iou: float = 0.3,
        motion: bool = True,
        max_missing_ms: float | None = None,
    ):
        self.confirm_frames = confirm_frames
        self.max_misses = max_misses
        self.max_missing_ms = max_missing_ms
        self.min_iou = min_iou
        self.motion = motion
        self._states: list[_State] = []
        self._next_id = 1
        self._frames = 0
        self._timed = False

    def update(self, detections: Sequence[Detection], timestamp_ms: float | None = None) -> tuple[Track, ...]:
        """All live tracks after this frame; those seen now have misses == 0.

        Without `timestamp_ms`, frames are taken to be evenly spaced (one unit apart).
        """
        self._frames += 1
        self._timed = timestamp_ms is not None
        now = float(self._frames if timestamp_ms is None else timestamp_ms)
        predicted = [s.predicted(now) if self.motion else s.track.detection.box for s in self._states]
        pairs = sorted(
            (
                (self._affinity(state, predicted[t], det.box), t, d)
                for t, state in enumerate(self._states)
                for d, det in enumerate(detections)
                if state.track.detection.label == det.label
            ),
            key=lambda pair: pair[0],
            reverse=True,
        )
        matched: dict[int, int] = {}
        used: set[int] = set()
        for iou, t, d in pairs:
            if iou < self.min_iou:
                break
            if t not in matched and d not in used:
                matched[t] = d
                used.add(d)

        survivors: list[_State] = []
        for t, state in enumerate(self._states):
            track = state.track
            if t in matched:
                survivors.append(self._hit(state, detections[matched[t]], now))
            elif track.confirmed and self._survives(state, now):
                state.track = Track(track.track_id, track.detection, track.hits, track.misses + 1, True)
                survivors.append(state)
        for d, det in enumerate(detections):
            if d not in used:
                survivors.append(_State(Track(self._next_id, det, 1, 0, self.confirm_frames <= 1), now))
                self._next_id += 1
        self._states = survivors
        return tuple(s.track for s in survivors)

    def _survives(self, state: _State, now: float) -> bool:
        """Whether a confirmed track unseen this frame lives on: for `max_missing_ms` of frame time
        when that is set (the same at any frame rate), else for `max_misses` frames."""
        if self.max_missing_ms is not None and self._timed:
            return now - state.seen_ms <= self.max_missing_ms
        return state.track.misses < self.max_misses

    def _affinity(self, state: _State, predicted: Box, box: Box) -> float:
        """IoU with the predicted box, or with the last box of a confirmed track unseen since, when
        that box duplicates this one. A track seen once has no velocity yet, so a box whose centre
        is within one box size of it also passes, ranked below any real overlap."""
        iou = predicted.iou(box)
        old = state.track.detection.box
        if state.track.misses and state.track.confirmed and old.iou(box) >= SAME_CLASS_IOU:
            # unseen last frame, its motion model may have drifted off: where it was last seen, it is
            # the same object, so one object never holds two confirmed tracks
            iou = max(iou, old.iou(box))
        if iou >= self.min_iou or not self.motion or state.track.hits > 1:
            return iou
        dx = abs((old.x1 + old.x2) - (box.x1 + box.x2)) / 2
        dy = abs((old.y1 + old.y2) - (box.y1 + box.y2)) / 2
        return self.min_iou if dx <= max(old.width, box.width) and dy <= max(old.height, box.height) else iou

    def _hit(self, state: _State, detection: Detection, now: float) -> _State:
        """The state after a match: counters advanced, velocity blended with the new motion."""
        old, track = state.track.detection.box, state.track
        dt = now - state.seen_ms
        if dt > 0:
            new = detection.box
            measured = ((new.x1 - old.x1) / dt, (new.y1 - old.y1) / dt, (new.x2 - old.x2) / dt, (new.y2 - old.y2) / dt)
            weight = SMOOTHING if track.hits > 1 else 1.0
            state.velocity = tuple(weight * m + (1 - weight) * v for m, v in zip(measured, state.velocity))
        hits = track.hits + 1
        state.track = Track(track.track_id, detection, hits, 0, track.confirmed or hits >= self.confirm_frames)
        state.seen_ms = now
        return state
