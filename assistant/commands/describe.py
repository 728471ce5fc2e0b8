"""`assistant describe`: say what is in each image, and draw its debug view if asked."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import calibration
from ..config.rules import Rules
from ..errors import AssistantError
from ..process import outputs
from ..process.run_context import RunContext
from ..process.shown import shown
from ..process.signals import EXIT_OK
from .checks import model_inputs
from .common import EXIT_BAD_INPUT, load, note, report, warn


def cmd_describe(args: argparse.Namespace, context: RunContext) -> int:
    from ..narration.wording import distance_label
    from ..runtime.loop import detector_for
    from ..runtime.stills import describe_image
    from ..sources.imaging import cut_off_warning, images_in
    from ..vision.speaking import score_text

    rules, model_path, _ = load(args.profile, args.model)
    failed = 0
    images = [image for spec in args.images for image in images_in(spec)]
    several = len(images) > 1
    debug_out = Path(args.debug_out) if args.debug_out else None
    if debug_out is not None and several and debug_out.suffix.lower() == ".png":
        raise AssistantError(f"With several images, --debug-out must be a folder, not {debug_out}.")
    candidates = min(args.candidates, args.threshold or 1.0) if debug_out else None
    if debug_out is not None:
        outputs.check([*model_inputs(args.profile, model_path), *images],
                      [outputs.Target(f"--debug-out (for {image})", _still_view_path(image, debug_out, several))
                       for image in images])
    unsaid = [calibration.in_use(rules.calibration, model_path)]  # said once an image is described
    with detector_for(model_path, rules, video=False, candidates=candidates) as detector:
        for image in images:
            try:
                result = describe_image(image, detector, rules)
                while unsaid:
                    note(unsaid.pop())
                warning = cut_off_warning(image)
                if warning:
                    warn(warning)
                if debug_out is not None:
                    _draw_still(result, rules, args.threshold, debug_out, several=several)
            except AssistantError as exc:
                report(exc, args.verbose)
                failed += 1
                continue
            if args.json:
                print(json.dumps(result.to_json()), flush=True)
            else:
                print(shown(f"{image}: {result.utterance.text}"))
                for s in result.utterance.objects:
                    print(f"  {s.detection.label} {score_text(s.detection.score)} {s.position.direction} "
                          f"({s.position.clock} o'clock) {distance_label(s.position) or 'distance unknown'}")
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _still_view_path(image: Path, out: Path, several: bool) -> Path:
    return out / f"{image.stem}.png" if several or out.is_dir() else out


def _draw_still(result, rules: Rules, threshold: float | None, out: Path, several: bool) -> None:
    """Write one image's debug view: to `out` itself, or into the folder `out` when there are several."""
    from ..view.viewer import still_view, write_png

    path = _still_view_path(result.path, out, several)
    view = still_view(result.image, result.detections, result.fates, rules, threshold, result.scene,
                      result.detect_ms)
    write_png(path, view)
