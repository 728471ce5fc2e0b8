"""When to speak and what to say. Pure policy: time is passed in, nothing here talks or draws."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from .core import Detection, Frame, Sighting, Track, Utterance
from .position import locate
from .profile import Profile

SPOKEN_NAMES = {"tv": "television", "cell phone": "phone", "dining table": "table"}
PLURALS = {"person": "people", "mouse": "mice", "knife": "knives", "sheep": "sheep", "skis": "skis", "scissors": "scissors"}
PAIRS = {"skis": "a pair of skis", "scissors": "a pair of scissors"}
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
WHERE = {"left": "on your left", "right": "on your right"}


def plural(noun: str) -> str:
    """English plural of a (possibly two-word) noun."""
    head, _, last = noun.rpartition(" ")
    prefix = f"{head} " if head else ""
    if last in PLURALS:
        return prefix + PLURALS[last]
    if last.endswith(("s", "x", "z", "ch", "sh")):
        return f"{prefix}{last}es"
    if last.endswith("y") and last[-2:-1] not in "aeiou":
        return f"{prefix}{last[:-1]}ies"
    return f"{prefix}{last}s"


def counted(label: str, count: int) -> str:
    """'a dog', 'an umbrella', 'two people', '12 cars'."""
    noun = SPOKEN_NAMES.get(label, label)
    if count == 1:
        if noun in PAIRS:
            return PAIRS[noun]
        return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    number = NUMBER_WORDS[count] if count < len(NUMBER_WORDS) else str(count)
    return f"{number} {plural(noun)}"


def distance_words(sighting: Sighting) -> str:
    """', close', ', partly in view', ', about 4 metres', or '' when the distance is unknown."""
    if sighting.position.close:
        return ", close"
    if sighting.position.partial:
        return ", partly in view"
    distance = sighting.position.distance_m
    if distance is None:
        return ""
    if distance < 1:
        return ", less than a metre"
    metres = round(distance)
    return f", about {metres} metre{'s' if metres != 1 else ''}"


def _nearness(sighting: Sighting) -> float:
    if sighting.position.close:
        return 0.0
    return math.inf if sighting.position.distance_m is None else sighting.position.distance_m


def compose(sightings: Sequence[Sighting], profile: Profile) -> tuple[str, tuple[Sighting, ...]]:
    """One sentence grouping like objects on the same side, most important first.

    Groups are (label, direction), ordered by priority then nearness, at most
    `max_items_per_sentence` of them. Returns the text and the sightings it mentions.
    """
    groups: dict[tuple[str, str], list[Sighting]] = {}
    for sighting in sightings:
        groups.setdefault((sighting.detection.label, sighting.position.direction), []).append(sighting)
    ordered = sorted(
        (sorted(members, key=_nearness) for members in groups.values()),
        key=lambda members: (-profile.priority(members[0].detection.label), _nearness(members[0])),
    )[: profile.max_items_per_sentence]
    phrases = []
    for members in ordered:
        label, direction = members[0].detection.label, members[0].position.direction
        phrases.append(f"{counted(label, len(members))} {WHERE.get(direction, direction)}{distance_words(members[0])}")
    text = "; ".join(phrases)
    return text[:1].upper() + text[1:], tuple(s for members in ordered for s in members)


def sight(detection: Detection, frame: Frame, profile: Profile, track_id: int | None = None) -> Sighting:
    """A detection with its position in this frame."""
    box = detection.box
    return Sighting(detection, locate(detection.label, box, frame.width, frame.height, profile.camera.hfov_deg), track_id)


def sightings_of(detections: Iterable[Detection], frame: Frame, profile: Profile) -> list[Sighting]:
    """The profile's objects in a frame, with their positions."""
    return [sight(d, frame, profile) for d in detections if profile.accepts(d)]


def describe_scene(detections: Iterable[Detection], frame: Frame, profile: Profile) -> Utterance:
    """Everything the profile cares about in one still image, said at once (text may be empty)."""
    text, objects = compose(sightings_of(detections, frame, profile), profile)
    return Utterance(text, frame.timestamp_ms, frame.index, objects)


class Narrator:
    """Decides, frame by frame, which confirmed objects are worth a sentence.

    An object is spoken once confirmed, and again only after its class's cooldown has passed
    on the frame clock.
    """

    def __init__(self, profile: Profile):
        self.profile = profile
        self._last_spoken_ms: dict[int, int] = {}

    def update(self, tracks: Sequence[Track], frame: Frame) -> Utterance | None:
        """An utterance for this frame, or None to stay quiet."""
        live = {t.track_id for t in tracks}
        self._last_spoken_ms = {k: v for k, v in self._last_spoken_ms.items() if k in live}
        due = [
            sight(t.detection, frame, self.profile, t.track_id)
            for t in tracks
            if t.confirmed and t.misses == 0 and self._is_due(t, frame.timestamp_ms)
        ]
        if not due:
            return None
        text, objects = compose(due, self.profile)
        for sighting in objects:
            self._last_spoken_ms[sighting.track_id] = frame.timestamp_ms
        return Utterance(text, frame.timestamp_ms, frame.index, objects)

    def _is_due(self, track: Track, timestamp_ms: int) -> bool:
        last = self._last_spoken_ms.get(track.track_id)
        cooldown_ms = self.profile.cooldown_s(track.detection.label) * 1000
        return last is None or timestamp_ms - last >= cooldown_ms
