"""When to speak. Pure policy: time comes from the frame, nothing here talks, draws or sleeps.

An object is spoken once, when it is confirmed, then again only on a significant change:
it came a distance band closer, it moved to another side, or its cooldown passed while it is
still the most important thing in view. Hazards closing in get an approach warning at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ..config.rules import Rules
from ..core import HAZARD, REQUESTED, ROUTINE, URGENT, Frame, Sighting, Track, Utterance
from ..vision.position import place, side_of, time_to_contact_s
from .wording import compose, gone_words, importance, warning

BAND_EDGES_M = (1.0, 2.0, 4.0, 8.0)  # distance bands: under 1 m, 1-2, 2-4, 4-8, beyond 8 m
BAND_MARGIN = 0.1  # an object must be 10% inside a nearer band before it counts as closer
SIDE_SETTLE_MS = 600  # and stay on its new side this long, so crossing from left to right is one phrase
HEIGHT_WINDOW_MS = 1000  # box heights kept per object to estimate time-to-contact
REARM_FACTOR = 2.0  # an approach warning re-arms once time-to-contact is back above twice the limit
GONE_AFTER_MS = 500  # "gone" waits this long after the track ends, in case the object is found again
GONE_FRESH_MS = 3000  # and is dropped if it could not be said within this


def band_of(sighting: Sighting, margin: float = 0.0) -> int | None:
    """Distance band index (0 nearest); None when the distance is unknown."""
    if sighting.position.close:
        return 0
    distance = sighting.position.distance_m
    if distance is None:
        return None
    return sum(distance * (1 + margin) >= edge for edge in BAND_EDGES_M)


def _receding(heights: Sequence[tuple[int, float]]) -> bool:
    """Whether the box shrank by a tenth or more over the window: the object is moving away."""
    return len(heights) >= 3 and heights[-1][1] < 0.9 * heights[0][1]


@dataclass(slots=True)
class _Memory:
    """What the narrator remembers of one tracked object."""

    label: str
    spoken_ms: int | None = None
    side: str | None = None
    band: int | None = None
    warned: bool = False
    moving_to: tuple[str, int] | None = None  # a new side and since when
    heights: deque[tuple[int, float]] = field(default_factory=deque)


@dataclass(frozen=True, slots=True)
class _Recent:
    """A spoken object whose track ended: a new track just like it is the same thing, not news."""

    label: str
    side: str | None
    band: int | None
    spoken_ms: int


class Narrator:
    """`update(tracks, frame)` returns the utterance for this frame, or None to stay quiet.

    `rules` may be replaced between frames (live reload); the history is kept.
    """

    def __init__(self, rules: Rules):
        self.rules = rules
        self._memory: dict[int, _Memory] = {}
        self._recent: list[_Recent] = []
        self._gone: list[tuple[str, int]] = []
        self._last_utterance_ms: int | None = None

    def update(self, tracks: Sequence[Track], frame: Frame, speaking: bool = False) -> Utterance | None:
        """This frame's utterance, or None.

        While `speaking` (a sentence is playing or waiting), only hazards are said; the rest
        waits and is composed when the voice is free, so nothing is said stale or dropped.
        """
        now = frame.timestamp_ms
        self._forget_ended(tracks, now)
        visible = [
            place(t.detection, frame, self.rules.profile.camera.hfov_deg, t.track_id) for t in tracks if t.confirmed and t.misses == 0
        ]
        for s in visible:
            memory = self._memory.setdefault(s.track_id, _Memory(s.detection.label))
            if not s.position.partial:
                memory.heights.append((now, s.detection.box.height))
            while memory.heights and now - memory.heights[0][0] > HEIGHT_WINDOW_MS:
                memory.heights.popleft()

        approaching = [replace(s, why="approach") for s in visible if self._approaching(s)]
        if approaching:
            return self._say(approaching, frame, "approach")
        if self._last_utterance_ms is not None and now - self._last_utterance_ms < self.rules.profile.min_gap_s * 1000:
            return None

        kinds = {s.track_id: self._news(s, now) for s in visible}
        if visible:
            top = min(visible, key=lambda s: importance(s, self.rules.style))
            if kinds[top.track_id] is None and self._cooled_down(top, now):
                kinds[top.track_id] = "repeat"
        due = [s for s in visible if kinds[s.track_id] is not None]
        if speaking:
            due = [s for s in due if kinds[s.track_id] != "repeat" and self.rules.rule(s.detection.label).hazard]
        if due:
            kind = next(k for k in ("new", "change", "repeat") if k in {kinds[s.track_id] for s in due})
            return self._say([replace(s, why=kinds[s.track_id]) for s in due], frame, kind)
        if speaking:
            return None
        self._gone = [(label, t) for label, t in self._gone if now - t <= GONE_AFTER_MS + GONE_FRESH_MS]
        ripe = [label for label, t in self._gone if now - t >= GONE_AFTER_MS]
        if ripe:
            self._gone = [(label, t) for label, t in self._gone if now - t < GONE_AFTER_MS]
            self._last_utterance_ms = now
            return Utterance(gone_words(ripe, self.rules.style), now, frame.index, kind="gone", priority=ROUTINE,
                             language=self.rules.style.language)
        return None

    def describe(self, tracks: Sequence[Track], frame: Frame) -> Utterance:
        """Everything in view now, on request ("what's around me"); every visible track counts."""
        visible = [place(t.detection, frame, self.rules.profile.camera.hfov_deg, t.track_id) for t in tracks if t.misses == 0]
        if not visible:
            return Utterance(self.rules.style.lang.text("Nothing in view"), frame.timestamp_ms, frame.index,
                             kind="describe", priority=REQUESTED, language=self.rules.style.language)
        for s in visible:
            self._memory.setdefault(s.track_id, _Memory(s.detection.label))
        return self._say([replace(s, why="describe") for s in visible], frame, "describe", limit=10)

    def _say(self, sightings: list[Sighting], frame: Frame, kind: str, limit: int | None = None) -> Utterance:
        """Compose, remember what was said where, and rank the sentence for the speech queue."""
        if kind == "approach":
            ranked = sorted(sightings, key=lambda s: importance(s, self.rules.style))[: self.rules.style.max_items]
            said = warning(ranked, self.rules.style)
        else:
            said = compose(sightings, self.rules.style, limit)
        objects = said.objects
        for s in objects:
            memory = self._memory[s.track_id]
            memory.spoken_ms = frame.timestamp_ms
            memory.side = side_of(s.position.bearing_deg, memory.side)
            band = band_of(s)
            memory.band = band if band is not None else memory.band
            memory.warned = memory.warned or kind == "approach"
            memory.moving_to = None
        self._last_utterance_ms = frame.timestamp_ms
        hazard = any(self.rules.rule(s.detection.label).hazard for s in objects)
        if kind == "approach":
            priority = URGENT
        elif kind == "describe":
            priority = REQUESTED
        else:
            priority = HAZARD if hazard and kind != "repeat" else ROUTINE
        return Utterance(said.text, frame.timestamp_ms, frame.index, objects, kind, priority, priority >= HAZARD,
                         language=self.rules.style.language, clauses=said.clauses)

    def _news(self, sighting: Sighting, now: int) -> str | None:
        """'new', 'change' or None for a visible object; an object like one just spoken is adopted quietly."""
        memory = self._memory[sighting.track_id]
        if memory.spoken_ms is None:
            recent = self._adoptable(sighting, now)
            if recent is None:
                return "new"
            memory.spoken_ms, memory.side, memory.band = recent.spoken_ms, recent.side, recent.band
            return None
        side = side_of(sighting.position.bearing_deg, memory.side)
        if side == memory.side:
            memory.moving_to = None
        elif memory.moving_to is None or memory.moving_to[0] != side:
            memory.moving_to = (side, now)
        elif now - memory.moving_to[1] >= SIDE_SETTLE_MS:
            return "change"
        band = band_of(sighting, BAND_MARGIN)
        if band is not None and memory.band is not None and band < memory.band and not memory.warned:
            return "change"  # once warned of its approach, a hazard's nearing is no news
        return None

    def _cooled_down(self, sighting: Sighting, now: int) -> bool:
        spoken = self._memory[sighting.track_id].spoken_ms
        return spoken is not None and now - spoken >= self.rules.cooldown_s(sighting.detection.label) * 1000

    def _approaching(self, sighting: Sighting) -> bool:
        """A hazard whose time-to-contact has just fallen under the profile's warning time."""
        limit = self.rules.profile.approach_warning_s
        memory = self._memory[sighting.track_id]
        if limit <= 0 or not self.rules.rule(sighting.detection.label).hazard:
            return False
        ttc = time_to_contact_s(memory.heights)
        if memory.warned:  # re-armed only once it is clearly further off again, not on a gap in the data
            memory.warned = not (ttc is not None and ttc > limit * REARM_FACTOR) and not _receding(memory.heights)
            return False
        return ttc is not None and ttc < limit

    def _adoptable(self, sighting: Sighting, now: int) -> _Recent | None:
        """A recently spoken, now ended object of the same class and side, still inside its cooldown, and
        no more than a band further off: the tracker lost it and found it again. If it is nearer now
        (a person coming close often gets a new track), adopting it makes that a change, not news."""
        cooldown_ms = self.rules.cooldown_s(sighting.detection.label) * 1000
        side, band = side_of(sighting.position.bearing_deg), band_of(sighting)
        for recent in self._recent:
            if (recent.label == sighting.detection.label and recent.side == side
                    and (recent.band is None or band is None or band - recent.band <= 1)
                    and now - recent.spoken_ms < cooldown_ms):
                self._recent.remove(recent)
                pending = [g for g in self._gone if g[0] == recent.label]
                if pending:  # it was not gone after all
                    self._gone.remove(pending[0])
                return recent
        return None

    def _forget_ended(self, tracks: Sequence[Track], now: int) -> None:
        """Move spoken objects whose tracks ended into the recent list, and queue their "gone"."""
        live = {t.track_id for t in tracks}
        for track_id in [k for k in self._memory if k not in live]:
            memory = self._memory.pop(track_id)
            if memory.spoken_ms is None:
                continue
            self._recent.append(_Recent(memory.label, memory.side, memory.band, memory.spoken_ms))
            if self.rules.rule(memory.label).announce_gone:
                self._gone.append((memory.label, now))
        self._recent = [r for r in self._recent if now - r.spoken_ms < self.rules.cooldown_s(r.label) * 1000]
