"""`assistant models list|fetch|remove`: the known detection models (shipped and trained), whether each is
present and calibrated; downloading a shipped one, removing a trained one."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import calibration, models
from ..process.run_context import RunContext
from ..process.shown import shown
from ..process.signals import EXIT_OK


def cmd_models_list(args: argparse.Namespace, context: RunContext) -> int:
    for entry in models.status():
        state = "verified" if entry.verified else ("CHECKSUM MISMATCH" if entry.path else "not present")
        where = f" at {entry.path}" if entry.path else ""
        kind = "official" if entry.info.official else "trained" if entry.info.trained else "local"
        print(shown(f"{entry.info.name} ({kind}, {entry.info.size / 1e6:.1f} MB): {state}{where}"))
        print(shown(f"    {entry.info.description}"))
        if entry.info.trained:
            print(shown(f"    {training_summary(entry.info)}"))
        if entry.verified:
            print(f"    {calibration_state(entry.path)}")
    print(f"Searched: {', '.join(str(d) for d in models.search_dirs())} (set ${models.MODEL_DIR_ENV} to add one).")
    return EXIT_OK


def training_summary(info: models.ModelInfo) -> str:
    """A trained model's classes and what it learnt from, in one line: "door, stairs; trained on 412 photos"."""
    names = ", ".join(sorted(models.classes(info.labels))) or "no classes"
    photos = info.training.get("images") if info.training else None
    return names + (f"; trained on {photos} photos" if isinstance(photos, int) and not isinstance(photos, bool) else "")


def calibration_state(model_path: Path) -> str:
    """One line on a model's speaking thresholds: calibrated (and where), not calibrated, or refused."""
    path = calibration.find(model_path)
    if path is None:
        return f"not calibrated: every class is spoken at {calibration.UNCALIBRATED} (see 'assistant dataset calibrate')"
    try:
        found = calibration.load(path, model_path)
    except calibration.CalibrationError as exc:
        return f"calibration refused: {exc}"
    return f"calibrated ({path}): {found.summary()}"


def cmd_models_fetch(args: argparse.Namespace, context: RunContext) -> int:
    info = models.info_by_name(args.name or models.load_manifest()[1])
    present = models.find_local(info)
    if present is not None:
        models.verify(present, info)
        print(f"{info.name}: already present and verified at {present}")
        return EXIT_OK
    path = models.fetch(info)
    print(f"{info.name}: verified at {path}")
    return EXIT_OK


def cmd_models_remove(args: argparse.Namespace, context: RunContext) -> int:
    removed = models.remove(args.name)
    print(shown(f"Removed the trained model {args.name}" + (f" ({', '.join(map(str, removed))})." if removed else
                                                           " (its files were already gone).")))
    return EXIT_OK
