"""What to say: English wording of sightings, grouped and counted, in the profile's style. Pure functions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from .core import Detection, Frame, Position, Sighting, Utterance
from .position import place
from .profile import Profile, speakable

SPOKEN_NAMES = {"tv": "television", "cell phone": "phone", "dining table": "table"}
PLURALS = {"person": "people", "mouse": "mice", "knife": "knives", "sheep": "sheep", "skis": "skis", "scissors": "scissors"}
PAIRS = {"skis": "a pair of skis", "scissors": "a pair of scissors"}
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
# How each side is said, by where the camera is mounted (the profile's camera.mounted).
SIDES = {
    "chest": {"left": "on your left", "right": "on your right", "ahead": "ahead"},
    "head": {"left": "on your left", "right": "on your right", "ahead": "ahead"},
    "hand": {"left": "left of where you point", "right": "right of where you point", "ahead": "where you point"},
    "table": {"left": "on the left", "right": "on the right", "ahead": "in front"},
}
FEET_PER_METRE = 3.28084
PROBABLY_BELOW = 0.6  # in detailed verbosity, a score under this is said as "probably"


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


def number_word(count: int) -> str:
    return NUMBER_WORDS[count] if count < len(NUMBER_WORDS) else str(count)


def counted(noun: str, count: int, article: bool = True) -> str:
    """'a dog', 'an umbrella', 'two people', '12 cars'; 'dog' without the article."""
    if count == 1:
        if not article:
            return noun
        return PAIRS.get(noun) or f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    return f"{number_word(count)} {plural(noun)}"


def spoken_name(label: str, profile: Profile) -> str:
    return profile.rule(label).spoken_name or SPOKEN_NAMES.get(label, label)


def where_words(sighting: Sighting, profile: Profile) -> str:
    """'on your left', 'slightly right', 'at 2 o'clock', or 'left' when brief."""
    if profile.directions == "clock":
        return f"{sighting.position.clock} o'clock" if profile.verbosity == "brief" else f"at {sighting.position.clock} o'clock"
    side = sighting.position.side
    if profile.verbosity == "brief":
        return side
    return f"slightly {side}" if sighting.position.direction != side else SIDES[profile.camera.mounted][side]


def amount(distance_m: float, profile: Profile) -> str:
    """A distance in the profile's units: 'about 4 metres', 'about 13 feet', 'about 5 steps'."""
    if profile.units == "feet":
        value, unit = distance_m * FEET_PER_METRE, "foot"
    elif profile.units == "steps":
        value, unit = distance_m / profile.step_length_m, "step"
    else:
        if distance_m < 1:
            return "less than a metre"
        value, unit = distance_m, "metre"
    whole = max(1, round(value))
    units = {"foot": "feet", "step": "steps", "metre": "metres"}[unit] if whole != 1 else unit
    return f"about {whole} {units}"


def distance_label(position: Position) -> str:
    """A short distance for screens: '3.9 m', 'close', 'partly in view', or '' when unknown."""
    if position.distance_m is not None:
        return f"{position.distance_m} m"
    return "close" if position.close else "partly in view" if position.partial else ""


def distance_words(sighting: Sighting, profile: Profile) -> str:
    """'close', 'about 4 metres', 'partly in view', or '' when the distance is unknown."""
    position = sighting.position
    if position.distance_m is not None:
        return amount(position.distance_m, profile)
    return "close" if position.close else "partly in view" if position.partial else ""


def phrase(members: Sequence[Sighting], profile: Profile) -> str:
    """One group (same class, same side), at the profile's verbosity; nearest member first."""
    nearest = members[0]
    noun = spoken_name(nearest.detection.label, profile)
    if profile.verbosity == "brief":
        return f"{counted(noun, len(members), article=False)} {where_words(nearest, profile)}"
    text = f"{counted(noun, len(members))} {where_words(nearest, profile)}"
    distance = distance_words(nearest, profile)
    if profile.verbosity == "detailed":
        if max(m.detection.score for m in members) < PROBABLY_BELOW:
            text = f"probably {text}"
        if distance and len(members) > 1 and distance[0] == "a":
            distance = f"nearest {distance}"
    return f"{text}, {distance}" if distance else text


def nearness(sighting: Sighting) -> float:
    """Metres to sort by: 0 for an object cut by the bottom edge, infinity when unknown."""
    if sighting.position.close:
        return 0.0
    return math.inf if sighting.position.distance_m is None else sighting.position.distance_m


def importance(sighting: Sighting, profile: Profile) -> tuple[bool, int, float]:
    """Sort key, most important first: hazards, then higher priority, then nearer."""
    rule = profile.rule(sighting.detection.label)
    return (not rule.hazard, -rule.priority, nearness(sighting))


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def group_of(sighting: Sighting) -> tuple[str, str]:
    """Which phrase an object is said in: one per class and side ("two people on your left")."""
    return sighting.detection.label, sighting.position.side


def compose(
    sightings: Sequence[Sighting], profile: Profile, limit: int | None = None
) -> tuple[str, tuple[Sighting, ...]]:
    """One sentence grouping like objects on the same side, most important first.

    Groups are (label, side: left, ahead or right), ordered by hazard, then priority, then nearness, at most
    `limit` (default `max_items_per_sentence`) of them. Returns the text and the sightings it mentions.
    """
    groups: dict[tuple[str, str], list[Sighting]] = {}
    for sighting in sightings:
        groups.setdefault(group_of(sighting), []).append(sighting)
    ordered = sorted(
        (sorted(members, key=nearness) for members in groups.values()),
        key=lambda members: importance(members[0], profile),
    )[: limit or profile.max_items_per_sentence]
    text = "; ".join(phrase(members, profile) for members in ordered)
    return sentence(text), tuple(s for members in ordered for s in members)


def approach_words(sighting: Sighting, profile: Profile) -> str:
    """The warning for a hazard closing in: 'Car approaching on your left'."""
    noun = spoken_name(sighting.detection.label, profile)
    return sentence(f"{noun} approaching {where_words(sighting, profile)}")


def gone_words(labels: Sequence[str], profile: Profile) -> str:
    """'The dog has gone', 'The two dogs have gone; the cat has gone'."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    parts = []
    for label, count in counts.items():
        noun = spoken_name(label, profile)
        parts.append(f"the {noun} has gone" if count == 1 else f"the {counted(noun, count)} have gone")
    return sentence("; ".join(parts))


def sightings_of(detections: Iterable[Detection], frame: Frame, profile: Profile) -> list[Sighting]:
    """The profile's objects in a frame, one per object (duplicates suppressed), with their positions."""
    return [place(d, frame, profile.camera.hfov_deg) for d in speakable(detections, profile, frame.height)]


def describe_scene(detections: Iterable[Detection], frame: Frame, profile: Profile) -> Utterance:
    """Everything the profile cares about in one still image, said at once (text may be empty)."""
    text, objects = compose(sightings_of(detections, frame, profile), profile)
    return Utterance(text, frame.timestamp_ms, frame.index, objects)
