"""Caregiver profiles: YAML validated by pydantic, with errors a person can act on."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .core import Detection
from .errors import ProfileError

PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles"
MAX_PROFILE_BYTES = 256 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Voice(_Strict):
    rate: int = Field(175, ge=80, le=450, description="words per minute")


class Camera(_Strict):
    hfov_deg: float = Field(60.0, gt=10, lt=170, description="horizontal field of view")


class ObjectRule(_Strict):
    """Per-class settings; anything left out comes from `defaults`."""

    min_score: float | None = Field(None, ge=0, le=1)
    priority: int | None = Field(None, ge=0, le=10)
    cooldown_s: float | None = Field(None, ge=0, le=3600)


class Defaults(_Strict):
    min_score: float = Field(0.5, ge=0, le=1)
    priority: int = Field(1, ge=0, le=10)
    cooldown_s: float = Field(10.0, ge=0, le=3600)


class Profile(_Strict):
    """What to announce, how sure to be, and how to speak."""

    name: str
    description: str = ""
    voice: Voice = Voice()
    camera: Camera = Camera()
    confirm_frames: int = Field(3, ge=1, le=60, description="frames an object must be seen before it is spoken")
    max_items_per_sentence: int = Field(3, ge=1, le=10)
    defaults: Defaults = Defaults()
    objects: dict[str, ObjectRule] = Field(min_length=1)

    @field_validator("objects", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        """`objects: [cup, chair]` means each class with the defaults."""
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return {label: {} for label in value}
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    def min_score(self, label: str) -> float:
        rule = self.objects.get(label)
        return self.defaults.min_score if rule is None or rule.min_score is None else rule.min_score

    def priority(self, label: str) -> int:
        rule = self.objects.get(label)
        return self.defaults.priority if rule is None or rule.priority is None else rule.priority

    def cooldown_s(self, label: str) -> float:
        rule = self.objects.get(label)
        return self.defaults.cooldown_s if rule is None or rule.cooldown_s is None else rule.cooldown_s

    def accepts(self, detection: Detection) -> bool:
        """True for a class in the profile scored at or above its minimum."""
        return detection.label in self.objects and detection.score >= self.min_score(detection.label)

    @property
    def lowest_min_score(self) -> float:
        return min(self.min_score(label) for label in self.objects)


def profile_path(spec: str | None) -> Path:
    """A shipped profile's file for a bare name, else the path as given."""
    spec = spec or "default"
    if "/" not in spec and not spec.endswith((".yaml", ".yml")):
        return PROFILE_DIR / f"{spec}.yaml"
    return Path(spec).expanduser()


def load_profile(spec: str | None = None) -> Profile:
    """Load and validate a profile by shipped name or path; ProfileError says what is wrong."""
    path = profile_path(spec)
    if not path.exists():
        shipped = ", ".join(sorted(p.stem for p in PROFILE_DIR.glob("*.yaml")))
        raise ProfileError(f"Profile {spec!r} not found: no file {path} (shipped profiles: {shipped}).")
    if not path.is_file():
        raise ProfileError(f"Profile {path} is not a file.")
    if path.stat().st_size > MAX_PROFILE_BYTES:
        raise ProfileError(f"Profile {path} is larger than {MAX_PROFILE_BYTES // 1024} KB; a profile is a short text file.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ProfileError(f"Profile {path} is not a text file.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ProfileError(f"Profile {path} has a YAML syntax error{where}: {problem}.") from None
    if not isinstance(data, dict):
        raise ProfileError(f"Profile {path} must be a YAML mapping with at least 'name' and 'objects'.")
    data.setdefault("name", path.stem)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ProfileError(f"Profile {path} is not valid: {problems}.") from None


def _describe(error: dict) -> str:
    where = " -> ".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{where} is not a setting a profile can have"
    return f"{where} = {error.get('input')!r}: {error['msg'][0].lower()}{error['msg'][1:]}"


def check_labels(profile: Profile, known: Iterable[str]) -> None:
    """Raise ProfileError for any class the model does not know, with a suggestion."""
    known = sorted(set(known) - {"???", ""})
    if not known:
        return
    problems = []
    for label in profile.objects:
        if label not in known:
            close = difflib.get_close_matches(label, known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{label!r} is not a class this model knows{hint}")
    if problems:
        raise ProfileError(f"Profile {profile.name!r}: " + "; ".join(problems) + ".")
