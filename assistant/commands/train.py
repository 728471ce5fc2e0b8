"""`assistant train`: from labelled photos to an installed, evaluated and calibrated model.

The five steps of teaching the detector: the labelled sets are read and checked (each bad box or
file one sentence), their classes chosen and renamed, split by image and counted; MediaPipe Model
Maker fine-tunes the chosen architecture in its own environment (a subprocess with a progress bar);
each export is evaluated on the validation split, calibrated where the evidence allows, and
installed in the user's model folder with its manifest entry. Nothing is installed unless every
step before it finished.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..config import calibration, models
from ..errors import AssistantError
from ..process.run_context import RunContext
from ..process.signals import EXIT_OK
from ..training import environment, job
from ..training.prepare import TrainingSet, prepare, write_model_maker_folder
from .common import note, warn

WEIGHTS_VARIABLE = "ASSISTANT_TRAIN_WEIGHTS"
FORMATS = ("float16", "int8", "float32")
SIZES = {"float16": "half the size of float32", "int8": "quantization-aware, the fastest on a CPU",
         "float32": "full precision"}


def cmd_train(args: argparse.Namespace, context: RunContext) -> int:
    if args.setup:
        python = environment.ensure(note)
        print(f"The training environment is ready: {python}")
        return EXIT_OK
    if not args.name:
        raise AssistantError("Give the new model a name with --name, such as --name doors.")
    formats = _formats(args.export)
    names = {fmt: args.name if i == 0 else f"{args.name}-{fmt}" for i, fmt in enumerate(formats)}
    for name in names.values():
        models.check_name(name, args.replace)
    prepared = _prepare(args)
    given = args.weights or os.environ.get(WEIGHTS_VARIABLE) or None
    weights = job.weights_folder(args.architecture, given, environment.cache_root() / "train-weights")
    work = Path(tempfile.mkdtemp(prefix="assistant-train-"))
    try:
        folders = write_model_maker_folder(prepared, work / "data")
        python = environment.ensure(note)
        exports = {fmt: str(work / "exports" / f"{names[fmt]}.tflite") for fmt in formats}
        (work / "exports").mkdir()
        outcome = _train(python, job.Job(
            architecture=args.architecture, spec=job.ARCHITECTURES[args.architecture].spec, weights=str(weights), train=str(folders["train"]),
            validation=str(folders["validation"]), work=str(work), exports=exports, epochs=args.epochs,
            batch_size=args.batch_size, learning_rate=args.learning_rate, qat_epochs=args.qat_epochs,
            seed=args.seed))
        for fmt in formats:
            _finish(outcome.exported[fmt], names[fmt], fmt, prepared, outcome, args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return EXIT_OK


def _prepare(args: argparse.Namespace) -> TrainingSet:
    """The labelled sets read (each problem one warning), chosen, split and counted (each thin class
    one warning); AssistantError in one sentence if there is nothing to train on."""
    from ..datasets.readers import read_coco, read_voc
    from ..datasets.yolo import read_yolo

    if len(args.coco) != len(args.images):
        raise AssistantError("Give one --images DIR for each --coco file, in the same order.")
    if not (args.voc or args.coco or args.yolo):
        raise AssistantError("Give the labelled photos: --voc DIR, --yolo DIR, or --coco ANN.json with --images DIR.")
    sets = [read_voc(Path(v)) for v in args.voc]
    sets += [read_coco(Path(a), Path(i)) for a, i in zip(args.coco, args.images)]
    sets += [read_yolo(Path(y)) for y in args.yolo]
    keep = [c.strip() for c in (args.keep or "").split(",") if c.strip()]
    keep_from = None
    if keep:
        if not (args.keep_coco and args.keep_images):
            raise AssistantError("--keep needs --keep-coco ANN.json and --keep-images DIR, the COCO photos to take "
                                 "them from.")
        keep_from = read_coco(Path(args.keep_coco), Path(args.keep_images))
    classes = args.classes or ",".join(sorted({label for dataset in sets for label in dataset.labels}))
    prepared = prepare(sets, classes, keep=keep, keep_from=keep_from, fraction=args.validation, seed=args.seed)
    for problem in prepared.problems:
        warn(problem)
    _print_counts(prepared)
    for warning in prepared.warnings:
        warn(warning)
    if not prepared.validation.images:
        raise AssistantError("No photo is left for validation; raise --validation (0.2 is usual) or add photos.")
    if len(prepared.train.images) < args.batch_size:
        raise AssistantError(f"There are {len(prepared.train.images)} training photos, fewer than one batch of "
                             f"{args.batch_size}; lower --batch-size or add photos.")
    return prepared


def _print_counts(prepared: TrainingSet) -> None:
    """Images and boxes per class in each split, as a small table on stderr."""
    width = max(len(c) for c in prepared.classes)
    print(f"{'class':<{width}}  training: images boxes   validation: images boxes", file=sys.stderr)
    for name in prepared.classes:
        train, validation = prepared.counts["train"][name], prepared.counts["validation"][name]
        print(f"{name:<{width}}  {train.images:>16} {train.boxes:>5}   {validation.images:>18} {validation.boxes:>5}",
              file=sys.stderr)
    print(f"{len(prepared.train.images)} training and {len(prepared.validation.images)} validation photos"
          + (f", {prepared.mixed_in} of them from {prepared.sources[-1]}" if prepared.mixed_in else "") + ".",
          file=sys.stderr)


def _formats(text: str) -> list[str]:
    formats = list(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise AssistantError(f"--export takes {', '.join(FORMATS)} (comma-separated), not {text!r}.")
    return formats


def _train(python: Path, work_job: job.Job) -> job.Outcome:
    """The worker, with a progress bar over every step of training and quantization-aware training."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit="step", file=sys.stderr, dynamic_ncols=True, bar_format=(
        "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} steps [{elapsed}<{remaining}]{postfix}"))
    planned: dict[str, int] = {}

    def on_event(event: dict) -> None:
        kind, stage = event["event"], event.get("stage")
        if kind == "device":
            where = f"the GPU {', '.join(event['gpus'])}" if event["gpus"] else f"the CPU ({event['cores']} cores)"
            bar.write(f"Training on {where}.", file=sys.stderr)
        elif kind == "stage" and stage in ("train", "qat"):
            planned[stage] = event["epochs"] * event["steps"]
            bar.total = sum(planned.values()) + (0 if "qat" in planned or "int8" not in work_job.exports
                                                 else work_job.qat_epochs * event["steps"])
            bar.refresh()
        elif kind == "stage":
            bar.set_description_str({"download": "downloading the pretrained weights", "data": "reading the photos",
                                     "export": f"exporting {event.get('format')}"}.get(stage, stage))
        elif kind == "step":
            what = "training" if stage == "train" else "quantization-aware training"
            bar.set_description_str(f"{what}, epoch {event['epoch']}/{event['epochs']}")
            if event.get("loss") is not None:
                bar.set_postfix_str(f"loss {event['loss']:.3f}", refresh=False)
            bar.update(1)
        elif kind == "exported":
            bar.write(f"Exported {event['format']} ({event['bytes'] / 1e6:.1f} MB).", file=sys.stderr)

    try:
        return job.run(python, work_job, on_event)
    finally:
        bar.close()


def _finish(model_file: Path, name: str, fmt: str, prepared: TrainingSet, outcome: job.Outcome, args: argparse.Namespace,
            work: Path) -> None:
    """Evaluate one export on the validation split, calibrate it where the evidence allows, install it."""
    from ..config.profile import ObjectRule, Profile
    from ..config.rules import Rules
    from ..datasets import EVAL_MAX_RESULTS, EVAL_MIN_SCORE, calibrate, evaluation, report
    from ..vision.detector import Detector
    from .dataset import calibrated, print_calibration

    validation = prepared.validation
    labels = models.labels(model_file)
    every_class = Rules(Profile(name=f"every class of {name}", objects={c: ObjectRule() for c in prepared.classes}))
    with Detector(model_file, video=False, score_threshold=EVAL_MIN_SCORE, max_results=EVAL_MAX_RESULTS) as detector:
        predicted = evaluation.predict(validation, detector.detect)
    metrics = evaluation.evaluate(validation, predicted, every_class).metrics
    print(report.markdown({**metrics, "model": f"{name} ({fmt})"}, f"{name}: the validation split"), end="")
    calibration_file = None
    try:
        calibrate.check_sets([validation], labels, args.folds)
        records = {"validation": calibrate.judge(predicted, validation.categories, "validation:", labels)}
        result, selection, calibration_file = calibrated(records, model_file, labels, args.folds,
                                                         calibrate.MIN_IMAGES, work / f"{name}{calibration.SUFFIX}")
        print_calibration(result, selection, args.folds, calibration_file)
    except calibrate.TooLittleEvidence as exc:
        warn(f"Not calibrated: {exc} Until it is, every class is spoken at {calibration.UNCALIBRATED}; "
             "calibrate later with 'assistant dataset calibrate --model " + name + "'.")
    summary = {**prepared.summary(), "images": len(prepared.train.images) + len(validation.images),
               "architecture": args.architecture, "format": fmt, "epochs": args.epochs,
               "batch_size": args.batch_size, "learning_rate": args.learning_rate, "seconds": outcome.seconds,
               "epoch_seconds": outcome.epoch_seconds, "export_bytes": outcome.export_bytes,
               "final_loss": outcome.losses[-1] if outcome.losses else None,
               "validation_map": metrics.get("map"), "gpus": outcome.gpus}
    installed = models.install(model_file, name, _description(prepared, args, fmt), summary, calibration_file,
                               replace=args.replace)
    print(f"Installed {name} ({fmt}, {installed.stat().st_size / 1e6:.1f} MB) at {installed}. Use it with "
          f"'assistant run --model {name}' and a profile that names {', '.join(prepared.classes)}.")


def _description(prepared: TrainingSet, args: argparse.Namespace, fmt: str) -> str:
    size = job.ARCHITECTURES[args.architecture].size
    return (f"Trained here: {', '.join(prepared.classes)}; {args.architecture} ({size}x{size}), {fmt} "
            f"({SIZES[fmt]}), {len(prepared.train.images)} training photos")
