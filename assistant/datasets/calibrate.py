"""Choosing a model's speaking thresholds on labelled images, with k-fold cross-validation by image.

Each candidate box (duplicates suppressed) is judged once against the truth: right (it finds a
true object of its class at IoU 0.5, one box per object, best score first), wrong, or ignored
(it finds a VOC "difficult" or COCO crowd box). Because matching goes best score first, a
threshold keeps a prefix of each image's boxes and their verdicts stay the same, so any
threshold is scored by counting.

The worth of a threshold is `right - WRONG_COST * wrong`: a wrong word costs two right ones,
so a class is only said lower down while at least two in three of the extra boxes are real.
Nothing is chosen on too little: a calibration needs at least OBJECTS_PER_FOLD labelled objects
(of classes the model can say) and IMAGES_PER_FOLD images for each fold, or it is refused.

One global threshold is chosen for every class, and it moves from UNCALIBRATED only if, chosen
without each fold, it is worth more on the held-out images than UNCALIBRATED on the same folds. A
class moves from it only with at least MIN_IMAGES images of evidence (images that show it or where
the detector proposes it) and CLASS_OBJECTS_PER_FOLD labelled objects of it per fold, only if its
own threshold beats the global one on the held-out images of every fold, each fold's thresholds
chosen without those images, and, away from UNCALIBRATED, only if it beats UNCALIBRATED there too.
The classes of a COCO supercategory (animal, vehicle...) that cannot move alone may move together
by the same rule, pooling their images. Last, the whole method is cross-validated once more; if
what it chose is not worth more than UNCALIBRATED everywhere on images it never saw, UNCALIBRATED
is kept. Small sets lie; this is how a threshold earns a number.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from ..config import models
from ..config.calibration import UNCALIBRATED
from ..errors import AssistantError
from ..vision.duplicates import suppress
from .evaluation import Predicted, is_large, match
from .readers import Dataset

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
OBJECTS_PER_FOLD = 10  # labelled objects per fold for any calibration: 50 with 5 folds
IMAGES_PER_FOLD = 2  # and images per fold, so that no fold is empty or a single photo
CLASS_OBJECTS_PER_FOLD = 2  # labelled objects of a class (or group) per fold for it to move: 10 with 5 folds


class TooLittleEvidence(AssistantError):
    """Labelled sets too small to choose any threshold on."""


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
    objects: Counter = field(default_factory=Counter)  # class -> true objects (not difficult, not crowd)

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
    """The global threshold, the classes that earned their own (`thresholds`), each judged class's
    images of evidence, and how each threshold was decided (`decisions`: evidence and folds won)."""

    default: float
    thresholds: dict[str, float]
    evidence: dict[str, int]
    decisions: dict[str, dict] = field(default_factory=dict)

    def threshold(self, label: str) -> float:
        return self.thresholds.get(label, self.default)


def judge(predicted: Sequence[Predicted], labelled: Iterable[str], key: str = "",
          model_labels: Iterable[str] = ()) -> list[Record]:
    """Records of one set's images for the classes it labels (a cup cannot be judged on VOC) and,
    given `model_labels`, that the model can say; never a placeholder such as `background`."""
    wanted = models.classes(labelled)
    judged = wanted & set(model_labels) if model_labels else wanted
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
        objects = Counter(t.label for t in truths if not t.ignore)
        records.append(Record(f"{key}{p.image.path.name}", tuple(verdicts), frozenset(objects), large, objects))
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


def objects_of(records: Iterable[Record], labels: str | Sequence[str] | None = None) -> int:
    """Labelled objects (not difficult, not crowd) of a class, of several, or (None) of every class."""
    wanted = None if labels is None else {labels} if isinstance(labels, str) else set(labels)
    return sum(n for r in records for label, n in r.objects.items() if wanted is None or label in wanted)


def require_evidence(objects: int, images: int, folds: int = FOLDS) -> None:
    """TooLittleEvidence, in one sentence with the numbers, below the minimum any calibration needs."""
    if objects < OBJECTS_PER_FOLD * folds:
        raise TooLittleEvidence(
            f"The labelled sets have {_count(objects, 'labelled object')} of classes this model can say; a calibration "
            f"with {folds} folds needs at least {OBJECTS_PER_FOLD * folds} ({OBJECTS_PER_FOLD} per fold), so add "
            "labelled images or use fewer --folds.")
    if images < IMAGES_PER_FOLD * folds:
        raise TooLittleEvidence(
            f"The labelled sets have {_count(images, 'image')}; a calibration with {folds} folds needs at least "
            f"{IMAGES_PER_FOLD * folds} ({IMAGES_PER_FOLD} per fold), so add labelled images or use fewer --folds.")


def check_sets(datasets: Iterable[Dataset], model_labels: Collection[str], folds: int = FOLDS) -> None:
    """`require_evidence` on the sets' own labels, before the detector spends any time on them."""
    images = [image for dataset in datasets for image in dataset.images]
    known = models.classes(model_labels)
    objects = sum(not t.ignore and t.label not in models.NOT_CLASSES and (not model_labels or t.label in known)
                  for i in images for t in i.truths)
    require_evidence(objects, len(images), folds)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


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


def held_out(trained: Sequence[tuple[list[Record], list[Record], float]], labels: str | Sequence[str],
             threshold: float | None = None) -> list[float]:
    """Each fold's held-out worth of `labels` at `threshold`, or (None) at the best chosen on its training part."""
    return [tally(test, labels, best_for(train, labels) if threshold is None else threshold).worth
            for train, test, _ in trained]


def select(records: Sequence[Record], folds: int = FOLDS, min_images: int = MIN_IMAGES) -> Selection:
    """The global threshold if it beats UNCALIBRATED held out, then the classes, then the groups of
    the rest, that earned their own."""
    classes = classes_in(records)
    split = folds_of(records, folds)
    trained = []
    for i in range(folds):
        train = [r for j, part in enumerate(split) if j != i for r in part]
        trained.append((train, split[i], best_global(train, classes)))
    chosen = sum(tally_all(test, Selection(fold_default, {}, {}), classes).worth for _, test, fold_default in trained)
    plain = sum(tally_all(test, Selection(UNCALIBRATED, {}, {}), classes).worth for _, test, _ in trained)
    default = best_global(records, classes) if chosen > plain else UNCALIBRATED
    if default == UNCALIBRATED:
        trained = [(train, test, UNCALIBRATED) for train, test, _ in trained]
    decisions = {"default": {"images": len(records), "objects": objects_of(records),
                             "held_out_worth": chosen, "held_out_worth_at_0.5": plain}}

    def earned(name: str, labels: str | Sequence[str]) -> float | None:
        """Its own threshold, if it has the evidence, beats the global one on every held-out fold
        and, away from UNCALIBRATED, beats UNCALIBRATED on them together."""
        if not labels:
            return None
        images, objects = evidence(records, labels), objects_of(records, labels)
        decision = decisions[name] = {"images": images, "objects": objects}
        if images < min_images or objects < CLASS_OBJECTS_PER_FOLD * folds:
            return None
        own = held_out(trained, labels)
        wins = sum(o > tally(test, labels, fold_default).worth for o, (_, test, fold_default) in zip(own, trained))
        best = best_for(records, labels)
        decision["folds_won"] = wins
        if wins < folds or (best != UNCALIBRATED and sum(own) <= sum(held_out(trained, labels, UNCALIBRATED))):
            return None
        decision["moved"] = [labels] if isinstance(labels, str) else list(labels)
        return best

    thresholds = {c: t for c in classes if (t := earned(c, c)) is not None}
    for group, members in GROUPS.items():
        rest = [c for c in members if c in classes and c not in thresholds]
        moved = earned(f"{group} (group)", rest)
        thresholds.update({c: moved for c in rest} if moved is not None else {})
    return Selection(default, {c: t for c, t in thresholds.items() if t != default},
                     {c: evidence(records, c) for c in classes}, decisions)


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
    return {"precision": _round(t.precision), "large_recall": _round(t.large_recall), "right": t.right, "wrong": t.wrong,
            "worth": t.worth}


def kept_plain(selection: Selection, results: Sequence[FoldResult]) -> str | None:
    """Why UNCALIBRATED is kept everywhere: what was chosen is not worth more on images it never saw."""
    chosen, plain = sum(f.chosen.worth for f in results), sum(f.plain.worth for f in results)
    if (selection.default == UNCALIBRATED and not selection.thresholds) or chosen > plain:
        return None
    return (f"Kept {UNCALIBRATED} for every class: cross-validated, the thresholds chosen were worth {chosen:g} "
            f"(right - {WRONG_COST:g} x wrong) against {plain:g} for a plain {UNCALIBRATED}.")


def evidence_line(selection: Selection) -> str:
    """How much evidence each threshold of a selection had, in one line."""
    d = selection.decisions["default"]
    every = (f"every class {selection.default} ({d['images']} images, {d['objects']} labelled objects; worth "
             f"{d['held_out_worth']:g} held out against {d['held_out_worth_at_0.5']:g} at {UNCALIBRATED})")
    parts = [every]
    for label, threshold in sorted(selection.thresholds.items()):
        own = next(v for k, v in selection.decisions.items() if label in v.get("moved", ()))
        parts.append(f"{label} {threshold} ({'with its group, ' if own['moved'] != [label] else ''}{own['images']} "
                     f"images, {own['objects']} labelled objects; won all {own['folds_won']} folds)")
    return "Evidence: " + "; ".join(parts) + "."


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def calibrate(sets: dict[str, list[Record]], folds: int = FOLDS, min_images: int = MIN_IMAGES) -> tuple[Selection, dict]:
    """The selection on every set pooled, and a report: each outer fold's figures beside a plain
    0.5, and, with several sets, each set checked by a selection made on the others alone.
    TooLittleEvidence below the minimum; UNCALIBRATED everywhere unless the choice wins held out."""
    pooled = [r for records in sets.values() for r in records]
    require_evidence(objects_of(pooled), len(pooled), folds)
    selection = select(pooled, folds, min_images)
    results = cross_validate(pooled, folds, min_images)
    kept = kept_plain(selection, results)
    if kept is not None:
        selection = Selection(UNCALIBRATED, {}, selection.evidence, selection.decisions)
    report = {
        "sets": {name: len(records) for name, records in sets.items()},
        "method": {"grid": [GRID[0], GRID[-1]], "wrong_cost": WRONG_COST, "min_images": min_images, "folds": folds,
                   "min_objects": OBJECTS_PER_FOLD * folds, "min_class_objects": CLASS_OBJECTS_PER_FOLD * folds},
        "evidence": {c: selection.evidence[c] for c in sorted(selection.evidence)},
        "decisions": selection.decisions,
        "kept_plain": kept,
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
