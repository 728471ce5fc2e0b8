"""What to say: sightings grouped and counted, in the profile's language and style. Pure functions.

Every word comes from the profile's language (`language.Language`): the English strings here are
the gettext msgids its catalog translates.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..config.rules import Rules
from ..config.style import Style
from ..core import Clause, Detection, Frame, Position, Sighting, Utterance
from ..language.catalog import Noun, Number
from ..vision.speaking import judge

# How each side is said, by where the camera is mounted (the profile's camera.mounted): the English
# msgids, looked up in the profile language's catalog with the mount as context.
SIDES = {
    "chest": {"left": "on your left", "right": "on your right", "ahead": "ahead"},
    "head": {"left": "on your left", "right": "on your right", "ahead": "ahead"},
    "hand": {"left": "left of where you point", "right": "right of where you point", "ahead": "where you point"},
    "table": {"left": "on the left", "right": "on the right", "ahead": "in front"},
}
SLIGHTLY = {"left": "slightly left", "right": "slightly right"}
UNITS = {"feet": ("about {amount} foot", "about {amount} feet"), "steps": ("about {amount} step", "about {amount} steps"),
         "metres": ("about {amount} metre", "about {amount} metres")}
FEET_PER_METRE = 3.28084
PROBABLY_BELOW = 0.6  # in detailed verbosity, a score under this is said as "probably"
JOIN = "; "  # between the parts of a sentence


@dataclass(frozen=True, slots=True)
class Sentence:
    """What to say: its clauses in order, each with the object it names, and every object it mentions."""

    clauses: tuple[Clause, ...] = ()
    objects: tuple[Sighting, ...] = ()

    @property
    def text(self) -> str:
        """The clauses joined, as shown and spoken ('' when there are none)."""
        return JOIN.join(clause.text for clause in self.clauses)


def noun_of(label: str, style: Style) -> Noun:
    """The noun the profile's language says for a class (or the profile's own spoken_name)."""
    return style.lang.noun(label, style.spoken_name(label))


def counted(label: str, count: int, style: Style, article: bool = True) -> str:
    """'a dog', 'an umbrella', 'two people', '12 cars', 'deux personnes'; 'dog' without the article
    (or the noun's own brief form, where the bare noun would be misheard: 'une personne', not 'personne')."""
    lang, noun = style.lang, noun_of(label, style)
    word = noun.form(lang.category(count))
    if count == 1:
        return lang.text("a {noun}", noun.gender, noun=word, grammar=noun) if article else noun.brief or word
    return lang.text("{number} {noun}", number=lang.number(count, noun.gender), noun=word)


def where_words(sighting: Sighting, style: Style) -> str:
    """'on your left', 'slightly right', 'at 2 o'clock', or 'left' when brief."""
    lang, brief = style.lang, style.verbosity == "brief"
    if style.directions == "clock":
        hour = Number(sighting.position.clock, lang.numbers)
        if brief:
            return lang.text("{hour} o'clock", "brief", "{hour} o'clock", sighting.position.clock, hour=hour)
        return lang.text("at {hour} o'clock", None, "at {hour} o'clock", sighting.position.clock, hour=hour)
    side = sighting.position.side
    if brief:
        return lang.text(side, "brief")
    if sighting.position.direction != side:
        return lang.text(SLIGHTLY[side])
    mounted = style.mounted
    return lang.text(SIDES[mounted][side], mounted)


def amount(distance_m: float, style: Style) -> str:
    """A distance in the profile's units: 'about 4 metres', 'about 13 feet', 'about 5 steps'."""
    if style.units == "feet":
        value = distance_m * FEET_PER_METRE
    elif style.units == "steps":
        value = distance_m / style.step_length_m
    else:
        if distance_m < 1:
            return style.lang.text("less than a metre")
        value = distance_m
    whole = max(1, round(value))
    one, many = UNITS[style.units]
    return style.lang.text(one, None, many, whole, amount=Number(whole, style.lang.numbers))


def distance_label(position: Position) -> str:
    """A short distance for screens: '3.9 m', 'close', 'partly in view', or '' when unknown."""
    if position.distance_m is not None:
        return f"{position.distance_m} m"
    return "close" if position.close else "partly in view" if position.partial else ""


def distance_words(sighting: Sighting, style: Style) -> str:
    """'close', 'about 4 metres', 'partly in view', or '' when the distance is unknown."""
    position = sighting.position
    if position.distance_m is not None:
        return amount(position.distance_m, style)
    if position.close:
        return style.lang.text("close")
    return style.lang.text("partly in view") if position.partial else ""


def phrase(members: Sequence[Sighting], style: Style) -> str:
    """One group (same class, same side), at the profile's verbosity; nearest member first."""
    lang, nearest = style.lang, members[0]
    label = nearest.detection.label
    things = counted(label, len(members), style, article=style.verbosity != "brief")
    where = where_words(nearest, style)
    distance = "" if style.verbosity == "brief" else distance_words(nearest, style)
    if style.verbosity == "detailed" and len(members) > 1 and _measured(nearest, style):
        distance = lang.text("nearest {distance}", noun_of(label, style).gender, distance=distance)
    if distance:
        text = lang.text("{things} {where}, {distance}", things=things, where=where, distance=distance)
    else:
        text = lang.text("{things} {where}", things=things, where=where)
    if style.verbosity == "detailed" and max(m.detection.score for m in members) < PROBABLY_BELOW:
        text = lang.text("probably {phrase}", phrase=text)
    return text


def _measured(sighting: Sighting, style: Style) -> bool:
    """Whether the distance is said as a number ('about 4 metres'), which 'nearest' can qualify."""
    distance = sighting.position.distance_m
    return distance is not None and (distance >= 1 or style.units != "metres")


def nearness(sighting: Sighting) -> float:
    """Metres to sort by: 0 for an object cut by the bottom edge, infinity when unknown."""
    if sighting.position.close:
        return 0.0
    return math.inf if sighting.position.distance_m is None else sighting.position.distance_m


def importance(sighting: Sighting, style: Style) -> tuple[bool, int, float]:
    """Sort key, most important first: hazards, then higher priority, then nearer."""
    hazard, priority = style.rank(sighting.detection.label)
    return (not hazard, -priority, nearness(sighting))


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def group_of(sighting: Sighting) -> tuple[str, str]:
    """Which phrase an object is said in: one per class and side ("two people on your left")."""
    return sighting.detection.label, sighting.position.side


def compose(sightings: Sequence[Sighting], style: Style, limit: int | None = None) -> Sentence:
    """One sentence grouping like objects on the same side, most important first: a clause a group.

    Groups are (label, side: left, ahead or right), ordered by hazard, then priority, then nearness, at most
    `limit` (default `max_items_per_sentence`) of them. Each clause names its group's nearest object.
    """
    groups: dict[tuple[str, str], list[Sighting]] = {}
    for sighting in sightings:
        groups.setdefault(group_of(sighting), []).append(sighting)
    ordered = sorted(
        (sorted(members, key=nearness) for members in groups.values()),
        key=lambda members: importance(members[0], style),
    )[: limit or style.max_items]
    phrases = [phrase(members, style) for members in ordered]
    clauses = tuple(Clause(sentence(text) if i == 0 else text, members[0])  # the sentence's first word capitalized
                    for i, (text, members) in enumerate(zip(phrases, ordered)))
    return Sentence(clauses, tuple(s for members in ordered for s in members))


def approach_words(sighting: Sighting, style: Style) -> str:
    """The warning for a hazard closing in: 'Car approaching on your left'."""
    lang, noun = style.lang, noun_of(sighting.detection.label, style)
    return sentence(lang.text("{noun} approaching {where}", noun.gender, noun=noun.form(lang.category(1)),
                              where=where_words(sighting, style), grammar=noun))


def warning(sightings: Sequence[Sighting], style: Style) -> Sentence:
    """Approach warnings for hazards closing in, in the order given: a clause each."""
    return Sentence(tuple(Clause(approach_words(s, style), s) for s in sightings), tuple(sightings))


def gone_words(labels: Sequence[str], style: Style) -> str:
    """'The dog has gone', 'The two dogs have gone; the cat has gone'."""
    lang, parts = style.lang, []
    for label, count in Counter(labels).items():
        noun = noun_of(label, style)
        parts.append(lang.text("the {noun} has gone", noun.gender, "the {number} {noun} have gone", count,
                               noun=noun.form(lang.category(count)), number=lang.number(count, noun.gender),
                               grammar=noun))
    return sentence(JOIN.join(parts))  # no object to place: one centred clause


def sightings_of(detections: Iterable[Detection], frame: Frame, rules: Rules) -> list[Sighting]:
    """The profile's objects in a frame, one per object (duplicates suppressed), with their positions."""
    return judge(tuple(detections), rules, frame.width, frame.height).sightings


def said_at_once(sightings: Sequence[Sighting], frame: Frame, style: Style) -> Utterance:
    """A still image's objects said in one sentence (text may be empty)."""
    said = compose(sightings, style)
    return Utterance(said.text, frame.timestamp_ms, frame.index, said.objects, language=style.language,
                     clauses=said.clauses)


def describe_scene(detections: Iterable[Detection], frame: Frame, rules: Rules) -> Utterance:
    """Everything the profile cares about in one still image, said at once (text may be empty)."""
    return said_at_once(sightings_of(detections, frame, rules), frame, rules.style)
