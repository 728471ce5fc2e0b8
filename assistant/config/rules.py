"""A profile's rules under a model's calibration: every class's thresholds and settings, fixed when built.

`Rules(profile, calibration)` is made once at load time and again on each reload; whoever needs a
threshold, a cooldown or a hazard flag takes `Rules`, never a bare `Profile`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .calibration import UNCALIBRATED, Calibration
from .profile import ObjectRule, Profile
from .profile_files import load_profile
from .style import Style

WEAK_MARGIN = 0.15  # a box this far under its class's threshold may keep a track alive, never be spoken


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


@dataclass(frozen=True, slots=True)
class Rules:
    """The profile's classes with their merged rules; the thresholds come from the profile's
    `min_score` where set, else from the model's calibration, else UNCALIBRATED."""

    profile: Profile
    calibration: Calibration | None = None
    by_label: Mapping[str, Rule] = field(init=False, repr=False)
    lowest_min_score: float = field(init=False)
    style: Style = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_label = {label: self._merged(label) for label in self.profile.objects}
        object.__setattr__(self, "by_label", by_label)
        object.__setattr__(self, "lowest_min_score", min(rule.min_score for rule in by_label.values()))
        object.__setattr__(self, "style", Style.of(self.profile, by_label, self._merged("")))

    @property
    def labels(self) -> frozenset[str]:
        """The profile's classes: the only ones ever spoken."""
        return frozenset(self.by_label)

    @property
    def weak_floor(self) -> float:
        """The lowest score of a weak box: what a tracking detector must report down to."""
        return max(0.01, self.lowest_min_score - WEAK_MARGIN)

    def rule(self, label: str) -> Rule:
        """A class's settings; a class the profile leaves out gets `defaults` and the model's threshold."""
        return self.by_label.get(label) or self._merged(label)

    def min_score(self, label: str) -> float:
        """A class's speaking threshold."""
        return self.rule(label).min_score

    def cooldown_s(self, label: str) -> float:
        return self.rule(label).cooldown_s

    def model_threshold(self, label: str) -> float:
        """The model's calibrated threshold for a class, or UNCALIBRATED for a model without calibration."""
        return UNCALIBRATED if self.calibration is None else self.calibration.threshold(label)

    def _merged(self, label: str) -> Rule:
        own, d = self.profile.objects.get(label) or ObjectRule(), self.profile.defaults
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


def load_rules(spec: str | None = None, known_labels: Iterable[str] | None = None,
               note: Callable[[str], None] = lambda message: None, calibration: Calibration | None = None) -> Rules:
    """`load_profile` (see there), under the model's `calibration`."""
    return Rules(load_profile(spec, known_labels, note), calibration)
