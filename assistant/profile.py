"""Caregiver profiles: YAML validated by pydantic, with errors that name the file, line and key."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from . import language, shipped
from .calibration import UNCALIBRATED, Calibration
from .core import Detection
from .duplicates import is_duplicate, suppress
from .errors import ProfileError
from .shown import excerpt, is_control, mention, shown
from .speech_engines import AUTO, ENGINES, MAX_RATE_WPM, MIN_RATE_WPM

PROFILE_DIR = shipped.folder("profiles")
MAX_PROFILE_BYTES = 256 * 1024
MAX_DEPTH = 20  # nesting deeper than this is not a profile
MAX_EXTENDS = 8
MAX_FPS = 120  # a frame-rate cap above any camera's rate
WEAK_MARGIN = 0.15  # a box this far under its class's threshold may keep a track alive, never be spoken
UNCLOSED = {"flow sequence": "the list '[' opened here", "flow mapping": "the mapping '{' opened here"}


def class_for(name: str, first: str = language.ENGLISH) -> str:
    """The model class a profile name means: itself, or the class a word in any language stands for
    ("fridge", "TV", "taza", "Tasse"); where languages disagree, `first` (the profile's language) wins."""
    return language.vocabulary(first).get(name.casefold(), name)


def _plain(text: str) -> str:
    """Words to say and show: no control character (a NUL, a newline, an escape code), not blank."""
    if any(is_control(char) for char in text):
        raise ValueError("must be plain words, without control characters such as a newline, NUL or escape code")
    if not text.strip():
        raise ValueError("must not be blank")
    return text


def _wants_a_number(annotation: Any) -> bool:
    """Whether a field's type is a number (int or float, alone or with None), with no room for a bool."""
    kinds = set(get_args(annotation)) - {type(None)} or {annotation}
    return bool(kinds) and kinds <= {int, float}


def words(max_length: int) -> Any:
    """Plain words of 1 to `max_length` characters: a name that is said or shown."""
    return Annotated[str, Field(min_length=1, max_length=max_length), AfterValidator(_plain)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_yes_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        """YAML's `true` is not the number 1: a number field refuses yes/no (`volume: true`)."""
        if isinstance(value, bool) and info.field_name and _wants_a_number(cls.model_fields[info.field_name].annotation):
            raise ValueError("must be a number, not true or false")
        return value


class Voice(_Strict):
    engine: Literal[ENGINES] = Field(  # Literal[a tuple] is Literal of its names
        AUTO, description="auto: stereo through PortAudio (sound) where there is an output device, else "
                          "espeak-ng (Linux) or pyttsx3 playing their own audio"
    )
    voice: str | None = Field(None, description="a voice of its own (an espeak-ng voice such as en-us or es-419, "
                                                "or a pyttsx3 voice id); by default, the profile language's voice")
    rate: int = Field(175, ge=MIN_RATE_WPM, le=MAX_RATE_WPM, description="words per minute")
    volume: float = Field(1.0, ge=0, le=1)
    spatial: bool = Field(True, description="pan each clause to its object's side (needs stereo headphones)")
    earcons: Literal["hazard", "all", "off"] = Field(
        "hazard", description="hazard: a tone before approach warnings; all: also a soft one before new objects")
    pan_strength: float = Field(1.0, ge=0, le=1, description="how far to the side a clause is placed")


class Camera(_Strict):
    hfov_deg: float = Field(60.0, gt=10, lt=170, description="horizontal field of view")
    mounted: Literal["chest", "head", "hand", "table"] = "chest"


class ObjectRule(_Strict):
    """Per-class settings; anything left out comes from `defaults`."""

    min_score: float | None = Field(
        None, ge=0, le=1, description="override the model's calibrated threshold for this class (rarely needed)")
    spoken_name: words(40) | None = None
    priority: StrictInt | None = Field(None, ge=0, le=10)  # strict: YAML's `true` is not a priority of 1
    cooldown_s: float | None = Field(None, ge=0, le=3600)
    hazard: bool | None = None
    announce_gone: bool | None = None
    min_size: float | None = Field(None, ge=0, le=1, description="fraction of the frame height")


class Defaults(_Strict):
    min_score: float | None = Field(
        None, ge=0, le=1, description="override the model's calibrated thresholds for every class (rarely needed)")
    priority: StrictInt = Field(1, ge=0, le=10)
    cooldown_s: float = Field(10.0, ge=0, le=3600)
    hazard: bool = False
    announce_gone: bool = False
    min_size: float = Field(0.0, ge=0, le=1)


@dataclass(frozen=True, slots=True)
class Rule:
    """One class's settings after `defaults` are applied."""

    label: str
    min_score: float
    spoken_name: str | None
    priority: int
    cooldown_s: float
    hazard: bool
    announce_gone: bool
    min_size: float


class Profile(_Strict):
    """What to announce, how sure to be, and how to speak."""

    name: words(80)
    description: str = ""
    extends: str | None = None
    language: str = Field(language.ENGLISH, description="what the assistant speaks: en, es, fr, de or pt")
    voice: Voice = Voice()
    units: Literal["metres", "feet", "steps"] = "metres"
    step_length_m: float = Field(0.75, gt=0.2, lt=2)
    directions: Literal["sides", "clock"] = "sides"
    camera: Camera = Camera()
    verbosity: Literal["brief", "normal", "detailed"] = "normal"
    confirm_frames: int = Field(
        3, ge=1, le=60, description="looks a marginal object needs before it is spoken (within 2 s, not "
                                    "necessarily in a row); one scored well above its threshold needs two")
    max_fps: float | None = Field(
        None, gt=0, le=MAX_FPS, description="look at most this many frames a second: saves battery and heat on a "
                                        "wearable (none: as many as the detector can)")
    max_items_per_sentence: int = Field(3, ge=1, le=10)
    min_gap_s: float = Field(0.0, ge=0, le=60, description="silence between utterances")
    approach_warning_s: float = Field(
        3.0, ge=0, le=30, description="warn when a hazard is this many seconds from reaching you; 0 turns it off"
    )
    freshness_s: float = Field(2.0, gt=0, le=30, description="a sentence not begun this long after it was decided is dropped")
    cover_to_pause: bool = Field(True, description="covering the camera for a second pauses the narration")
    camera_timeout_s: float = Field(
        2.0, ge=0.5, le=60, description="a camera or stream silent this long is said to be lost"
    )
    defaults: Defaults = Defaults()
    objects: dict[str, ObjectRule] = Field(min_length=1)
    _calibration: Calibration | None = PrivateAttr(None)  # the model's thresholds, set by load_profile

    @field_validator("objects", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return _as_mapping(value)

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        codes = language.available()
        if value not in codes:
            close = difflib.get_close_matches(value.lower(), codes, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"is not a language the assistant speaks; {hint}it speaks: {', '.join(codes)}")
        return value

    @property
    def lang(self) -> language.Language:
        """The language the profile speaks: its templates, nouns and grammar."""
        return language.load(self.language)

    @cached_property
    def _rules(self) -> dict[str, Rule]:
        """Every class's merged settings, computed once: they are read for each detection of each frame."""
        return {label: self._merged_rule(label) for label in self.objects}

    def rule(self, label: str) -> Rule:
        """The settings for a class, with `defaults` filled in."""
        return self._rules.get(label) or self._merged_rule(label)

    def _merged_rule(self, label: str) -> Rule:
        own = self.objects.get(label) or ObjectRule()
        d = self.defaults
        return Rule(
            label=label,
            min_score=next(s for s in (own.min_score, d.min_score, self.model_threshold(label)) if s is not None),
            spoken_name=own.spoken_name,
            priority=d.priority if own.priority is None else own.priority,
            cooldown_s=d.cooldown_s if own.cooldown_s is None else own.cooldown_s,
            hazard=d.hazard if own.hazard is None else own.hazard,
            announce_gone=d.announce_gone if own.announce_gone is None else own.announce_gone,
            min_size=d.min_size if own.min_size is None else own.min_size,
        )

    def model_threshold(self, label: str) -> float:
        """The model's calibrated threshold for a class, or UNCALIBRATED for a model without calibration."""
        return UNCALIBRATED if self._calibration is None else self._calibration.threshold(label)

    @property
    def calibration(self) -> Calibration | None:
        return self._calibration

    def cooldown_s(self, label: str) -> float:
        return self.rule(label).cooldown_s

    def min_score(self, label: str) -> float:
        """A class's speaking threshold."""
        return self.rule(label).min_score

    def accepts(self, detection: Detection, frame_height: int) -> bool:
        """A profile class, scored at or above its minimum, and at least `min_size` of the frame tall."""
        return self.rejection(detection, frame_height) is None

    def rejection(self, detection: Detection, frame_height: int) -> str | None:
        """Why the profile drops a detection ('not in profile', '<0.50', 'too small'), or None if kept."""
        if detection.label not in self.objects:
            return "not in profile"
        rule = self.rule(detection.label)
        if detection.score < rule.min_score:
            return f"<{score_text(rule.min_score, threshold=True)}"
        if detection.box.height < rule.min_size * frame_height:
            return "too small"
        return None

    @cached_property
    def lowest_min_score(self) -> float:
        return min(rule.min_score for rule in self._rules.values())

    @property
    def weak_floor(self) -> float:
        """The lowest score of a weak box: what a tracking detector must report down to."""
        return max(0.01, self.lowest_min_score - WEAK_MARGIN)


def score_text(score: float, *, threshold: bool = False) -> str:
    """A score in two decimals that never contradicts the rule it is read against: a detection's
    score rounded down, a threshold rounded up, so a box under its threshold never reads as level
    with it ('0.49 <0.50', not '0.50 <0.50'). The nudge absorbs float error ('0.29' stays 0.29)."""
    hundredths = math.ceil(score * 100 - 1e-9) if threshold else math.floor(score * 100 + 1e-9)
    return f"{hundredths / 100:.2f}"


def speakable(detections: Iterable[Detection], profile: Profile, frame_height: int) -> list[Detection]:
    """What the profile lets through, one box per object, best first. Duplicates are suppressed
    among the boxes the profile would speak, so a dog also seen as a cat is one dog, and a class
    the profile leaves out never silences one it names (a car-only profile still hears a car
    that the model thinks is more likely a truck)."""
    return list(suppress(d for d in detections if profile.accepts(d, frame_height)))


def weak_boxes(detections: Iterable[Detection], profile: Profile, frame_height: int,
               kept: Sequence[Detection]) -> list[Detection]:
    """Boxes of the profile's classes scored under their threshold by at most WEAK_MARGIN, big
    enough, and not on an object `kept` (the speakable boxes) already reports: they may keep a
    track alive through a flicker of its score, but are never spoken."""
    weak = []
    for detection in sorted(detections, key=lambda d: d.score, reverse=True):
        if detection.label not in profile.objects:
            continue
        rule = profile.rule(detection.label)
        if (rule.min_score - WEAK_MARGIN <= detection.score < rule.min_score
                and detection.box.height >= rule.min_size * frame_height
                and not any(is_duplicate(detection, other) for other in (*kept, *weak))):
            weak.append(detection)
    return weak


_NO_VALUE = object()  # a Problem about a key as a whole, with no value to show


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a profile file."""

    file: Path
    line: int | None
    path: str
    value: Any
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        if not self.path:
            return shown(f"{where}: {self.message}")
        value = "" if self.value is _NO_VALUE else f" = {excerpt(self.value)}"
        return shown(f"{where}: {self.path}{value}: {self.message}")


class ProfileProblems(ProfileError):
    """Every problem found in a profile, one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def profile_path(spec: str | None) -> Path:
    """A shipped profile's file for a bare name, else the path as given."""
    spec = spec or "default"
    if "/" not in spec and not spec.endswith((".yaml", ".yml")):
        return PROFILE_DIR / f"{spec}.yaml"
    return Path(spec).expanduser()


def shipped_profiles() -> list[Path]:
    return sorted(PROFILE_DIR.glob("*.yaml"))


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader without aliases (no 'billion laughs') and with a nesting limit."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(None, None, "aliases (*name) are not allowed in a profile", event.start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.MarkedYAMLError(None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _read(path: Path, spec: str | None) -> tuple[Any, yaml.Node | None]:
    """The YAML data of a profile file and its node tree (for line numbers); ProfileError if unreadable."""
    def fail(message: str) -> ProfileError:
        return ProfileProblems([Problem(path, None, "", _NO_VALUE, message)])

    if not path.exists():
        shipped = ", ".join(p.stem for p in shipped_profiles())
        raise fail(f"no such profile {mention(spec or path)}; shipped profiles are: {shipped}.")
    if not path.is_file():
        raise fail("is not a file.")
    try:
        if path.stat().st_size > MAX_PROFILE_BYTES:
            raise fail(f"is larger than {MAX_PROFILE_BYTES // 1024} KB; a profile is a short text file.")
        with path.open("rb") as file:
            raw = file.read(MAX_PROFILE_BYTES + 1)
    except OSError as exc:
        raise fail(f"cannot be read: {exc.strerror or exc}.") from None
    if len(raw) > MAX_PROFILE_BYTES:  # a special file whose size says 0, such as /proc files
        raise fail(f"is larger than {MAX_PROFILE_BYTES // 1024} KB; a profile is a short text file.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise fail("is not a text file (it is not UTF-8).") from None
    if "\x00" in text:
        raise fail("is not a text file (it contains NUL bytes).")
    if not text.strip():
        raise fail("is empty; a profile needs at least 'name' and 'objects'.")
    loader = None
    try:
        loader = _SafeLoader(text)  # the reader already rejects control characters here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = (getattr(exc, "problem", None) or getattr(exc, "reason", None) or "invalid YAML").rstrip(".")
        opened = next((v for k, v in UNCLOSED.items() if k in (getattr(exc, "context", None) or "")), None)
        if opened and "<stream end>" in problem:  # say where the bracket was opened, not where the file ends
            mark, problem = exc.context_mark, f"{opened} is never closed"
        where = f", column {mark.column + 1}" if mark else ""
        raise ProfileProblems(
            [Problem(path, mark.line + 1 if mark else None, "", _NO_VALUE, f"YAML syntax error{where}: {problem}.")]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        raise fail("must be a YAML mapping with at least 'name' and 'objects'.")
    if not any(_like_a_setting(key) for key in data):  # /etc/shadow: its lines must not be quoted back
        raise fail("is not a profile: none of its keys is a profile setting such as 'name' or 'objects'.")
    return data, node


def _like_a_setting(key: object) -> bool:
    """A profile's own key, or one close enough to be a typo of it."""
    return isinstance(key, str) and bool(difflib.get_close_matches(key, list(Profile.model_fields), n=1))


def _line_of(node: yaml.Node | None, loc: Iterable[object]) -> tuple[int | None, bool]:
    """The 1-based line of the deepest node along a key path, and whether the whole path exists."""
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            key, node = next(
                ((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)), (None, None))
        elif isinstance(node, yaml.SequenceNode):
            items = node.value
            key = node = items[part] if isinstance(part, int) and part < len(items) else next(
                (i for i in items if isinstance(i, yaml.ScalarNode) and i.value == str(part)), None)
        else:
            key = None
        if key is None:
            return line, False
        line = key.start_mark.line + 1
    return line, True


def _as_mapping(objects: object) -> object:
    """`objects: [cup, chair]` and `cup:` with nothing both mean the class with the defaults.

    Done before `extends` merges, so a child's bare `cup:` keeps the parent's settings for cup.
    """
    if isinstance(objects, list) and all(isinstance(v, str) for v in objects):
        return {label: {} for label in objects}
    if isinstance(objects, dict):
        return {label: ({} if rule is None else rule) for label, rule in objects.items()}
    return objects


def _merge(base: dict, override: dict) -> dict:
    """`override` on top of `base`, recursively for mappings (so `objects` add to the parent's)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _parent_path(spec: str, child: Path) -> Path:
    """`extends: street` names a sibling or shipped profile; anything with a slash or .yaml is a path."""
    if "/" not in spec and not spec.endswith((".yaml", ".yml")):
        sibling = child.parent / f"{spec}.yaml"
        return sibling if sibling.exists() else PROFILE_DIR / f"{spec}.yaml"
    path = Path(spec).expanduser()
    return path if path.is_absolute() else child.parent / path


Chain = list[tuple[Path, "yaml.Node | None"]]


def _with_parents(path: Path, spec: str | None, seen: tuple[Path, ...] = ()) -> tuple[dict, Chain]:
    """The merged raw data of a profile and the chain of files it extends, child first."""
    data, node = _read(path, spec)
    if "objects" in data:
        data["objects"] = _as_mapping(data["objects"])
    parent_spec = data.get("extends")
    if not isinstance(parent_spec, str):  # absent, or a bad type that validation reports
        return data, [(path, node)]
    parent = _parent_path(parent_spec, path)
    if parent.resolve() in (*seen, path.resolve()) or len(seen) >= MAX_EXTENDS:
        raise ProfileProblems([Problem(path, _line_of(node, ["extends"])[0], "extends", parent_spec,
                                       "profiles extend each other in a loop.")])
    base, chain = _with_parents(parent, parent_spec, (*seen, path.resolve()))
    inherited = {k: v for k, v in base.items() if k not in ("name", "description", "extends")}
    return _merge(inherited, data), [(path, node), *chain]


def profile_files(spec: str | None) -> list[Path]:
    """The profile's file and every file it extends, child first (for commands to protect as inputs)."""
    return [path for path, _ in _with_parents(profile_path(spec), spec)[1]]


def load_profile(spec: str | None = None, known_labels: Iterable[str] | None = None,
                 note: Callable[[str], None] = lambda message: None, calibration: Calibration | None = None) -> Profile:
    """Load, merge (`extends`) and validate a profile by shipped name or path.

    With `known_labels` (the model's label map), every class must be one the model knows.
    `calibration` gives each class the model's threshold where the profile sets no `min_score`.
    A common name such as "fridge" stands for its class; `note` hears once which one.
    Raises ProfileProblems listing every problem, each with file, line and key path.
    """
    path = profile_path(spec)
    data, chain = _with_parents(path, spec)
    data.setdefault("name", path.stem)
    problems = []
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        profile = None
        problems = [_problem(error, chain) for error in exc.errors()]
    first = data.get("language") if data.get("language") in language.available() else language.ENGLISH
    if known_labels is not None and isinstance(data.get("objects"), (dict, list)):
        problems += _unknown_labels(list(data["objects"]), set(known_labels) - {"???", ""}, chain, first)
    if problems:
        raise ProfileProblems(sorted(problems, key=lambda p: (str(p.file), p.line or 0)))
    meaning = {name: class_for(name, first) for name in profile.objects}
    for name, label in meaning.items():
        if label != name:
            note(f"{path}: '{name}' means the class '{label}'.")
    if any(label != name for name, label in meaning.items()):
        objects = {meaning[name]: rule for name, rule in profile.objects.items()}
        profile = profile.model_copy(update={"objects": objects})
    profile._calibration = calibration  # before any rule is read and cached
    return profile


def _locate(loc: tuple, chain: Chain) -> tuple[Path, int | None]:
    """The file in the extends chain that sets this key path, and its line."""
    for file, node in chain:
        line, complete = _line_of(node, loc)
        if complete:
            return file, line
    file, node = chain[0]
    return file, _line_of(node, loc)[0]


FRIENDLY = {
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "literal_error": "must be one of: {expected}",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "missing": "is required",
    "dict_type": "must be a mapping of settings (key: value lines)",
    "model_type": "must be a mapping of settings (key: value lines)",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
    "value_error": "{error}",
}


def _problem(error: dict, chain: Chain) -> Problem:
    loc = tuple(error["loc"])
    file, line = _locate(loc, chain)
    path = " -> ".join(mention(part) for part in loc)
    if error["type"] == "extra_forbidden":
        owner = _model_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), list(owner.model_fields), n=1) if owner else []
        hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(owner.model_fields)}." if owner else "."
        return Problem(file, line, path, _NO_VALUE, f"is not a setting here{hint}")
    template = FRIENDLY.get(error["type"])
    message = template.format(**error.get("ctx", {})) if template else error["msg"]
    value = _NO_VALUE if error["type"] == "missing" else error.get("input")
    return Problem(file, line, path, value, f"{message}.")


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The settings model that owns a key path, for suggesting the right key."""
    model: type[BaseModel] | None = Profile
    for part in loc:
        if model is Profile and part == "objects":
            return ObjectRule if len(loc) == 2 else None
        field = model.model_fields.get(str(part)) if model else None
        annotation = field.annotation if field else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model


def _unknown_labels(labels: list, known: set[str], chain: Chain, first: str) -> Iterator[Problem]:
    """Names that are no class of the model, with the closest class or word in the profile's language."""
    if not known:
        return
    words = sorted({*known, *language.load(first).words()})
    for label in labels:
        if isinstance(label, str) and class_for(label, first) not in known:
            close = difflib.get_close_matches(label.casefold(), words, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else "; 'assistant profiles list' shows examples."
            file, line = _locate(("objects", label), chain)
            yield Problem(file, line, f"objects -> {mention(label)}", _NO_VALUE,
                          f"{excerpt(label)} is not a class this model knows{hint}")
