"""How well the assistant sees a labelled set: COCO mAP by pycocotools, and what it would say.

mAP uses every candidate down to EVAL_MIN_SCORE (up to 100 per image), as COCO evaluation
expects. The announcement metrics put the same detections through the profile and `describe`,
so they use the profile's own thresholds, exactly as the live assistant would.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..core import Detection, Frame
from ..imaging import read_image
from ..position import bearing_deg, direction_of
from ..profile import Profile
from ..wording import describe_scene
from .readers import Dataset, LabelledImage

MATCH_IOU = 0.5  # a prediction matches a truth of its class at this IoU, as in AP50
OVERLAP_IOU = 0.3  # a truth overlapping another truth this much counts as "overlapping"
RECALL_SCORE = 0.5  # the score a prediction needs to count in the overlap recalls (the describe default)
LARGE_FRACTION = 0.10  # a "large" object for announcement recall: at least this share of the image height
SIZES = ("small", "medium", "large")  # COCO's area bands: under 32x32, up to 96x96, above


@dataclass(frozen=True, slots=True)
class Predicted:
    """One image's candidates and how long the detector took."""

    image: LabelledImage
    detections: tuple[Detection, ...]
    detect_ms: float


def predict(dataset: Dataset, detect: Callable[[Frame], Sequence[Detection]],
            progress: Callable[[Iterable], Iterable] = lambda items: items) -> list[Predicted]:
    """Run the detector on every image (wrap the iteration in `progress`, e.g. a tqdm bar)."""
    out = []
    for image in progress(dataset.images):
        frame = Frame(read_image(image.path), timestamp_ms=0, index=0, still=True, name=str(image.path))
        start = time.perf_counter()
        detections = tuple(detect(frame))
        out.append(Predicted(image, detections, (time.perf_counter() - start) * 1000))
    return out


def coco_ground_truth(dataset: Dataset) -> dict:
    """The set in COCO instances form; ignored (difficult or crowd) boxes become iscrowd regions."""
    images, annotations = [], []
    for image in dataset.images:
        images.append({"id": image.image_id, "file_name": image.path.name, "width": image.width,
                       "height": image.height})
        for truth in image.truths:
            if truth.label not in dataset.categories:
                continue
            b = truth.box
            annotations.append({
                "id": len(annotations) + 1, "image_id": image.image_id, "category_id": dataset.categories[truth.label],
                "bbox": [b.x1, b.y1, b.width, b.height], "area": truth.area if truth.area is not None else b.area,
                "iscrowd": int(truth.ignore),
            })
    categories = [{"id": i, "name": n} for n, i in sorted(dataset.categories.items(), key=lambda c: c[1])]
    return {"images": images, "annotations": annotations, "categories": categories}


def coco_detections(dataset: Dataset, predicted: Sequence[Predicted]) -> list[dict]:
    """Predictions in COCO results form; classes the set does not label cannot be scored and are left out."""
    return [
        {"image_id": p.image.image_id, "category_id": dataset.categories[d.label],
         "bbox": [d.box.x1, d.box.y1, d.box.width, d.box.height], "score": d.score}
        for p in predicted for d in p.detections if d.label in dataset.categories
    ]


def run_cocoeval(ground_truth: dict, detections: list[dict]):
    """pycocotools' COCOeval on these dicts, evaluated and accumulated (its prints swallowed)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = ground_truth
        gt.createIndex()
        dt = gt.loadRes(detections) if detections else COCO()
        evaluator = COCOeval(gt, dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def coco_metrics(dataset: Dataset, evaluator) -> dict:
    """mAP@[.5:.95], AP50, AP75, AP per class, and AP and recall (AR@100) by COCO size band."""
    stats = evaluator.stats
    precision = evaluator.eval["precision"]  # [iou, recall, class, area, max_dets]
    names = {i: n for n, i in dataset.categories.items()}
    per_class = {}
    for k, cat_id in enumerate(evaluator.params.catIds):
        p = precision[:, :, k, 0, -1]
        if (p > -1).any():
            per_class[names[cat_id]] = float(np.mean(p[p > -1]))
    by_size = {size: {"ap": float(stats[3 + i]), "recall": float(stats[9 + i])} for i, size in enumerate(SIZES)}
    return {"map": float(stats[0]), "ap50": float(stats[1]), "ap75": float(stats[2]), "per_class": per_class,
            "by_size": by_size}


def overlap_recall(predicted: Sequence[Predicted]) -> dict:
    """Recall at RECALL_SCORE of truths overlapping another truth (IoU > OVERLAP_IOU) and of isolated ones."""
    found = {True: 0, False: 0}
    total = {True: 0, False: 0}
    for p in predicted:
        truths = [t for t in p.image.truths if not t.ignore]
        confident = [d for d in p.detections if d.score >= RECALL_SCORE]
        for i, t in enumerate(truths):
            overlapping = any(t.box.iou(o.box) > OVERLAP_IOU for j, o in enumerate(truths) if j != i)
            total[overlapping] += 1
            found[overlapping] += any(d.label == t.label and d.box.iou(t.box) >= MATCH_IOU for d in confident)
    return {"overlapping_recall": _ratio(found[True], total[True]), "isolated_recall": _ratio(found[False], total[False]),
            "overlapping": total[True], "isolated": total[False]}


def announcements(predicted: Sequence[Predicted], profile: Profile, labelled: Iterable[str]) -> dict:
    """What `describe` would say on each image, scored against the truth, for the profile's classes
    that the set labels (a spoken cup cannot be judged on a set that never labels cups).

    Per image, the spoken classes are compared with the true classes: precision is the share of
    spoken classes that are really there, recall the share of true classes that were spoken
    (`large_recall` counts only classes with a box at least LARGE_FRACTION of the image tall).
    Direction accuracy compares each spoken object's side with its matching truth's side.
    """
    right = spoken = true = large_right = large_true = 0
    directions = directions_right = 0
    per_class: dict[str, dict[str, int]] = {}
    judged = set(profile.objects) & set(labelled)
    for p in predicted:
        said = [s for s in describe_scene(p.detections, _sized(p.image), profile).objects if s.detection.label in judged]
        truths = [t for t in p.image.truths if not t.ignore and t.label in judged]
        said_classes = {s.detection.label for s in said}
        true_classes = {t.label for t in truths}
        large_classes = {t.label for t in truths if t.box.height >= LARGE_FRACTION * p.image.height}
        right += len(said_classes & true_classes)
        spoken += len(said_classes)
        true += len(true_classes)
        large_right += len(said_classes & large_classes)
        large_true += len(large_classes)
        for label in said_classes | true_classes:
            counts = per_class.setdefault(label, {"right": 0, "wrong": 0, "missed": 0})
            counts["right" if label in said_classes & true_classes else "wrong" if label in said_classes else "missed"] += 1
        for s in said:
            match = max((t for t in truths if t.label == s.detection.label), key=lambda t: t.box.iou(s.detection.box),
                        default=None)
            if match is None or match.box.iou(s.detection.box) < MATCH_IOU:
                continue
            directions += 1
            truth_side = direction_of(bearing_deg(match.box, p.image.width, profile.camera.hfov_deg))
            directions_right += truth_side == s.position.direction
    return {"precision": _ratio(right, spoken), "recall": _ratio(right, true),
            "large_recall": _ratio(large_right, large_true), "direction_accuracy": _ratio(directions_right, directions),
            "spoken": spoken, "large_right": large_right, "large_true": large_true, "per_class": per_class}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every figure of one evaluation, and what the report needs to draw and re-check them."""

    metrics: dict
    evaluator: object  # pycocotools' COCOeval, accumulated
    ground_truth: dict
    detections: list[dict]


def evaluate(dataset: Dataset, predicted: Sequence[Predicted], profile: Profile) -> Evaluation:
    """COCO metrics, overlap recall and announcement metrics for one set's predictions."""
    ground_truth = coco_ground_truth(dataset)
    detections = coco_detections(dataset, predicted)
    evaluator = run_cocoeval(ground_truth, detections)
    metrics = {
        **coco_metrics(dataset, evaluator),
        "overlap": overlap_recall(predicted),
        "announcements": announcements(predicted, profile, dataset.categories),
        "images": len(dataset.images),
        "skipped": len(dataset.missing),
        "profile": profile.name,
    }
    return Evaluation(metrics, evaluator, ground_truth, detections)


def _sized(image: LabelledImage) -> Frame:
    """A stand-in frame with the image's size: describe needs only the geometry, not the pixels."""
    return Frame(np.broadcast_to(np.zeros(3, np.uint8), (image.height, image.width, 3)), 0, 0, still=True,
                 name=str(image.path))


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None
