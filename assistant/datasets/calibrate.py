"""Choosing a model's speaking thresholds on labelled images, with k-fold cross-validation by image.

Each candidate box (duplicates suppressed) is judged once against the truth: right (it finds a
true object of its class at IoU 0.5, one box per object, best score first), wrong, or ignored
(it finds a VOC "difficult" or COCO crowd box). Because matching goes best score first, a
threshold keeps a prefix of each image's boxes and their verdicts stay the same, so any
threshold is scored by counting.

The worth of a threshold is `right - WRONG_COST * wrong`: a wrong word costs two right ones,
so a class is only said lower down while at least two in three of the extra boxes are real.
One global threshold is chosen for every class. A class moves from it only with at least
MIN_IMAGES images of evidence (images that show it or where the detector proposes it), and only
if its own threshold beats the global one on the held-out images of every fold, each fold's
thresholds chosen without those images. The classes of a COCO supercategory (animal, vehicle...)
that cannot move alone may move together by the same rule, pooling their images. Small sets
lie; this is how a class earns a number.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from ..duplicates import suppress
from .evaluation import Predicted, is_large, match

# COCO's own supercategories: a class without enough images of its own may move with its group.
GROUPS = {
    "vehicle": ("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"),
    "outdoor": ("traffic light", "fire hydrant", "stop sign", "parking meter", "bench"),
    "animal": ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"),
    "accessory": ("backpack", "umbrella", "handbag", "tie", "suitcase"),
    "sports": ("frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
               "surfboard", "tennis racket"),
    "kitchen": ("bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl"),
    "food": ("banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake"),
    "furniture": ("chair", "couch", "potted plant", "bed", "dining table", "toilet"),
    "electronic": ("tv", "laptop", "mouse", "remote", "keyboard", "cell phone"),
    "appliance": ("microwave", "oven", "toaster", "sink", "refrigerator"),
    "indoor": ("book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush"),
}
GRID = tuple(round(0.30 + 0.05 * i, 2) for i in range(11))  # 0.30 .. 0.80
WRONG_COST = 2.0
MIN_IMAGES = 20
FOLDS = 5
SEED = 2026


@dataclass(frozen=True, slots=True)
class Verdict:
    """One candidate box of one image: its class, score, and whether it is right (and finds a large object)."""

    label: str
    score: float
    right: bool
    wrong: bool
    large: bool


@dataclass(frozen=True)
class Record:
    """One labelled image as the selection sees it."""

    key: str
    verdicts: tuple[Verdict, ...]
    present: frozenset[str]  # classes with a true object here
    large_truths: Counter  # class -> true objects at least LARGE_FRACTION of the image tall

    @cached_property
    def by_label(self) -> dict[str, list[Verdict]]:
        grouped: dict[str, list[Verdict]] = defaultdict(list)
        for v in self.verdicts:
            grouped[v.label].append(v)
        return grouped


@dataclass(frozen=True, slots=True)
class Tally:
    right: int = 0
    wrong: int = 0
    large_right: int = 0
    large_true: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.right + other.right, self.wrong + other.wrong, self.large_right + other.large_right,
                     self.large_true + other.large_true)

    @property
    def worth(self) -> float:
        return self.right - WRONG_COST * self.wrong

    @property
    def precision(self) -> float | None:
        return self.right / (self.right + self.wrong) if self.right + self.wrong else None

    @property
    def large_recall(self) -> float | None:
        return self.large_right / self.large_true if self.large_true else None


@dataclass(frozen=True, slots=True)
class Selection:
    """The global threshold, the classes that earned their own (`thresholds`), and each judged
    class's images of evidence."""

    default: float
    thresholds: dict[str, float]
    evidence: dict[str, int]

    def threshold(self, label: str) -> float:
        return self.thresholds.get(label, self.default)


def judge(predicted: Sequence[Predicted], labelled: Iterable[str], key: str = "") -> list[Record]:
    """Records of one set's images for the classes it labels (a cup cannot be judged on VOC)."""
    judged = set(labelled)
    records = []
    for p in predicted:
        truths = [t for t in p.image.truths if t.label in judged]
        candidates = list(suppress(x for x in p.detections if x.score >= GRID[0] and x.label in judged))
        verdicts = []
        for d, i in zip(candidates, match(candidates, truths)):
            truth = None if i is None or truths[i].ignore else truths[i]
            verdicts.append(Verdict(d.label, d.score, truth is not None, i is None,
                                    truth is not None and is_large(truth, p.image.height)))
        large = Counter(t.label for t in truths if not t.ignore and is_large(t, p.image.height))
        records.append(Record(f"{key}{p.image.path.name}", tuple(verdicts),
                              frozenset(t.label for t in truths if not t.ignore), large))
    return records


def tally(records: Iterable[Record], labels: str | Sequence[str], threshold: float) -> Tally:
    """What saying a class (or each of several) at `threshold` gets right and wrong over these images."""
    right = wrong = large = true = 0
    for r in records:
        for label in (labels,) if isinstance(labels, str) else labels:
            for v in r.by_label.get(label, ()):
                if v.score >= threshold:
                    right += v.right
                    wrong += v.wrong
                    large += v.large
            true += r.large_truths[label]
    return Tally(right, wrong, large, true)


def tally_all(records: Sequence[Record], selection: Selection, classes: Iterable[str]) -> Tally:
    total = Tally()
    for label in classes:
        total += tally(records, label, selection.threshold(label))
    return total


def classes_in(records: Iterable[Record]) -> list[str]:
    found: set[str] = set()
    for r in records:
        found |= r.present | {v.label for v in r.verdicts}
    return sorted(found)


def evidence(records: Iterable[Record], labels: str | Sequence[str]) -> int:
    """Images that show the class (or one of several) or where the detector proposes it."""
    wanted = {labels} if isinstance(labels, str) else set(labels)
    return sum(bool(wanted & r.present) or any(v.label in wanted for v in r.verdicts) for r in records)


def folds_of(records: Sequence[Record], folds: int = FOLDS, seed: int = SEED) -> list[list[Record]]:
    """The images split into `folds` groups, shuffled by a fixed seed so every run agrees."""
    order = sorted(records, key=lambda r: r.key)
    random.Random(seed).shuffle(order)
    return [order[i::folds] for i in range(folds)]


def best_global(records: Sequence[Record], classes: Sequence[str]) -> float:
    """The one threshold worth most over every class; a tie goes to the one nearest UNCALIBRATED."""
    return max(GRID, key=lambda t: (sum(tally(records, c, t).worth for c in classes), -abs(t - 0.5)))


def best_for(records: Sequence[Record], labels: str | Sequence[str]) -> float:
    return max(GRID, key=lambda t: (tally(records, labels, t).worth, -abs(t - 0.5)))


def select(records: Sequence[Record], folds: int = FOLDS, min_images: int = MIN_IMAGES) -> Selection:
    """The global threshold, then the classes, then the groups of the rest, that earned their own."""
    classes = classes_in(records)
    default = best_global(records, classes)
    split = folds_of(records, folds)
    trained = []
    for i in range(folds):
        train = [r for j, part in enumerate(split) if j != i for r in part]
        trained.append((train, split[i], best_global(train, classes)))

    def earned(labels: str | Sequence[str]) -> float | None:
        """Its own threshold, if it has the images and beats the global one on every held-out fold."""
        if not labels or evidence(records, labels) < min_images:
            return None
        wins = [tally(test, labels, best_for(train, labels)).worth > tally(test, labels, fold_default).worth
                for train, test, fold_default in trained]
        return best_for(records, labels) if all(wins) else None

    thresholds = {c: t for c in classes if (t := earned(c)) is not None}
    for members in GROUPS.values():
        rest = [c for c in members if c in classes and c not in thresholds]
        group = earned(rest)
        thresholds.update({c: group for c in rest} if group is not None else {})
    return Selection(default, {c: t for c, t in thresholds.items() if t != default},
                     {c: evidence(records, c) for c in classes})


@dataclass(frozen=True, slots=True)
class FoldResult:
    """One outer fold: thresholds chosen without its images, scored on them, beside UNCALIBRATED."""

    images: int
    default: float
    moved: dict[str, float]
    chosen: Tally
    plain: Tally


def cross_validate(records: Sequence[Record], folds: int = FOLDS, min_images: int = MIN_IMAGES,
                   plain: float = 0.5) -> list[FoldResult]:
    """How the whole method does on images it never saw: select on k-1 folds, score on the last."""
    split = folds_of(records, folds, SEED + 1)
    classes = classes_in(records)
    fixed = Selection(plain, {}, {})
    results = []
    for i in range(folds):
        train = [r for j, part in enumerate(split) if j != i for r in part]
        selection = select(train, folds, min_images)
        results.append(FoldResult(len(split[i]), selection.default, selection.thresholds,
                                  tally_all(split[i], selection, classes), tally_all(split[i], fixed, classes)))
    return results


def _figures(t: Tally) -> dict:
    return {"precision": _round(t.precision), "large_recall": _round(t.large_recall), "right": t.right, "wrong": t.wrong}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def calibrate(sets: dict[str, list[Record]], folds: int = FOLDS, min_images: int = MIN_IMAGES) -> tuple[Selection, dict]:
    """The selection on every set pooled, and a report: each outer fold's figures beside a plain
    0.5, and, with several sets, each set checked by a selection made on the others alone."""
    pooled = [r for records in sets.values() for r in records]
    selection = select(pooled, folds, min_images)
    results = cross_validate(pooled, folds, min_images)
    report = {
        "sets": {name: len(records) for name, records in sets.items()},
        "method": {"grid": [GRID[0], GRID[-1]], "wrong_cost": WRONG_COST, "min_images": min_images, "folds": folds},
        "evidence": {c: selection.evidence[c] for c in sorted(selection.evidence)},
        "folds": [{"images": f.images, "default": f.default, "moved": f.moved, "chosen": _figures(f.chosen),
                   "plain_0.5": _figures(f.plain)} for f in results],
        "cross_validated": {"chosen": _figures(sum((f.chosen for f in results), Tally())),
                            "plain_0.5": _figures(sum((f.plain for f in results), Tally()))},
        "held_out_sets": {},
    }
    for name, records in sets.items() if len(sets) > 1 else ():
        others = select([r for other, rs in sets.items() if other != name for r in rs], folds, min_images)
        classes = classes_in(records)
        report["held_out_sets"][name] = {
            "default": others.default, "moved": others.thresholds,
            "chosen": _figures(tally_all(records, others, classes)),
            "plain_0.5": _figures(tally_all(records, Selection(0.5, {}, {}), classes))}
    return selection, report
