"""Labelled detection sets: COCO instances JSON and Pascal VOC XML (YOLO in `yolo`), read into one form
with COCO class names.

A malformed file is an error that names the file and the position. A set with no image left to
score, or an image whose size is not positive, is an error. Bad data short of that gets one
sentence each in `Dataset.problems`, naming the file and what was done, and reading goes on:
- a box that is not numbers, has no size, or lies wholly outside its image is skipped (and counted
  in `invalid_boxes`); one reaching past an edge by more than EDGE_SLACK_PX is clipped to the image;
- an image listed but missing on disk is skipped (and kept in `missing`);
- an image whose label has no boxes is kept with none (a negative);
- an object with an empty name, or of a category the file does not list, is skipped;
- a class the file lists that no box uses is named once.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core import Box
from ..errors import AssistantError

# VOC names that differ from COCO's; every other VOC class has the same name in COCO.
VOC_TO_COCO = {
    "aeroplane": "airplane",
    "motorbike": "motorcycle",
    "sofa": "couch",
    "tvmonitor": "tv",
    "diningtable": "dining table",
    "pottedplant": "potted plant",
}


# A box may reach this far past an edge unremarked: VOC counts pixels from 1 and labelling tools
# round. It is clipped to the image all the same.
EDGE_SLACK_PX = 1.0
UNUSED_SHOWN = 10  # a sentence about classes with no boxes names this many

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
               "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor")


class DatasetError(AssistantError):
    """A labelled set that cannot be read; the message names the file and, where known, the position."""


@dataclass(frozen=True, slots=True)
class Truth:
    """One ground-truth box. `ignore` marks VOC 'difficult' and COCO crowd boxes: never counted as missed."""

    label: str
    box: Box
    ignore: bool = False
    area: float | None = None  # COCO's own area (of the segment) when the file gives one; else the box's


@dataclass(frozen=True, slots=True)
class LabelledImage:
    """An image file, its size and its ground truth."""

    image_id: int
    path: Path
    width: int
    height: int
    truths: tuple[Truth, ...]


@dataclass(frozen=True, slots=True)
class Dataset:
    """The images that exist on disk, and those the labels list but that are missing."""

    name: str
    images: tuple[LabelledImage, ...]
    categories: dict[str, int]  # class name -> category id, as the file numbers them
    missing: tuple[Path, ...] = field(default_factory=tuple)
    invalid_boxes: int = 0  # left out: not numbers, no size, or wholly outside the image
    problems: tuple[str, ...] = ()  # bad data read past, one sentence each, in file order

    @property
    def labels(self) -> set[str]:
        return {t.label for image in self.images for t in image.truths}


def fitted(truth: Truth, width: int, height: int, where: str) -> tuple[Truth | None, str | None]:
    """The truth as it can be used, and the sentence about it if it had to change: None (skipped) for
    a box that is not numbers, has no size or lies wholly outside the image; clipped to the image
    when it reaches past an edge (a sentence only past EDGE_SLACK_PX)."""
    b = truth.box
    what = f"{where}: the {truth.label} box ({b.x1:g}, {b.y1:g}, {b.x2:g}, {b.y2:g})"
    if not all(math.isfinite(v) for v in (b.x1, b.y1, b.x2, b.y2)):
        return None, f"{what} is not four numbers; skipped."
    if b.x2 <= b.x1 or b.y2 <= b.y1:
        return None, f"{what} has no size; skipped."
    if b.x2 <= 0 or b.y2 <= 0 or b.x1 >= width or b.y1 >= height:
        return None, f"{what} lies wholly outside the {width}x{height} image; skipped."
    clipped = Box(max(b.x1, 0.0), max(b.y1, 0.0), min(b.x2, float(width)), min(b.y2, float(height)))
    if clipped == b:
        return truth, None
    edges = [edge for edge, past in (("left", -b.x1), ("top", -b.y1), ("right", b.x2 - width),
                                     ("bottom", b.y2 - height)) if past > EDGE_SLACK_PX]
    note = (f"{what} reaches past the {' and '.join(edges)} edge of the {width}x{height} image; clipped to the image."
            if edges else None)
    return replace(truth, box=clipped), note


def fitted_all(truths: list[Truth], width: int, height: int, where: str,
               problems: list[str]) -> tuple[tuple[Truth, ...], int]:
    """`fitted` for an image's truths: those kept, and how many were skipped; sentences go to `problems`."""
    kept = []
    for truth in truths:
        fit, note = fitted(truth, width, height, where)
        if note:
            problems.append(note)
        if fit is not None:
            kept.append(fit)
    return tuple(kept), len(truths) - len(kept)


def unused_classes(source: Path, names: list[str], images: list[LabelledImage]) -> str | None:
    """The one sentence naming the classes a file lists that no box uses, or None."""
    used = {t.label for image in images for t in image.truths}
    unused = [n for n in names if n and n not in used]
    if not unused:
        return None
    one = len(unused) == 1
    listed = ", ".join(unused[:UNUSED_SHOWN]) + (f" and {len(unused) - UNUSED_SHOWN} more"
                                                  if len(unused) > UNUSED_SHOWN else "")
    return (f"{source}: {'the class' if one else 'the classes'} {listed} {'has' if one else 'have'} "
            f"no boxes; nothing is learnt or scored for {'it' if one else 'them'}.")


def _image_size(width: object, height: object, where: str) -> tuple[int, int]:
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        raise DatasetError(f"{where}: an image size of {w}x{h}; width and height must be positive.")
    return w, h


def checked(images: list[LabelledImage], missing: list[Path], source: Path, name: str,
            categories: dict[str, int], invalid: int, problems: list[str]) -> Dataset:
    """The set, or DatasetError when nothing is left to score."""
    if not images:
        if missing:
            raise DatasetError(f"None of the {len(missing)} images that {source} lists are on disk "
                               f"(the first is {missing[0]}).")
        raise DatasetError(f"{source} lists no images.")
    return Dataset(name, tuple(images), categories, tuple(missing), invalid, tuple(problems))


def read_coco(annotations: Path, images_dir: Path) -> Dataset:
    """A COCO instances file (bbox is [x, y, width, height]) and the folder of its images."""
    try:
        data = json.loads(annotations.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{annotations} does not exist.") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{annotations}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}).") from None
    except RecursionError:  # Python's parser walks nesting by recursion
        raise DatasetError(f"{annotations} is nested too deeply to be a COCO file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read {annotations}: {exc}.") from None
    if not images_dir.is_dir():
        raise DatasetError(f"The image folder {images_dir} does not exist.")
    problems: list[str] = []
    try:
        names = {c["id"]: str(c["name"]).strip() for c in data["categories"]}
        truths: dict[int, list[Truth]] = {}
        for a in data["annotations"]:
            x, y, w, h = (float(v) for v in a["bbox"])
            label = names.get(a["category_id"])
            if not label:
                why = "which has an empty name" if label == "" else "which is not among its categories"
                problems.append(f"{annotations}: annotation {a.get('id')} is of category {a['category_id']}, "
                                f"{why}; skipped.")
                continue
            truths.setdefault(a["image_id"], []).append(Truth(
                label, Box(x, y, x + w, y + h), bool(a.get("iscrowd", 0)), a.get("area")))
        images, missing, invalid = [], [], 0
        for record in data["images"]:
            width, height = _image_size(record["width"], record["height"], f"{annotations}: image {record['id']}")
            path = images_dir / record["file_name"]
            if not path.is_file():
                problems.append(f"{annotations} lists {path}, which is missing; skipped.")
                missing.append(path)
                continue
            if not truths.get(record["id"]):
                problems.append(f"{annotations}: {record['file_name']} has no boxes; kept as an image with "
                                "nothing to find.")
            kept, skipped = fitted_all(truths.get(record["id"], []), width, height,
                                       f"{annotations}: {record['file_name']}", problems)
            invalid += skipped
            images.append(LabelledImage(int(record["id"]), path, width, height, kept))
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{annotations}: not a COCO instances file (bad or missing {exc}).") from None
    if note := unused_classes(annotations, list(names.values()), images):
        problems.append(note)
    categories = {n: i for i, n in names.items() if n}
    return checked(images, missing, annotations, annotations.parent.name, categories, invalid, problems)


def read_voc(root: Path) -> Dataset:
    """A VOC folder (Annotations/*.xml, JPEGImages/*.jpg); VOC names are mapped to COCO's."""
    annotations = root / "Annotations"
    if not annotations.is_dir():
        raise DatasetError(f"{root} has no Annotations folder; give the VOC folder that holds Annotations/ and "
                           "JPEGImages/.")
    images, missing, invalid, problems = [], [], 0, []
    for image_id, xml_path in enumerate(sorted(annotations.glob("*.xml")), start=1):
        try:
            tree = ET.parse(xml_path)
        except ET.ParseError as exc:
            line, column = exc.position
            raise DatasetError(f"{xml_path}:{line}:{column + 1}: not valid XML.") from None
        root_el = tree.getroot()
        try:
            filename = root_el.findtext("filename") or f"{xml_path.stem}.jpg"
            width, height = _image_size(root_el.findtext("size/width"), root_el.findtext("size/height"), str(xml_path))
            objects, truths = list(root_el.iter("object")), []
            for number, obj in enumerate(objects, start=1):
                name = (obj.findtext("name") or "").strip()
                if not name:
                    problems.append(f"{xml_path}: object {number} has no name; skipped.")
                    continue
                bnd = obj.find("bndbox")
                # VOC pixel indices start at 1 and are inclusive; COCO boxes are continuous from 0.
                x1, y1 = float(bnd.findtext("xmin")) - 1, float(bnd.findtext("ymin")) - 1
                x2, y2 = float(bnd.findtext("xmax")), float(bnd.findtext("ymax"))
                difficult = (obj.findtext("difficult") or "0").strip() == "1"
                truths.append(Truth(VOC_TO_COCO.get(name, name), Box(x1, y1, x2, y2), difficult))
        except (AttributeError, TypeError, ValueError):
            raise DatasetError(f"{xml_path}: not a VOC annotation (missing or bad size, name or bndbox).") from None
        path = root / "JPEGImages" / filename
        if not path.is_file():
            problems.append(f"{xml_path} is for {path}, which is missing; skipped.")
            missing.append(path)
            continue
        if not objects:
            problems.append(f"{xml_path} has no objects; kept as an image with nothing to find.")
        kept, skipped = fitted_all(truths, width, height, str(xml_path), problems)
        invalid += skipped
        images.append(LabelledImage(image_id, path, width, height, kept))
    if not images and not missing:
        raise DatasetError(f"{annotations} holds no .xml annotations.")
    # VOC files list no classes, so a class with no boxes cannot be told here.
    names = sorted({VOC_TO_COCO.get(c, c) for c in VOC_CLASSES})
    return checked(images, missing, annotations, root.name, {n: i for i, n in enumerate(names, start=1)}, invalid,
                   problems)
