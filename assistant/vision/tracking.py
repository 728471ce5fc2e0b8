"""One id per object across frames, and when an object has been seen enough to be spoken of.

Decided in time and evidence, not in consecutive frames, so the same policy holds at 2 frames a
second and at 30:

- **Association**, greedy and best first, never across unrelated classes (car, truck and bus,
  which the detector confuses on one vehicle, continue each other's tracks). A new box joins a
  track by its IoU with the track's predicted box (the last box moved by its smoothed velocity);
  failing that, by a gate in time and size around where the track was last seen (OC-SORT's
  observation-centric recovery): its centre within `GATE_SIZES` box sizes, plus `MAX_SPEED`
  box sizes for each second since, and its width and height within `SIZE_RATIO` of the track's.
- **Evidence** (norfair's initialization delay, counted in looks and weighed by score and time):
  a look at a speakable box counts 1 at its class's threshold, rising to 1 + `STRONG_BONUS` at
  `STRONG_MARGIN` above it; a look at a weak box counts `WEAK_WEIGHT`. A look `INDEPENDENT_MS`
  or more after the track's last one counts 1 + `TIME_BONUS` times as much (in proportion when
  nearer): frames far apart are more independent looks. A track is confirmed on
  a speakable look once the looks of the last `WINDOW_MS` count `confirm_hits`, from at least
  two looks (one when `confirm_hits` is 1). With the default 3, an object scored well above its
  threshold is confirmed on its second look and a marginal one on its third, at any frame rate;
  one box, however strong, is never confirmed.
- **Weak boxes** (ByteTrack): boxes scored under their speaking threshold, down to a floor. They
  continue tracks through a flicker of the score, and start tracks that only a speakable box can
  confirm, but never put a track in view: nothing is ever said from them.
- **Survival**: a track not yet confirmed survives one look without any box; a confirmed one
  lives `max_missing_ms` of frame time after any box was last matched to it.

Time is passed in (`timestamp_ms`), never read here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..core import Box, Detection, Track

SMOOTHING = 0.5  # weight of the newest velocity measurement
STRONG_MARGIN = 0.15  # a look this far above its class's threshold is strong
STRONG_BONUS = 1.5  # what a strong look counts beyond a marginal one
WEAK_WEIGHT = 0.5  # what a look at a weak box counts
INDEPENDENT_MS = 300.0  # looks this far apart are independent evidence
TIME_BONUS = 0.5  # and count this much more than a look in the very next frame
WINDOW_MS = 2000.0  # looks older than this no longer count towards confirmation
GATE_SIZES = 1.0  # a box whose centre is within one box size of the track's last box may be it
MAX_SPEED = 4.0  # and the gate widens by this many box sizes for each second since it was seen
SIZE_RATIO = 2.0  # a box over twice or under half the track's width or height is another object
TENTATIVE_MISSES = 1  # looks without any box that a track not yet confirmed survives
RELATED = (frozenset({"car", "truck", "bus"}), frozenset({"bicycle", "motorcycle"}))


def related(a: str, b: str) -> bool:
    """Whether boxes of these classes may be one object: one class, or two the detector confuses."""
    return a == b or any(a in family and b in family for family in RELATED)


def evidence(detection: Detection, threshold: float, speakable: bool) -> float:
    """What one look at this box counts towards confirming its track (see the module's docstring)."""
    if not speakable:
        return WEAK_WEIGHT
    return 1.0 + STRONG_BONUS * min(1.0, max(0.0, detection.score - threshold) / STRONG_MARGIN)


@dataclass(slots=True)
class _State:
    """What the tracker remembers of one track between frames."""

    track: Track
    seen_ms: float  # when a box (speakable or weak) was last matched to it
    looks: deque[tuple[float, float]] = field(default_factory=deque)  # (time, evidence) in the window
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # box corners, pixels per ms
    missed: int = 0  # looks in a row without any box

    def predicted(self, now_ms: float) -> Box:
        """Where the box should be now if it kept its speed."""
        dt = now_ms - self.seen_ms
        b, v = self.track.detection.box, self.velocity
        return Box(b.x1 + v[0] * dt, b.y1 + v[1] * dt, b.x2 + v[2] * dt, b.y2 + v[3] * dt)


class Tracker:
    """`update(detections, timestamp_ms, weak)` matches this frame's boxes to the live tracks.

    `detections` are the speakable boxes, `weak` the boxes of the profile's classes scored under
    their threshold but above the floor; `threshold(label)` is each class's speaking threshold,
    which weighs a look. A track's `misses` counts the frames since a speakable box was matched
    to it, so the tracks in view, for the narrator, are those with `misses == 0`.
    `motion=False` matches by IoU with the last box alone (a baseline for benchmarks).
    """

    def __init__(
        self,
        confirm_hits: int = 3,
        threshold: Callable[[str], float] = lambda label: 0.5,
        max_missing_ms: float = 1000.0,
        min_iou: float = 0.3,
        motion: bool = True,
    ):
        self.confirm_hits = confirm_hits
        self.threshold = threshold
        self.max_missing_ms = max_missing_ms
        self.min_iou = min_iou
        self.motion = motion
        self._states: list[_State] = []
        self._next_id = 1

    def update(self, detections: Sequence[Detection], timestamp_ms: float,
               weak: Sequence[Detection] = ()) -> tuple[Track, ...]:
        """All live tracks after this frame; those given a speakable box now have misses == 0."""
        now = float(timestamp_ms)
        strong = self._match(self._states, detections, now)
        weak_matched = self._match([s for s in self._states if id(s) not in strong], weak, now)
        survivors: list[_State] = []
        for state in self._states:
            if id(state) in strong:
                survivors.append(self._look(state, detections[strong[id(state)]], now, speakable=True))
            elif id(state) in weak_matched:
                survivors.append(self._look(state, weak[weak_matched[id(state)]], now, speakable=False))
            elif self._survives(state, now):
                track = state.track
                state.track = Track(track.track_id, track.detection, track.hits, track.misses + 1, track.confirmed)
                state.missed += 1
                survivors.append(state)
        for boxes, used, speakable in ((detections, {*strong.values()}, True), (weak, {*weak_matched.values()}, False)):
            for d, detection in enumerate(boxes):
                if d not in used:
                    state = _State(Track(self._next_id, detection, 0, 0, False), now)
                    survivors.append(self._look(state, detection, now, speakable))
                    self._next_id += 1
        self._states = survivors
        return tuple(s.track for s in survivors)

    def _match(self, states: Sequence[_State], boxes: Sequence[Detection], now: float) -> dict[int, int]:
        """Greedy matching, best pair first: {id(state): index of its box}."""
        pairs = []
        for state in states:
            predicted = state.predicted(now) if self.motion else state.track.detection.box
            for d, detection in enumerate(boxes):
                if related(state.track.detection.label, detection.label):
                    affinity = self._affinity(state, predicted, detection.box, now)
                    if affinity is not None:
                        pairs.append((affinity, id(state), d))
        matched: dict[int, int] = {}
        used: set[int] = set()
        for _, key, d in sorted(pairs, key=lambda pair: pair[0], reverse=True):
            if key not in matched and d not in used:
                matched[key] = d
                used.add(d)
        return matched

    def _affinity(self, state: _State, predicted: Box, box: Box, now: float) -> tuple[int, float] | None:
        """(1, IoU) for an overlap with the predicted box; (0, closeness) for a box inside the gate
        around the last box seen, ranked below any overlap; None for a box that cannot be this track."""
        iou = predicted.iou(box)
        if iou >= self.min_iou:
            return 1, iou
        last = state.track.detection.box
        if not self.motion or not _similar_size(last, box):
            return None
        reach = GATE_SIZES + MAX_SPEED * max(0.0, now - state.seen_ms) / 1000
        distance = max(abs(last.center_x - box.center_x) / max(last.width, box.width),
                       abs(_center_y(last) - _center_y(box)) / max(last.height, box.height))
        return (0, 1 - distance / reach) if distance <= reach else None

    def _survives(self, state: _State, now: float) -> bool:
        """Whether a track that got no box this frame lives on."""
        if state.track.confirmed:
            return now - state.seen_ms <= self.max_missing_ms
        return state.missed < TENTATIVE_MISSES

    def _look(self, state: _State, detection: Detection, now: float, speakable: bool) -> _State:
        """A box matched to the track: it follows the box and weighs the look; a speakable box puts
        it in view and may confirm it, a weak one never does either."""
        old, dt = state.track.detection.box, now - state.seen_ms
        if dt > 0:
            new = detection.box
            measured = ((new.x1 - old.x1) / dt, (new.y1 - old.y1) / dt, (new.x2 - old.x2) / dt, (new.y2 - old.y2) / dt)
            blend = SMOOTHING if any(state.velocity) else 1.0
            state.velocity = tuple(blend * m + (1 - blend) * v for m, v in zip(measured, state.velocity))
        state.seen_ms, state.missed = now, 0
        apart = min(1.0, (now - state.looks[-1][0]) / INDEPENDENT_MS) if state.looks else 0.0
        weight = evidence(detection, self.threshold(detection.label), speakable)
        state.looks.append((now, weight * (1 + TIME_BONUS * apart)))
        while now - state.looks[0][0] > WINDOW_MS:
            state.looks.popleft()
        track = state.track
        if not speakable:
            state.track = Track(track.track_id, detection, track.hits, track.misses + 1, track.confirmed)
            return state
        confirmed = track.confirmed or (len(state.looks) >= min(2, self.confirm_hits)
                                        and sum(w for _, w in state.looks) >= self.confirm_hits - 1e-9)
        state.track = Track(track.track_id, detection, track.hits + 1, 0, confirmed)
        return state


def _center_y(box: Box) -> float:
    return (box.y1 + box.y2) / 2


def _similar_size(a: Box, b: Box) -> bool:
    """Width and height each within SIZE_RATIO of the other's."""
    return all(small > 0 and large / small <= SIZE_RATIO
               for small, large in (sorted((a.width, b.width)), sorted((a.height, b.height))))
