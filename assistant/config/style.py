"""How sentences are worded: the part of a profile that wording.py reads, and nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..language import catalog as language

if TYPE_CHECKING:
    from .profile import Profile
    from .rules import Rule


@dataclass(frozen=True, slots=True)
class Style:
    """Language, verbosity, units, directions, the camera's mount, the sentence length, and per class
    its spoken name and rank (hazard, priority) for ordering clauses."""

    language: str = language.ENGLISH
    verbosity: str = "normal"
    units: str = "metres"
    step_length_m: float = 0.75
    directions: str = "sides"
    mounted: str = "chest"
    max_items: int = 3
    spoken_names: Mapping[str, str | None] = field(default_factory=dict)  # label -> the profile's own name
    ranks: Mapping[str, tuple[bool, int]] = field(default_factory=dict)  # label -> (hazard, priority)
    default_rank: tuple[bool, int] = (False, 1)  # for a class the profile leaves out

    @classmethod
    def of(cls, profile: Profile, rules: Mapping[str, Rule], default: Rule) -> Style:
        """The wording settings of a profile whose classes have these merged `rules`."""
        return cls(profile.language, profile.verbosity, profile.units, profile.step_length_m, profile.directions,
                   profile.camera.mounted, profile.max_items_per_sentence,
                   {label: rule.spoken_name for label, rule in rules.items()},
                   {label: (rule.hazard, rule.priority) for label, rule in rules.items()},
                   (default.hazard, default.priority))

    @property
    def lang(self) -> language.Language:
        """The language spoken: its templates, nouns and grammar."""
        return language.load(self.language)

    def spoken_name(self, label: str) -> str | None:
        return self.spoken_names.get(label)

    def rank(self, label: str) -> tuple[bool, int]:
        """(hazard, priority) of a class."""
        return self.ranks.get(label, self.default_rank)
