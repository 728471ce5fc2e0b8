"""`assistant dataset find|plot|eval|calibrate`: on labelled sets, COCO or Pascal VOC."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config import calibration, models
from ..datasets import EVAL_MAX_RESULTS
from ..errors import AssistantError
from ..process import outputs
from ..process.run_context import RunContext
from ..process.signals import EXIT_OK
from .checks import model_inputs
from .common import load, warn


def _dataset(args: argparse.Namespace):
    """The labelled set named by --coco/--images or --voc."""
    if args.coco and not args.images:
        raise AssistantError("--coco needs --images DIR, the folder its file names are in.")
    return _read_set(voc=args.voc, coco=args.coco, images=args.images)


def _read_set(voc: str | None = None, coco: str | None = None, images: str | None = None):
    """One labelled set, VOC or COCO; each missing image and the count of bad boxes are warned about once."""
    from ..datasets.readers import read_coco, read_voc

    dataset = read_coco(Path(coco), Path(images)) if coco else read_voc(Path(voc))
    for path in dataset.missing:
        warn(f"{path} is listed but missing; skipped.")
    if dataset.invalid_boxes:
        n = dataset.invalid_boxes
        warn(f"{n} {'box is' if n == 1 else 'boxes are'} not numbers, of no size or wholly outside their image; "
              "left out of scoring.")
    return dataset


def _dataset_files(dataset, coco: str | None = None, voc: str | None = None) -> list[Path]:
    """The files a labelled set is read from: its annotations and its images."""
    labels = [Path(coco)] if coco else list((Path(voc) / "Annotations").glob("*.xml"))
    return [*labels, *(image.path for image in dataset.images)]


def _class_list(text: str | None, dataset) -> list[str]:
    from ..datasets.find import check_classes

    return check_classes([c.strip() for c in text.split(",") if c.strip()], dataset) if text else []


def cmd_dataset_find(args: argparse.Namespace, context: RunContext) -> int:
    from ..datasets.find import find_images_with_classes

    dataset = _dataset(args)
    found = find_images_with_classes(dataset, _class_list(args.classes, dataset), every=args.all)
    if args.json:
        print(json.dumps({"images": [{"image": str(f.image.path), "counts": f.counts} for f in found],
                          "total": len(found), "skipped": len(dataset.missing)}))
    else:
        for f in found:
            print(f"{f.image.path}: " + ", ".join(f"{n} {c}" for c, n in f.counts.items()))
        print(f"{len(found)} of {len(dataset.images)} images"
              + (f" ({len(dataset.missing)} missing, skipped)" if dataset.missing else ""), file=sys.stderr)
    return EXIT_OK


def _progress(items, what: str):
    from tqdm import tqdm

    return tqdm(items, desc=what, unit="image", file=sys.stderr, leave=False)


def cmd_dataset_plot(args: argparse.Namespace, context: RunContext) -> int:
    from ..core import Frame
    from ..datasets.find import find_images_with_classes
    from ..sources.imaging import read_image
    from ..view.viewer import truth_and_prediction_view, write_png
    from ..vision.detector import Detector

    dataset = _dataset(args)
    classes = _class_list(args.classes, dataset) or sorted(dataset.labels)
    model_path = models.resolve(args.model)
    out = Path(args.out)
    images = [f.image for f in find_images_with_classes(dataset, classes)]
    outputs.check([model_path, *_dataset_files(dataset, args.coco, args.voc)],
                  [outputs.Target(f"--out (for {image.path})", out / f"{image.path.stem}.png") for image in images])
    with Detector(model_path, video=False, score_threshold=args.threshold, max_results=100, labels=classes) as detector:
        for image in _progress(images, "plotting"):
            frame = Frame(read_image(image.path), 0, 0, still=True, name=str(image.path))
            view = truth_and_prediction_view(frame.image, [t for t in image.truths if t.label in classes],
                                             detector.detect(frame))
            write_png(out / f"{image.path.stem}.png", view)
    print(f"{len(images)} images drawn in {out}", file=sys.stderr)
    return EXIT_OK


def cmd_dataset_eval(args: argparse.Namespace, context: RunContext) -> int:
    from ..datasets import evaluation, report
    from ..vision.detector import Detector

    dataset = _dataset(args)
    rules, model_path, _ = load(args.profile, args.model)
    if args.report:
        outputs.check([*model_inputs(args.profile, model_path), *_dataset_files(dataset, args.coco, args.voc)],
                      [outputs.Target("--report", Path(args.report), outputs.REPORT_NAMES)])
    with Detector(model_path, video=False, score_threshold=args.min_score,
                  max_results=EVAL_MAX_RESULTS) as detector:
        predicted = evaluation.predict(dataset, detector.detect, lambda items: _progress(items, "evaluating"))
    result = evaluation.evaluate(dataset, predicted, rules)
    metrics = {**result.metrics, "model": model_path.name}
    if args.report:
        report.write(Path(args.report), metrics, result.evaluator, dataset.categories, result.ground_truth,
                     result.detections, dataset.name)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(report.markdown(metrics, dataset.name), end="")
    return EXIT_OK


def cmd_dataset_calibrate(args: argparse.Namespace, context: RunContext) -> int:
    from ..datasets import calibrate, evaluation
    from ..vision.detector import Detector

    if len(args.coco or []) != len(args.images or []):
        raise AssistantError("Give one --images DIR for each --coco file, in the same order.")
    if not args.coco and not args.voc:
        raise AssistantError("Give at least one labelled set: --voc DIR, or --coco ANN.json with --images DIR.")
    model_path = models.resolve(args.model)
    labels = models.labels(model_path)
    sets = [(_read_set(voc=v), None, v) for v in args.voc or []]
    sets += [(_read_set(coco=a, images=i), a, None) for a, i in zip(args.coco or [], args.images or [])]
    datasets = [dataset for dataset, _, _ in sets]
    out = Path(args.out) if args.out else None
    if out is not None:
        outputs.check([model_path, *[f for dataset, coco, voc in sets for f in _dataset_files(dataset, coco, voc)]],
                      [outputs.Target("--out", out)])
    calibrate.check_sets(datasets, labels, args.folds)
    records: dict[str, list] = {}
    with Detector(model_path, video=False, score_threshold=calibrate.GRID[0], max_results=EVAL_MAX_RESULTS) as detector:
        for dataset in datasets:
            predicted = evaluation.predict(dataset, detector.detect, lambda items: _progress(items, dataset.name))
            name = dataset.name if dataset.name not in records else f"{dataset.name}-{len(records)}"
            records[name] = calibrate.judge(predicted, dataset.categories, f"{name}:", labels)
    result, selection, written = calibrated(records, model_path, labels, args.folds, args.min_images, out)
    if args.json:
        print(json.dumps({"file": str(written), **result.to_json()}))
    else:
        print_calibration(result, selection, args.folds, written)
    return EXIT_OK


def calibrated(records: dict[str, list], model_path: Path, labels: tuple[str, ...], folds: int, min_images: int,
               out: Path | None = None) -> tuple[calibration.Calibration, object, Path]:
    """The model's calibration chosen on judged records, written beside the model (or to `out`);
    TooLittleEvidence, in one sentence, where the evidence is too thin."""
    from ..datasets import calibrate

    selection, report = calibrate.calibrate(records, folds, min_images)
    result = calibration.Calibration(models.sha256_of(model_path), labels, selection.default,
                                     selection.thresholds, report)
    return result, selection, calibration.write(result, model_path, out)


def print_calibration(result: calibration.Calibration, selection, folds: int, written: Path) -> None:
    """What was chosen, on what evidence, and how it did on images it never saw."""
    from ..datasets import calibrate

    report = result.report
    cv = report["cross_validated"]
    moved = ", ".join(f"{c} {t}" for c, t in sorted(result.thresholds.items())) or "none had the evidence"
    print(f"Every class: {result.default}. Classes moved: {moved}.")
    print(report["kept_plain"] or calibrate.evidence_line(selection))
    for number, fold in enumerate(report["folds"], 1):
        print(f"Fold {number} ({fold['images']} images, chosen without them: {fold['default']}"
              f"{', ' + ', '.join(f'{c} {t}' for c, t in fold['moved'].items()) if fold['moved'] else ''}): precision "
              f"{fold['chosen']['precision']}, large recall {fold['chosen']['large_recall']}; a plain 0.5: "
              f"{fold['plain_0.5']['precision']}, {fold['plain_0.5']['large_recall']}.")
    print(f"Cross-validated ({folds} folds by image): precision {cv['chosen']['precision']}, large recall "
          f"{cv['chosen']['large_recall']}; a plain 0.5: {cv['plain_0.5']['precision']}, "
          f"{cv['plain_0.5']['large_recall']}.")
    for name, check in report["held_out_sets"].items():
        print(f"{name}, chosen without it: precision {check['chosen']['precision']}, large recall "
              f"{check['chosen']['large_recall']}; a plain 0.5: {check['plain_0.5']['precision']}, "
              f"{check['plain_0.5']['large_recall']}.")
    print(f"Written to {written}")
