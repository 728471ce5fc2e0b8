"""Labelled sets made into one training set for Model Maker: classes chosen and renamed, sets merged,
a seeded split by image, COCO images of classes to keep mixed in, counts and plain warnings, and the
folders `object_detector.Dataset.from_coco_folder` reads.

`prepare` is pure; `write_model_maker_folder` writes. What Model Maker 0.2.1.4 does with the folder,
read from its source: it decodes each image as a JPEG without its EXIF turn (so a photo turned by
EXIF, or not a JPEG, is written as a JPEG of the photo as shown, the boxes' frame), skips a box that
reaches past the image by any amount, and skips an image with no box (so negatives kept by
`keep_empty` serve the project's own evaluation and calibration, not the training).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
from PIL import Image

from ..core import Box
from ..datasets.calibrate import MIN_IMAGES
from ..datasets.readers import Dataset, DatasetError, LabelledImage
from ..sources.imaging import EXIF_ORIENTATION, read_image

# Model Maker fine-tunes a pretrained SSD head. With a few dozen boxes of a class it memorises them
# and rarely fires on new photos; MediaPipe's guidance (and that of similar tools) is 100 images or
# more per class. Below this many training boxes a class is warned about.
MIN_TRAINING_BOXES = 50
DEFAULT_FRACTION = 0.2  # of the images, for validation
DEFAULT_SEED = 0
SPLITS = ("train", "validation")
NAME_CHARS = 60  # of an original file name kept in the written one, after its unique number


@dataclass(frozen=True, slots=True)
class Count:
    """Images that show a class, and its boxes (crowd and difficult boxes are not counted)."""

    images: int
    boxes: int


@dataclass(frozen=True)
class TrainingSet:
    """The set to train on: classes in id order (1..N, as Model Maker numbers them), both splits as
    `Dataset`s named by the new classes, counts per split and class, warnings and the readers' problems."""

    classes: tuple[str, ...]
    train: Dataset
    validation: Dataset
    counts: dict[str, dict[str, Count]]  # "train" / "validation" -> class -> Count
    warnings: tuple[str, ...]
    problems: tuple[str, ...]
    sources: tuple[str, ...]
    seed: int
    fraction: float
    mixed_in: int  # images taken from the COCO set for the classes kept

    def summary(self) -> dict:
        """Images and boxes per class per split, and where they came from: for a model's manifest."""
        splits = {}
        for split, dataset in zip(SPLITS, (self.train, self.validation)):
            splits[split] = {"images": len(dataset.images),
                             "boxes": sum(not t.ignore for i in dataset.images for t in i.truths),
                             "classes": {c: {"images": n.images, "boxes": n.boxes}
                                         for c, n in self.counts[split].items()}}
        return {"classes": list(self.classes), "sources": list(self.sources), "seed": self.seed,
                "fraction": self.fraction, "mixed_in_images": self.mixed_in, **splits}


def parse_classes(spec: str) -> dict[str, str]:
    """`door,stairs` or `doorway=door,stair=stairs,stairs` as {old name: new name}, in order."""
    chosen: dict[str, str] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        old, equals, new = (side.strip() for side in item.partition("="))
        new = new if equals else old
        if not old or not new:
            raise DatasetError(f"{item!r} in the classes {spec!r} lacks a name on one side of '='; write old=new.")
        if chosen.get(old, new) != new:
            raise DatasetError(f"{old!r} is renamed to both {chosen[old]!r} and {new!r} in {spec!r}; choose one.")
        chosen[old] = new
    if not chosen:
        raise DatasetError(f"The classes {spec!r} name none; write them as door,stairs or doorway=door.")
    return chosen


def prepare(sets: Sequence[Dataset], classes: str | Mapping[str, str], *, keep: Sequence[str] = (),
            keep_from: Dataset | None = None, keep_images: int | None = None, keep_empty: bool = False,
            fraction: float = DEFAULT_FRACTION, seed: int = DEFAULT_SEED) -> TrainingSet:
    """The training set from labelled sets: their boxes of the chosen classes, renamed (boxes of other
    classes dropped; an image left with none is dropped unless `keep_empty`), split by image, seeded.
    `keep` classes are kept in the sets' own images too, and mixed in from `keep_from`, a COCO set: at
    most `keep_images` of its images for training (default: as many as the sets' own training
    images, so old classes do not swamp new ones), and the same fraction again for validation."""
    if not 0 <= fraction < 1:
        raise DatasetError(f"A validation fraction of {fraction} is not between 0 and 1; 0.2 is usual.")
    if keep and keep_from is None:
        raise DatasetError(f"Keeping {', '.join(keep)} needs a COCO set to take their images from.")
    renames = parse_classes(classes) if isinstance(classes, str) else dict(classes)
    _check_names(list(renames), sets)
    if keep_from is not None:
        _check_names(list(keep), [keep_from])
    names = tuple(dict.fromkeys([*renames.values(), *keep]))
    renames = {**{k: k for k in keep}, **renames}
    own = sorted((pair for dataset in sets for pair in _chosen(dataset, renames, keep_empty, seed)),
                 key=lambda pair: pair[0])
    own = [image for _, image in own]
    if not own:
        raise DatasetError(f"No image of {', '.join(d.name for d in sets)} has a box of {', '.join(names)}.")
    train, validation = _split(own, fraction)
    mixed_train: list[LabelledImage] = []
    mixed_validation: list[LabelledImage] = []
    if keep_from is not None:
        taken = {image.path.resolve() for image in own}
        candidates = [(key, image) for key, image in _chosen(keep_from, {k: k for k in keep}, False, seed)
                      if image.path.resolve() not in taken]
        candidates.sort(key=lambda c: c[0])
        cap = len(train) if keep_images is None else keep_images
        mixed_train = [image for _, image in candidates[:cap]]
        more = round(len(mixed_train) * fraction / (1 - fraction))
        mixed_validation = [image for _, image in candidates[cap:cap + more]]
    numbered = _numbered([*train, *mixed_train, *validation, *mixed_validation])
    categories = {name: number for number, name in enumerate(names, start=1)}
    sources = tuple(d.name for d in sets) + ((keep_from.name,) if keep_from is not None else ())
    split_sets = (Dataset(f"{'+'.join(sources)} (train)", tuple(numbered[:len(train) + len(mixed_train)]),
                          categories),
                  Dataset(f"{'+'.join(sources)} (validation)", tuple(numbered[len(train) + len(mixed_train):]),
                          categories))
    counts = {split: _counts(dataset, names) for split, dataset in zip(SPLITS, split_sets)}
    problems = tuple(p for d in [*sets, *([keep_from] if keep_from else [])] for p in d.problems)
    return TrainingSet(names, *split_sets, counts, _warnings(counts), problems, sources, seed, fraction,
                       len(mixed_train) + len(mixed_validation))


def write_model_maker_folder(training: TrainingSet, folder: Path) -> dict[str, Path]:
    """`folder/train` and `folder/validation`, each `images/` and `labels.json` (COCO instances, ids
    1..N) as Model Maker's `from_coco_folder` reads them. Images are hard-linked where the filesystem
    allows, else copied; never moved or changed. `folder` must be new or empty (its parent must exist);
    nothing is written outside it, and a split is renamed into place only once whole."""
    if folder.is_symlink() or (folder.exists() and (not folder.is_dir() or any(folder.iterdir()))):
        raise DatasetError(f"{folder} is not a new or empty folder; give one for the training set alone.")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"Cannot make the folder {folder}: {exc.strerror or exc}.") from None
    written: dict[str, Path] = {}
    try:
        for split, dataset in zip(SPLITS, (training.train, training.validation)):
            temporary = Path(tempfile.mkdtemp(dir=folder, prefix=f".{split}."))
            try:
                _write_split(dataset, temporary)
                os.replace(temporary, folder / split)
            finally:
                shutil.rmtree(temporary, ignore_errors=True)  # gone already when renamed
            written[split] = folder / split
    except BaseException:
        for path in written.values():
            shutil.rmtree(path, ignore_errors=True)
        raise
    return written


def _check_names(names: list[str], sets: Sequence[Dataset]) -> None:
    """DatasetError naming the nearest class when a name is in none of the sets."""
    known = sorted({n for d in sets for n in (*d.labels, *d.categories)})
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; they have {', '.join(known) or 'no classes'}."
            raise DatasetError(f"{name!r} is not a class of {', '.join(d.name for d in sets)}{hint}")


def _key(seed: int, dataset: Dataset, image: LabelledImage) -> str:
    """Where an image falls in the seeded order: from the seed and its set's and file's names alone, so
    the split is the same on every machine and an image added to a set moves no other between splits."""
    return hashlib.sha256(f"{seed}/{dataset.name}/{image.path.parent.name}/{image.path.name}".encode()).hexdigest()


def _chosen(dataset: Dataset, renames: Mapping[str, str], keep_empty: bool,
            seed: int) -> list[tuple[str, LabelledImage]]:
    """(seeded key, image) for the set's images, with their boxes of the chosen classes renamed; an
    image with none only when `keep_empty`."""
    chosen = []
    for image in dataset.images:
        truths = tuple(replace(t, label=renames[t.label]) for t in image.truths if t.label in renames)
        if truths or keep_empty:
            chosen.append((_key(seed, dataset, image), replace(image, truths=truths)))
    return chosen


def _split(images: list[LabelledImage], fraction: float) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """Training and validation images, in the order given (the seeded one). Validation gets first one
    image of each class, rarest class first, where that leaves the class an image to train on; then
    the next images in order, as long as none takes a class's last training image."""
    want = round(len(images) * fraction)
    shows = [{t.label for t in image.truths} for image in images]
    left: dict[str, int] = {}
    for labels in shows:
        for label in labels:
            left[label] = left.get(label, 0) + 1
    chosen: list[int] = []

    def movable(i: int) -> bool:
        return i not in chosen and all(left[c] > 1 for c in shows[i])

    def move(i: int) -> None:
        chosen.append(i)
        for c in shows[i]:
            left[c] -= 1

    for name in sorted(left, key=lambda c: (left[c], c)):
        if len(chosen) < want and not any(name in shows[i] for i in chosen):
            found = next((i for i in range(len(images)) if name in shows[i] and movable(i)), None)
            if found is not None:
                move(found)
    for i in range(len(images)):
        if len(chosen) < want and movable(i):
            move(i)
    return ([image for i, image in enumerate(images) if i not in chosen],
            [image for i, image in enumerate(images) if i in chosen])


def _numbered(images: list[LabelledImage]) -> list[LabelledImage]:
    """The images with ids 1..n, unique across the sets they came from."""
    return [replace(image, image_id=number) for number, image in enumerate(images, start=1)]


def _counts(dataset: Dataset, names: Sequence[str]) -> dict[str, Count]:
    return {name: Count(sum(any(t.label == name and not t.ignore for t in i.truths) for i in dataset.images),
                        sum(t.label == name and not t.ignore for i in dataset.images for t in i.truths))
            for name in names}


def _warnings(counts: dict[str, dict[str, Count]]) -> tuple[str, ...]:
    """Plain words where a class has too few boxes to learn from or too few validation images to calibrate."""
    found = []
    for name, count in counts["train"].items():
        if count.boxes < MIN_TRAINING_BOXES:
            found.append(f"{name} has {count.boxes} training {'box' if count.boxes == 1 else 'boxes'}, fewer than "
                         f"the {MIN_TRAINING_BOXES} it needs: with so few the model learns those photos by heart "
                         f"and rarely finds a {name} in new ones; label more (100 images or more is better).")
    for name, count in counts["validation"].items():
        if count.images < MIN_IMAGES:
            found.append(f"{name} is in {count.images} validation "
                         f"{'image' if count.images == 1 else 'images'}, fewer than the {MIN_IMAGES} calibration "
                         f"needs, so its thresholds cannot be calibrated; label more photos of it.")
    return tuple(found)


def _write_split(dataset: Dataset, folder: Path) -> None:
    """`images/` and `labels.json` for one split, in `folder`."""
    (folder / "images").mkdir()
    records, annotations = [], []
    for image in dataset.images:
        name = f"{image.image_id:06d}_{re.sub(r'[^A-Za-z0-9._-]', '_', image.path.name)[-NAME_CHARS:]}"
        if _plain_jpeg(image.path):
            _link_or_copy(image.path, folder / "images" / name)
        else:
            name = f"{Path(name).stem}.jpg"
            _write_turned_jpeg(image.path, folder / "images" / name)
        records.append({"id": image.image_id, "file_name": name, "width": image.width, "height": image.height})
        for truth in image.truths:
            x, y, w, h = _bbox(truth.box, image.width, image.height)
            annotations.append({"id": len(annotations) + 1, "image_id": image.image_id,
                                "category_id": dataset.categories[truth.label], "bbox": [x, y, w, h],
                                "area": round(w * h, 2), "iscrowd": int(truth.ignore)})
    categories = [{"id": number, "name": name}
                  for name, number in sorted(dataset.categories.items(), key=lambda c: c[1])]
    (folder / "labels.json").write_text(
        json.dumps({"images": records, "annotations": annotations, "categories": categories}), encoding="utf-8")


def _plain_jpeg(path: Path) -> bool:
    """A JPEG shown as stored: Model Maker decodes every photo as a JPEG and ignores EXIF's turn,
    while the boxes (and `image_size`) are of the photo as shown, turned."""
    try:
        with Image.open(path) as image:
            return image.format == "JPEG" and image.getexif().get(EXIF_ORIENTATION, 1) == 1
    except Exception:  # noqa: BLE001 - Pillow raises many kinds; re-encoding will say what is wrong
        return False


def _write_turned_jpeg(source: Path, target: Path) -> None:
    """The photo as shown (turned by its EXIF orientation), as a JPEG Model Maker can read."""
    bgr = cv2.cvtColor(read_image(source), cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise DatasetError(f"Cannot re-encode {source} as a JPEG for training.")
    target.write_bytes(encoded.tobytes())


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or one without hard links
        shutil.copyfile(source, target)


def _bbox(box: Box, width: int, height: int) -> tuple[float, float, float, float]:
    """[x, y, w, h] to the hundredth of a pixel, never past the image: Model Maker skips a box that is."""
    x, y = round(box.x1, 2), round(box.y1, 2)
    w, h = round(box.x2 - x, 2), round(box.y2 - y, 2)
    while x + w > width:
        w = round(w - 0.01, 2)
    while y + h > height:
        h = round(h - 0.01, 2)
    return x, y, w, h
