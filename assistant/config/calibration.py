"""A model's own speaking thresholds: per-class scores measured on labelled data, kept beside the model.

A score threshold is a property of the model, not of the caregiver: 0.45 from one detector means
something else from another. So each model may carry a calibration file,
`<model stem>.calibration.json`, made by `assistant dataset calibrate`. It names the model's
sha256 and label map, and is refused for any other model. A model without one speaks at
UNCALIBRATED for every class, and a profile's `min_score` still overrides either.

A threshold is the score a box needs to be said: 0 would say every candidate the detector has and
1 silences everything, so a file is refused unless each threshold is a number strictly between them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AssistantError, ModelError
from ..process import outputs
from . import models

UNCALIBRATED = 0.5  # the threshold of every class of a model with no calibration
FORMAT = "assistant-calibration/1"
SUFFIX = ".calibration.json"
KEYS = frozenset({"format", "model", "default", "thresholds", "report"})


class CalibrationError(ModelError):
    """A calibration file that is corrupt or made for another model."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """Per-class thresholds of one model: `default` for every class, `thresholds` where a class was
    moved from it on evidence. `report` keeps how they were chosen (sets, folds, figures); `source`
    is the file it was read from, if any."""

    model_sha256: str
    labels: tuple[str, ...]
    default: float
    thresholds: Mapping[str, float]
    report: dict = field(default_factory=dict)
    source: Path | None = field(default=None, compare=False)

    def threshold(self, label: str) -> float:
        return self.thresholds.get(label, self.default)

    def to_json(self) -> dict:
        return {"format": FORMAT, "model": {"sha256": self.model_sha256, "labels": list(self.labels)},
                "default": self.default, "thresholds": dict(sorted(self.thresholds.items())), "report": self.report}

    def summary(self) -> str:
        """The thresholds in a few words: the default, then each class moved from it."""
        moved = ", ".join(f"{c} {t}" for c, t in sorted(self.thresholds.items())) or "no class moved from it"
        return f"{self.default} for every class; {moved}"


def calibration_dir() -> Path:
    """Where calibrations go when the model's own folder cannot be written."""
    return models.cache_dir().parent / "calibration"


def places(model_path: Path) -> list[tuple[Path, str]]:
    """Where a model's calibration is looked for, in order, each with the words for where that is."""
    name = model_path.stem + SUFFIX
    return [(model_path.parent / name, "beside the model"), (calibration_dir() / name, "the user cache"),
            (models.PROJECT_MODEL_DIR / name, "the shipped models/")]


def candidates(model_path: Path) -> list[Path]:
    """Where a model's calibration is looked for, in order: beside it, the user cache, the shipped models/."""
    return [path for path, _ in places(model_path)]


def find(model_path: Path) -> Path | None:
    return next((p for p in candidates(model_path) if p.is_file()), None)


def in_use(found: Calibration | None, model_path: Path) -> str:
    """One sentence for the start of a run: which calibration applies, and where it came from."""
    if found is None or found.source is None:
        where = ", ".join(words for _, words in places(model_path))
        return (f"Not calibrated: every class is spoken at {UNCALIBRATED} (no {model_path.stem}{SUFFIX} {where}; "
                "see 'assistant dataset calibrate').")
    words = next((w for p, w in places(model_path) if p == found.source), "given")
    return f"Calibration from {words} ({found.source}): {found.summary()}."


def _shown(value: object) -> str:
    """A value from a file as a message may show it: JSON-escaped (no control characters), cut short."""
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _threshold(value: object, where: str, path: Path) -> float:
    """A threshold from the file: a JSON number strictly between 0 and 1 (0 says everything, 1 nothing)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 < value < 1:
        raise CalibrationError(f"Calibration file {path} gives {where} = {_shown(value)}, but a threshold must be a "
                               "number more than 0 and less than 1; make it again with 'assistant dataset calibrate'.")
    return float(value)


def _parse(data: object, path: Path) -> Calibration:
    """The calibration in a file's JSON, checked key by key; CalibrationError names what is wrong."""
    corrupt = CalibrationError(f"Calibration file {path} is corrupt; delete it or make it again with "
                               "'assistant dataset calibrate'.")
    if not isinstance(data, dict) or data.get("format") != FORMAT or not KEYS >= set(data) or \
            not isinstance(data.get("model"), dict) or not isinstance(data.get("thresholds"), dict):
        raise corrupt
    model, report = data["model"], data.get("report") or {}
    sha256, labels = model.get("sha256"), model.get("labels")
    if not isinstance(sha256, str) or not isinstance(labels, list) or not all(isinstance(x, str) for x in labels) \
            or not isinstance(report, dict) or "default" not in data:
        raise corrupt
    default = _threshold(data["default"], "default", path)
    thresholds = {k: _threshold(v, f"thresholds -> {_shown(k)}", path) for k, v in data["thresholds"].items()}
    return Calibration(sha256, tuple(labels), default, thresholds, report, path)


def load(path: Path, model_path: Path) -> Calibration:
    """Read a calibration file and check it belongs to this model; CalibrationError otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise CalibrationError(f"Calibration file {path} is corrupt; delete it or make it again with "
                               "'assistant dataset calibrate'.") from None
    calibration = _parse(data, path)
    _check_model(calibration, path, model_path)
    return calibration


def _check_model(calibration: Calibration, path: Path, model_path: Path) -> None:
    """Refuse a calibration made for another model: other labels, or other bytes."""
    own = models.labels(model_path)
    if own and calibration.labels != own:
        differ = next((f"class {i} is {a!r} there but {b!r} here" for i, (a, b) in enumerate(zip(calibration.labels, own))
                       if a != b), f"it has {len(calibration.labels)} classes, this model {len(own)}")
        raise CalibrationError(f"Calibration file {path} was made for a model with other labels ({differ}); "
                               f"it cannot apply to {model_path.name}. Delete it or calibrate this model.")
    if calibration.model_sha256 != models.sha256_of(model_path):
        raise CalibrationError(f"Calibration file {path} was made for another model (sha256 "
                               f"{calibration.model_sha256[:12]}...), not {model_path.name}; scores differ between "
                               "models, so delete it or calibrate this model.")
    unknown = sorted(set(calibration.thresholds) - models.classes(own)) if own else []
    if unknown:
        raise CalibrationError(f"Calibration file {path} names classes this model does not know "
                               f"({', '.join(map(_shown, unknown))}).")


def for_model(model_path: Path) -> Calibration | None:
    """The model's calibration, or None when it has none; CalibrationError if the one found is bad."""
    path = find(model_path)
    return None if path is None else load(path, model_path)


def write(calibration: Calibration, model_path: Path, out: Path | None = None) -> Path:
    """Write with outputs.replace (atomic, keeping the replaced file's mode) to `out`, else beside the
    model, else (a read-only model folder) the user cache."""
    name = model_path.stem + SUFFIX
    targets = [out] if out is not None else [model_path.parent / name, calibration_dir() / name]
    text = json.dumps(calibration.to_json(), indent=1) + "\n"
    failure = "no place to write"
    for target in targets:
        try:
            outputs.replace(target, text.encode("utf-8"))
            return target
        except OSError as exc:
            failure = exc.strerror or str(exc)
        except AssistantError as exc:  # a link or a folder holds the name
            failure = str(exc).rstrip(".")
    raise CalibrationError(f"Cannot write the calibration ({failure}); pass --out with a file you can write.")
