"""Caregiver profiles: the schema of a profile, a plain validated value (profile_files.py reads the YAML)."""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
)

from ..language import catalog as language
from ..process.shown import is_control
from ..speech.engine_names import AUTO, ENGINES, MAX_RATE_WPM, MIN_RATE_WPM

MAX_FPS = 120  # a frame-rate cap above any camera's rate


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

    @field_validator("objects", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return as_mapping(value)

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


def as_mapping(objects: object) -> object:
    """`objects: [cup, chair]` and `cup:` with nothing both mean the class with the defaults.

    Done before `extends` merges, so a child's bare `cup:` keeps the parent's settings for cup.
    """
    if isinstance(objects, list) and all(isinstance(v, str) for v in objects):
        return {label: {} for label in objects}
    if isinstance(objects, dict):
        return {label: ({} if rule is None else rule) for label, rule in objects.items()}
    return objects
