"""A model's own speaking thresholds: per-class scores measured on labelled data, kept beside the model.

A score threshold is a property of the model, not of the caregiver: 0.45 from one detector means
something else from another. So each model may carry a calibration file,
`<model stem>.calibration.json`, made by `assistant dataset calibrate`. It names the model's
sha256 and label map, and is refused for any other model. A model without one speaks at
UNCALIBRATED for every class, and a profile's `min_score` still overrides either.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelError
from . import models

UNCALIBRATED = 0.5  # the threshold of every class of a model with no calibration
FORMAT = "assistant-calibration/1"
SUFFIX = ".calibration.json"


class CalibrationError(ModelError):
    """A calibration file that is corrupt or made for another model."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """Per-class thresholds of one model: `default` for every class, `thresholds` where a class was
    moved from it on evidence. `report` keeps how they were chosen (sets, folds, figures)."""

    model_sha256: str
    labels: tuple[str, ...]
    default: float
    thresholds: Mapping[str, float]
    report: dict = field(default_factory=dict)

    def threshold(self, label: str) -> float:
        return self.thresholds.get(label, self.default)

    def to_json(self) -> dict:
        return {"format": FORMAT, "model": {"sha256": self.model_sha256, "labels": list(self.labels)},
                "default": self.default, "thresholds": dict(sorted(self.thresholds.items())), "report": self.report}


def calibration_dir() -> Path:
    """Where calibrations go when the model's own folder cannot be written."""
    return models.cache_dir().parent / "calibration"


def candidates(model_path: Path) -> list[Path]:
    """Where a model's calibration is looked for, in order: beside it, the user cache, the shipped models/."""
    name = model_path.stem + SUFFIX
    return [model_path.parent / name, calibration_dir() / name, models.PROJECT_MODEL_DIR / name]


def find(model_path: Path) -> Path | None:
    return next((p for p in candidates(model_path) if p.is_file()), None)


def load(path: Path, model_path: Path) -> Calibration:
    """Read a calibration file and check it belongs to this model; CalibrationError otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError("format")
        model = data["model"]
        calibration = Calibration(str(model["sha256"]), tuple(str(x) for x in model["labels"]),
                                  float(data["default"]), {str(k): float(v) for k, v in data["thresholds"].items()},
                                  dict(data.get("report") or {}))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        raise CalibrationError(f"Calibration file {path} is corrupt; delete it or make it again with "
                               "'assistant dataset calibrate'.") from None
    scores = [calibration.default, *calibration.thresholds.values()]
    if not all(0 <= s <= 1 for s in scores):
        raise CalibrationError(f"Calibration file {path} has a threshold outside 0 to 1; make it again with "
                               "'assistant dataset calibrate'.")
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
    unknown = sorted(set(calibration.thresholds) - set(own)) if own else []
    if unknown:
        raise CalibrationError(f"Calibration file {path} names classes this model does not know ({', '.join(unknown)}).")


def for_model(model_path: Path) -> Calibration | None:
    """The model's calibration, or None when it has none; CalibrationError if the one found is bad."""
    path = find(model_path)
    return None if path is None else load(path, model_path)


def write(calibration: Calibration, model_path: Path, out: Path | None = None) -> Path:
    """Write atomically to `out`, else beside the model, else (a read-only model folder) the user cache."""
    name = model_path.stem + SUFFIX
    targets = [out] if out is not None else [model_path.parent / name, calibration_dir() / name]
    text = json.dumps(calibration.to_json(), indent=1) + "\n"
    failure = "no place to write"
    for target in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        except OSError as exc:
            failure = exc.strerror or str(exc)
            continue
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, target)
            return target
        except OSError as exc:
            failure = exc.strerror or str(exc)
            Path(temporary).unlink(missing_ok=True)
    raise CalibrationError(f"Cannot write the calibration ({failure}); pass --out with a file you can write.")
