"""How well the assistant sees a labelled set: COCO mAP by pycocotools, and what it would say.

mAP uses every candidate down to EVAL_MIN_SCORE (up to 100 per image), as COCO evaluation
expects. The announcement metrics put the same detections through the profile and `describe`,
so they use the profile's own thresholds, exactly as the live assistant would.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..config.rules import Rules
from ..core import Detection, Frame, Sighting
from ..narration.wording import describe_scene
from ..sources.imaging import read_image
from ..vision.position import locate
from ..vision.speaking import Kind, judge
from .readers import Dataset, LabelledImage, Truth

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


def match(detections: Sequence[Detection], truths: Sequence[Truth]) -> list[int | None]:
    """For each detection, best score first, the index of the true object of its class it finds at
    MATCH_IOU or more (each true object found once), or None. The order of `detections` is kept."""
    taken: set[int] = set()
    found: list[int | None] = [None] * len(detections)
    for k in sorted(range(len(detections)), key=lambda k: -detections[k].score):
        d = detections[k]
        best, best_iou = None, MATCH_IOU
        for i, t in enumerate(truths):
            if i not in taken and t.label == d.label and t.box.iou(d.box) >= best_iou:
                best, best_iou = i, t.box.iou(d.box)
        if best is not None:
            taken.add(best)
            found[k] = best
    return found


def is_large(truth: Truth, image_height: int) -> bool:
    """Large enough to matter when spoken: at least LARGE_FRACTION of the image tall."""
    return truth.box.height >= LARGE_FRACTION * image_height


Say = Callable[[Sequence[Detection], Frame, Rules], Sequence[Sighting]]


def described(detections: Sequence[Detection], frame: Frame, rules: Rules) -> Sequence[Sighting]:
    """What `describe` says: the objects of its one sentence."""
    return describe_scene(detections, frame, rules).objects


def announcements(predicted: Sequence[Predicted], rules: Rules, labelled: Iterable[str],
                  say: Say = described) -> dict:
    """What `describe` would say on each image, object by object, scored against the truth, for the
    profile's classes that the set labels (a spoken cup cannot be judged on a set that never labels cups).

    Each spoken object is right when it finds a true object of its class (IoU 0.5, one spoken
    object per true object), wrong when it finds none, and not judged when it finds a VOC
    "difficult" or COCO crowd box. `precision` is right / (right + wrong); `large_recall` the share
    of large true objects (LARGE_FRACTION of the image tall) that were spoken. Counts: for every
    image and class spoken or with a large true object, `count_accuracy` is the share where the
    number spoken equals the number of large true objects, `count_mae` the mean absolute difference.
    Direction accuracy compares each right object's side with its true object's side. `say` stands
    in for `describe` to score another way of speaking (a benchmark's baseline).
    """
    right = wrong = large_right = large_true = found_all = true_all = 0
    exact = pairs = count_error = directions = directions_right = 0
    per_class: dict[str, dict[str, int]] = {}
    judged = rules.labels & set(labelled)
    for p in predicted:
        said = [s for s in say(p.detections, _sized(p.image), rules) if s.detection.label in judged]
        truths = [t for t in p.image.truths if t.label in judged]
        found = match([s.detection for s in said], truths)
        large = {i for i, t in enumerate(truths) if not t.ignore and is_large(t, p.image.height)}
        for s, i in zip(said, found):
            counts = per_class.setdefault(s.detection.label, {"right": 0, "wrong": 0, "missed": 0})
            if i is None:
                wrong += 1
                counts["wrong"] += 1
            elif not truths[i].ignore:
                right += 1
                counts["right"] += 1
                directions += 1
                truth_side = locate(truths[i].label, truths[i].box, p.image.width, p.image.height,
                                    rules.profile.camera.hfov_deg).direction
                directions_right += truth_side == s.position.direction
        hit = {i for i in found if i is not None}
        for i, t in enumerate(truths):
            if not t.ignore and i not in hit:
                per_class.setdefault(t.label, {"right": 0, "wrong": 0, "missed": 0})["missed"] += 1
        large_true += len(large)
        large_right += len(large & hit)
        true_all += sum(not t.ignore for t in truths)
        found_all += sum(not truths[i].ignore for i in hit)
        spoken_counts = Counter(s.detection.label for s in said)
        large_counts = Counter(truths[i].label for i in large)
        for label in set(spoken_counts) | set(large_counts):
            pairs += 1
            exact += spoken_counts[label] == large_counts[label]
            count_error += abs(spoken_counts[label] - large_counts[label])
    return {"precision": _ratio(right, right + wrong), "recall": _ratio(found_all, true_all),
            "large_recall": _ratio(large_right, large_true), "direction_accuracy": _ratio(directions_right, directions),
            "count_accuracy": _ratio(exact, pairs), "count_mae": _ratio(count_error, pairs), "count_pairs": pairs,
            "count_exact": exact, "count_error": count_error, "spoken": right + wrong, "right": right, "wrong": wrong,
            "true": true_all, "large_right": large_right, "large_true": large_true, "per_class": per_class, **duplicates(predicted, rules)}


def duplicates(predicted: Sequence[Predicted], rules: Rules) -> dict:
    """Boxes the profile would speak that duplicate suppression removed, and how many of those were a
    real neighbour: a true object that no kept box finds."""
    removed = merged = 0
    for p in predicted:
        sorted_out = judge(p.detections, rules, p.image.width, p.image.height)
        kept, gone = sorted_out.accepted, sorted_out.of(Kind.DUPLICATE)
        removed += len(gone)
        truths = [t for t in p.image.truths if not t.ignore]
        covered = {i for i in match(kept, truths) if i is not None}
        merged += sum(i is not None and i not in covered for i in match(gone, truths))
    return {"duplicates_removed": removed, "neighbours_merged": merged}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every figure of one evaluation, and what the report needs to draw and re-check them."""

    metrics: dict
    evaluator: object  # pycocotools' COCOeval, accumulated
    ground_truth: dict
    detections: list[dict]


def evaluate(dataset: Dataset, predicted: Sequence[Predicted], rules: Rules) -> Evaluation:
    """COCO metrics, overlap recall and announcement metrics for one set's predictions."""
    ground_truth = coco_ground_truth(dataset)
    detections = coco_detections(dataset, predicted)
    evaluator = run_cocoeval(ground_truth, detections)
    metrics = {
        **coco_metrics(dataset, evaluator),
        "overlap": overlap_recall(predicted),
        "announcements": announcements(predicted, rules, dataset.categories),
        "images": len(dataset.images),
        "skipped": len(dataset.missing),
        "profile": rules.profile.name,
    }
    return Evaluation(metrics, evaluator, ground_truth, detections)


def _sized(image: LabelledImage) -> Frame:
    """A stand-in frame with the image's size: describe needs only the geometry, not the pixels."""
    return Frame(np.broadcast_to(np.zeros(3, np.uint8), (image.height, image.width, 3)), 0, 0, still=True,
                 name=str(image.path))


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None
