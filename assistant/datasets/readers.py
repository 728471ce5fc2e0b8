"""Labelled detection sets: COCO instances JSON and Pascal VOC XML, read into one form with COCO class names.

A malformed file is an error that names the file and the position; an image listed but missing
on disk is kept in `missing` and skipped by everything downstream. A set with no image left to
score, or an image whose size is not positive, is an error. A box that is not a number, has no
size, or lies wholly outside its image is left out and counted in `invalid_boxes`.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
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

    @property
    def labels(self) -> set[str]:
        return {t.label for image in self.images for t in image.truths}


def valid_box(box: Box, width: int, height: int) -> bool:
    """Finite corners, a positive size, and some part inside the image."""
    corners = (box.x1, box.y1, box.x2, box.y2)
    return (all(math.isfinite(v) for v in corners) and box.x2 > box.x1 and box.y2 > box.y1
            and box.x2 > 0 and box.y2 > 0 and box.x1 < width and box.y1 < height)


def _image_size(width: object, height: object, where: str) -> tuple[int, int]:
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        raise DatasetError(f"{where}: an image size of {w}x{h}; width and height must be positive.")
    return w, h


def _checked(images: list[LabelledImage], missing: list[Path], source: Path, name: str,
             categories: dict[str, int], invalid: int) -> Dataset:
    """The set, or DatasetError when nothing is left to score."""
    if not images:
        if missing:
            raise DatasetError(f"None of the {len(missing)} images that {source} lists are on disk "
                               f"(the first is {missing[0]}).")
        raise DatasetError(f"{source} lists no images.")
    return Dataset(name, tuple(images), categories, tuple(missing), invalid)


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
    try:
        names = {c["id"]: c["name"] for c in data["categories"]}
        truths: dict[int, list[Truth]] = {}
        for a in data["annotations"]:
            x, y, w, h = (float(v) for v in a["bbox"])
            truths.setdefault(a["image_id"], []).append(Truth(
                names[a["category_id"]], Box(x, y, x + w, y + h), bool(a.get("iscrowd", 0)), a.get("area")))
        images, missing, invalid = [], [], 0
        for record in data["images"]:
            width, height = _image_size(record["width"], record["height"], f"{annotations}: image {record['id']}")
            path = images_dir / record["file_name"]
            if not path.is_file():
                missing.append(path)
                continue
            kept = [t for t in truths.get(record["id"], ()) if valid_box(t.box, width, height)]
            invalid += len(truths.get(record["id"], ())) - len(kept)
            images.append(LabelledImage(int(record["id"]), path, width, height, tuple(kept)))
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{annotations}: not a COCO instances file (bad or missing {exc}).") from None
    return _checked(images, missing, annotations, annotations.parent.name, {n: i for i, n in names.items()}, invalid)


def read_voc(root: Path) -> Dataset:
    """A VOC folder (Annotations/*.xml, JPEGImages/*.jpg); VOC names are mapped to COCO's."""
    annotations = root / "Annotations"
    if not annotations.is_dir():
        raise DatasetError(f"{root} has no Annotations folder; give the VOC folder that holds Annotations/ and "
                           "JPEGImages/.")
    images, missing, invalid = [], [], 0
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
            truths = []
            for obj in root_el.iter("object"):
                name = obj.findtext("name").strip()
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
            missing.append(path)
            continue
        kept = [t for t in truths if valid_box(t.box, width, height)]
        invalid += len(truths) - len(kept)
        images.append(LabelledImage(image_id, path, width, height, tuple(kept)))
    if not images and not missing:
        raise DatasetError(f"{annotations} holds no .xml annotations.")
    names = sorted({VOC_TO_COCO.get(c, c) for c in VOC_CLASSES})
    return _checked(images, missing, annotations, root.name, {n: i for i, n in enumerate(names, start=1)}, invalid)
