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
from dataclasses import dataclass
from pathlib import Path

from ..config import calibration, models
from ..datasets.readers import Dataset
from ..errors import AssistantError
from ..process.run_context import RunContext
from ..process.signals import EXIT_OK
from ..training import environment, job
from ..training.prepare import TrainingSet, prepare, write_model_maker_folder
from .common import note, warn

WEIGHTS_VARIABLE = "ASSISTANT_TRAIN_WEIGHTS"
FORMATS = ("float16", "int8", "float32")
PROBLEMS_SHOWN = 10  # of one labelled set's; a big COCO file may have a thousand photos without a box
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
    installed: list[str] = []
    try:
        folders = write_model_maker_folder(prepared, work / "data")
        python = environment.ensure(note)
        exports = {fmt: str(work / "exports" / f"{names[fmt]}.tflite") for fmt in formats}
        (work / "exports").mkdir()
        outcome = _train(python, job.Job(
            architecture=args.architecture, spec=job.ARCHITECTURES[args.architecture].spec, weights=str(weights),
            train=str(folders["train"]), validation=str(folders["validation"]), work=str(work), exports=exports,
            epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
            qat_epochs=args.qat_epochs, seed=args.seed))
        checked = [_check(outcome.exported[fmt], names[fmt], fmt, prepared, outcome, args, work) for fmt in formats]
        for ready in checked:  # only once every export is evaluated and calibrated
            _install(ready, prepared, args)
            installed.append(ready.name)
    except KeyboardInterrupt:
        note(f"Stopped; {'nothing was installed' if not installed else 'installed only ' + ', '.join(installed)}.")
        raise
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
    sets = [_read(read_voc, Path(v)) for v in args.voc]
    sets += [_read(read_coco, Path(a), Path(i)) for a, i in zip(args.coco, args.images)]
    sets += [_read(read_yolo, Path(y)) for y in args.yolo]
    keep = [c.strip() for c in (args.keep or "").split(",") if c.strip()]
    keep_from = None
    if keep:
        if not (args.keep_coco and args.keep_images):
            raise AssistantError("--keep needs --keep-coco ANN.json and --keep-images DIR, the COCO photos to take "
                                 "them from.")
        keep_from = _read(read_coco, Path(args.keep_coco), Path(args.keep_images))
    every = ",".join(sorted({label for dataset in sets for label in dataset.labels}))
    prepared = prepare(sets, every if args.classes is None else args.classes, keep=keep, keep_from=keep_from,
                       fraction=args.validation, seed=args.seed)
    left_out = sum(len(d.images) for d in sets) - (len(prepared.train.images) + len(prepared.validation.images)
                                                    - prepared.mixed_in)
    if left_out:
        note(f"{left_out} of the photos show none of the chosen classes; they are left out.")
    _print_counts(prepared)
    for warning in prepared.warnings:
        warn(warning)
    if not prepared.validation.images:
        raise AssistantError("No photo is left for validation; raise --validation (0.2 is usual) or add photos.")
    if len(prepared.train.images) < args.batch_size:
        raise AssistantError(f"There are {len(prepared.train.images)} training photos, fewer than one batch of "
                             f"{args.batch_size}; lower --batch-size or add photos.")
    return prepared


def _read(reader, *where: Path) -> Dataset:
    """One labelled set, each of its problems said at once (at most PROBLEMS_SHOWN, then how many more)."""
    dataset = reader(*where)
    for problem in dataset.problems[:PROBLEMS_SHOWN]:
        warn(problem)
    if len(dataset.problems) > PROBLEMS_SHOWN:
        warn(f"{len(dataset.problems) - PROBLEMS_SHOWN} more problems in {where[0]}, like those above.")
    return dataset


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
    """The worker, with its progress shown: a bar over every step on a terminal; elsewhere (a log, a
    screen reader's console) one line a stage and one an epoch, never a stream of redraws."""
    progress = Progress(work_job, sys.stderr.isatty())
    try:
        return job.run(python, work_job, progress.on_event)
    finally:
        progress.close()


class Progress:
    """What the worker's events show: the stages, and each epoch with its loss and the time left."""

    STAGES = {"download": "Downloading the pretrained weights.", "data": "Reading the photos."}

    def __init__(self, work_job: job.Job, bar: bool) -> None:
        self._job, self._use_bar = work_job, bar
        self._bar = None
        self._planned: dict[str, int] = {}

    def say(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def on_event(self, event: dict) -> None:
        kind, stage = event["event"], event.get("stage")
        if kind == "device":
            gpus = event["gpus"]
            self.say(f"Training on {'the GPU ' + ', '.join(gpus) if gpus else 'the CPU'} "
                     f"({event['cores']} cores).")
        elif kind == "stage" and stage in ("train", "qat"):
            self._begin(stage, event)
        elif kind == "stage" and stage == "export":
            self.say(f"Exporting {event['format']}.")
        elif kind == "stage" and stage in self.STAGES:
            self.say(self.STAGES[stage])
        elif kind == "step" and self._bar is not None:
            what = "training" if stage == "train" else "quantization-aware training"
            self._bar.set_description_str(f"{what}, epoch {event['epoch']}/{event['epochs']}")
            if event.get("loss") is not None:
                self._bar.set_postfix_str(f"loss {event['loss']:.3f}", refresh=False)
            self._bar.update(1)
        elif kind == "epoch" and self._bar is None:
            took = event["seconds"]
            left = (event["epochs"] - event["epoch"]) * took
            losses = ", ".join(f"{name} {event[key]:.3f}" for name, key in (("loss", "loss"),
                               ("validation loss", "validation_loss")) if event.get(key) is not None)
            what = "Epoch" if stage == "train" else "Quantization-aware epoch"
            self.say(f"{what} {event['epoch']}/{event['epochs']} done in {took:.0f} s: {losses}; "
                     f"about {left / 60:.0f} min left of this stage.")
        elif kind == "exported":
            self.say(f"Exported {event['format']} ({event['bytes'] / 1e6:.1f} MB).")

    def _begin(self, stage: str, event: dict) -> None:
        self._planned[stage] = event["epochs"] * event["steps"]
        what = "Training" if stage == "train" else "Quantization-aware training"
        self.say(f"{what}: {event['epochs']} epochs of {event['steps']} steps.")
        if not self._use_bar:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=0, unit="step", file=sys.stderr, dynamic_ncols=True, bar_format=(
                "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} steps [{elapsed}<{remaining}]{postfix}"))
        qat_to_come = "qat" not in self._planned and "int8" in self._job.exports
        self._bar.total = sum(self._planned.values()) + (self._job.qat_epochs * event["steps"] if qat_to_come else 0)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@dataclass(frozen=True, slots=True)
class Checked:
    """One export, evaluated and (where the evidence allowed) calibrated: what installing it needs."""

    model_file: Path
    name: str
    fmt: str
    calibration_file: Path | None
    summary: dict


def _check(model_file: Path, name: str, fmt: str, prepared: TrainingSet, outcome: job.Outcome,
           args: argparse.Namespace, work: Path) -> Checked:
    """Evaluate one export on the validation split and calibrate it where the evidence allows."""
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
    return Checked(model_file, name, fmt, calibration_file, summary)


def _install(ready: Checked, prepared: TrainingSet, args: argparse.Namespace) -> None:
    installed = models.install(ready.model_file, ready.name, _description(prepared, args, ready.fmt), ready.summary,
                               ready.calibration_file, replace=args.replace)
    print(f"Installed {ready.name} ({ready.fmt}, {installed.stat().st_size / 1e6:.1f} MB) at {installed}. Use it "
          f"with 'assistant run --model {ready.name}' and a profile that names {', '.join(prepared.classes)}.")


def _description(prepared: TrainingSet, args: argparse.Namespace, fmt: str) -> str:
    size = job.ARCHITECTURES[args.architecture].size
    return (f"Trained here: {', '.join(prepared.classes)}; {args.architecture} ({size}x{size}), {fmt} "
            f"({SIZES[fmt]}), {len(prepared.train.images)} training photos")
