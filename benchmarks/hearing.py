"""Is what it says true on images it never saw? The default profile, scored object by object.

On every shared labelled set (VOC 2012 subset, COCO val2017 sample, COCO train2017 first 128):
1. Cross-validated: 5 folds by image. For each fold, the calibration (`dataset calibrate`'s
   method) is chosen without the fold's images and the default profile speaks them with it.
   Beside it, in the same run, a plain 0.5 for every class of the profile with the detector's
   own boxes (no duplicate suppression): the "say everything above 0.5" baseline.
2. Each set checked by a calibration chosen on the others alone (VOC for selection and COCO for
   the check, then the swap).
3. The shipped calibration (models/*.calibration.json) on all sets: in-sample, for reference.
4. Distance of a cut person from its width: 85 COCO person outlines, fully in view, cut at half,
   60% and three quarters of their height; the width estimate against the full-height one.
5. Duplicate tracks on the shared videos: frames where one class holds two confirmed tracks
   whose boxes overlap at IoU 0.5 or more.
Prints tables to stderr, then one JSON object as the last line.
Usage: python benchmarks/hearing.py
"""

from __future__ import annotations

import json
import statistics
import sys

import numpy as np
from shared import SHARED, VIDEOS  # noqa: E402  (first: it points the assistant at the shared models)

from assistant.config import calibration
from assistant.config import models  # noqa: E402
from assistant.core import Detection, Frame, Sighting  # noqa: E402
from assistant.datasets import EVAL_MAX_RESULTS, calibrate, evaluation  # noqa: E402
from assistant.datasets.readers import read_coco, read_voc  # noqa: E402
from assistant.vision.detector import Detector  # noqa: E402
from assistant.vision.duplicates import SAME_CLASS_IOU  # noqa: E402
from assistant.vision.position import CLOSE_M, TYPICAL_HEIGHT_M, TYPICAL_WIDTH_M, focal_px, place  # noqa: E402
from assistant.config.rules import Rules, load_rules  # noqa: E402
from assistant.sources.source import open_source  # noqa: E402
from assistant.vision.speaking import judge  # noqa: E402
from assistant.vision.tracking import Tracker  # noqa: E402
from assistant.narration.wording import compose  # noqa: E402

FIGURES = ("precision", "large_recall", "recall", "count_accuracy", "count_mae", "spoken", "right", "wrong",
           "large_right", "large_true", "count_pairs", "duplicates_removed", "neighbours_merged")


def plain_half(detections: tuple[Detection, ...], frame: Frame, rules: Rules) -> tuple[Sighting, ...]:
    """The baseline: every profile class at 0.5, the detector's boxes as they come, one sentence."""
    sightings = [place(d, frame, rules.profile.camera.hfov_deg) for d in detections
                 if d.label in rules.labels and d.score >= 0.5]
    return compose(sightings, rules.style).objects


def pooled(parts: list[dict]) -> dict:
    """Figures of several scorings added up, ratios recomputed from the counts."""
    total = {k: sum(p[k] for p in parts) for k in ("right", "wrong", "large_right", "large_true", "true",
                                                   "count_pairs", "count_exact", "count_error",
                                                   "duplicates_removed", "neighbours_merged")}
    said, pairs = total["right"] + total["wrong"], total["count_pairs"]
    return {"precision": _r(total["right"] / said if said else None),
            "large_recall": _r(total["large_right"] / total["large_true"] if total["large_true"] else None),
            "recall": _r(total["right"] / total["true"] if total["true"] else None),
            "count_accuracy": _r(total["count_exact"] / pairs if pairs else None),
            "count_mae": _r(total["count_error"] / pairs if pairs else None), "spoken": said, **total}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def score(groups: list[tuple], rules: Rules, say=evaluation.described) -> dict:
    """announcements() over (dataset, predicted) groups, pooled."""
    return pooled([evaluation.announcements(predicted, rules, dataset.categories, say) for dataset, predicted in groups])


def with_selection(selection: calibrate.Selection, labels: tuple[str, ...]) -> Rules:
    made = calibration.Calibration("", labels, selection.default, selection.thresholds)
    return load_rules("default", calibration=made)


def hearing(sets: list[tuple]) -> dict:
    """Cross-validated figures, held-out sets, and the shipped calibration, for the default profile."""
    labels = models.labels(models.resolve())
    keyed = [(dataset, p, f"{dataset.name}:{p.image.path.name}") for dataset, predicted in sets for p in predicted]
    records = [r for dataset, predicted in sets for r in calibrate.judge(predicted, dataset.categories, f"{dataset.name}:")]
    folds = calibrate.folds_of(records, calibrate.FOLDS, calibrate.SEED + 1)
    fold_rows, chosen_parts, plain_parts = [], [], []
    for i, test in enumerate(folds):
        test_keys = {r.key for r in test}
        train = [r for j, part in enumerate(folds) if j != i for r in part]
        selection = calibrate.select(train)
        groups = [(dataset, [p for d, p, k in keyed if d is dataset and k in test_keys]) for dataset, _ in sets]
        chosen = score(groups, with_selection(selection, labels))
        plain = score(groups, load_rules("default"), plain_half)
        chosen_parts.append(chosen)
        plain_parts.append(plain)
        fold_rows.append({"images": len(test), "default": selection.default, "moved": selection.thresholds,
                          "precision": chosen["precision"], "large_recall": chosen["large_recall"],
                          "plain_precision": plain["precision"], "plain_large_recall": plain["large_recall"]})
    held_out = {}
    for dataset, predicted in sets:
        others = [r for r in records if not r.key.startswith(f"{dataset.name}:")]
        selection = calibrate.select(others)
        held_out[dataset.name] = {
            "default": selection.default, "moved": selection.thresholds,
            "chosen": score([(dataset, predicted)], with_selection(selection, labels)),
            "plain_0.5": score([(dataset, predicted)], load_rules("default"), plain_half)}
    shipped = calibration.for_model(models.resolve())
    return {"cross_validated": pooled(chosen_parts), "plain_0.5": pooled(plain_parts), "folds": fold_rows,
            "held_out_sets": held_out,
            "shipped_in_sample": score(sets, load_rules("default", calibration=shipped)),
            "shipped": {"default": shipped.default, "moved": dict(shipped.thresholds)} if shipped else None}


def cut_person_distance() -> dict:
    """Width against full height for COCO person outlines cut by a simulated bottom edge."""
    data = json.loads((SHARED / "data/labeled/coco_train2017_first128/annotations.json").read_text())
    sizes = {i["id"]: (i["width"], i["height"]) for i in data["images"]}
    person = next(c["id"] for c in data["categories"] if c["name"] == "person")
    errors, agree, agree_before, cases, outlines = [], 0, 0, 0, 0
    for a in data["annotations"]:
        width, height = sizes[a["image_id"]]
        x, y, w, h = a["bbox"]
        if a["category_id"] != person or a["iscrowd"] or y <= 2 or y + h >= height - 2 or h < 0.2 * height:
            continue
        outlines += 1
        focal = focal_px(width, 60.0)
        truth_m = TYPICAL_HEIGHT_M["person"] * focal / h
        for fraction in (0.5, 0.6, 0.75):
            cut_width = _cut_width(a["segmentation"], y + fraction * h)
            estimate_m = TYPICAL_WIDTH_M["person"] * focal / cut_width
            errors.append(abs(estimate_m - truth_m) / truth_m)
            cases += 1
            agree += (estimate_m < CLOSE_M) == (truth_m < CLOSE_M)
            agree_before += truth_m < CLOSE_M  # before, every box cut at the bottom was "close"
    return {"outlines": outlines, "cuts": cases, "median_error": _r(float(statistics.median(errors))),
            "p90_error": _r(float(np.percentile(errors, 90))), "close_agreement": _r(float(agree) / cases),
            "close_agreement_before": _r(agree_before / cases)}


def _cut_width(polygons: list[list[float]], cut_y: float) -> float:
    """The horizontal extent of an outline above a horizontal line."""
    xs = []
    for flat in polygons:
        points = np.array(flat, float).reshape(-1, 2)
        after = np.roll(points, -1, axis=0)
        xs += list(points[points[:, 1] <= cut_y, 0])
        crossing = (points[:, 1] - cut_y) * (after[:, 1] - cut_y) < 0
        t = (cut_y - points[crossing, 1]) / (after[crossing, 1] - points[crossing, 1])
        xs += list(points[crossing, 0] + t * (after[crossing, 0] - points[crossing, 0]))
    return max(xs) - min(xs)


def double_tracks(model, rules: Rules) -> dict:
    """Frames where one class holds two confirmed tracks whose boxes overlap at SAME_CLASS_IOU or more."""
    result = {}
    for video in VIDEOS:
        frames = doubled = 0
        tracker = Tracker(rules.profile.confirm_frames, rules.min_score)
        with open_source(str(video)) as source, Detector(model, video=True, score_threshold=rules.weak_floor,
                                                         max_results=100) as detector:
            for frame in source:
                detections = detector.detect(frame)
                judged = judge(detections, rules, frame.width, frame.height)
                tracks = [t for t in tracker.update(judged.accepted, frame.timestamp_ms, judged.weak) if t.confirmed]
                frames += 1
                doubled += any(a.detection.label == b.detection.label
                               and a.detection.box.iou(b.detection.box) >= SAME_CLASS_IOU
                               for i, a in enumerate(tracks) for b in tracks[i + 1:])
        result[video.name] = {"frames": frames, "frames_with_double_tracks": doubled}
    return result


def main() -> None:
    labelled = SHARED / "data" / "labeled"
    datasets = [read_voc(labelled / "voc2012_subset100"),
                read_coco(labelled / "coco_val2017_icevision6" / "annotations.json",
                          labelled / "coco_val2017_icevision6" / "images"),
                read_coco(labelled / "coco_train2017_first128" / "annotations.json",
                          labelled / "coco_train2017_first128" / "images")]
    model = models.resolve()
    with Detector(model, video=False, score_threshold=calibrate.GRID[0], max_results=EVAL_MAX_RESULTS) as detector:
        sets = [(d, evaluation.predict(d, detector.detect)) for d in datasets]
    result = hearing(sets)
    cv, plain = result["cross_validated"], result["plain_0.5"]
    print(f"{'':26} {'precision':>9} {'large rec':>9} {'count acc':>9} {'count MAE':>9} {'spoken':>6}", file=sys.stderr)
    for name, row in (("cross-validated", cv), ("plain 0.5, no suppression", plain),
                      ("shipped, in-sample", result["shipped_in_sample"])):
        print(f"{name:26} {row['precision']:>9} {row['large_recall']:>9} {row['count_accuracy']:>9} "
              f"{row['count_mae']:>9} {row['spoken']:>6}", file=sys.stderr)
    for i, f in enumerate(result["folds"]):
        print(f"fold {i + 1}: {f['images']} images, global {f['default']}, moved {f['moved'] or 'none'}: "
              f"precision {f['precision']} / large recall {f['large_recall']} (plain {f['plain_precision']} / "
              f"{f['plain_large_recall']})", file=sys.stderr)
    for name, check in result["held_out_sets"].items():
        c, p = check["chosen"], check["plain_0.5"]
        print(f"{name} held out: chosen {check['default']} {check['moved'] or ''} -> precision {c['precision']}, "
              f"large recall {c['large_recall']}; plain {p['precision']}, {p['large_recall']}", file=sys.stderr)
    distance = cut_person_distance()
    print(f"cut person distance from width: {distance}", file=sys.stderr)
    tracks = double_tracks(model, load_rules("default", calibration=calibration.for_model(model)))
    print(f"double tracks: {tracks}", file=sys.stderr)
    print(json.dumps({
        "precision": cv["precision"], "large_recall": cv["large_recall"], "count_accuracy": cv["count_accuracy"],
        "count_mae": cv["count_mae"], "duplicates_removed": cv["duplicates_removed"],
        "neighbours_merged": cv["neighbours_merged"],
        "baseline_plain_0.5": {k: plain[k] for k in ("precision", "large_recall", "count_accuracy", "count_mae")},
        "folds": result["folds"], "held_out_sets": result["held_out_sets"],
        "shipped": result["shipped"], "shipped_in_sample": result["shipped_in_sample"],
        "cut_person_distance": distance, "double_tracks": tracks}))


if __name__ == "__main__":
    main()
