"""YOLO folders as labelling tools export them (Ultralytics, Roboflow, CVAT "YOLO 1.1"), read into a `Dataset`.

Two layouts:
- a `data.yaml` (or the one other .yaml in the folder, or the .yaml given) with `names:` (a list, or
  {id: name}) and `train:`, `val:` and `test:` image folders (or lists of them, or .txt files listing
  images), relative to `path:` when it is given (itself relative to the yaml), else to the yaml's
  folder. Roboflow's `../train/images` is read as `train/images` when the former does not exist, as
  Ultralytics does.
- a `classes.txt` or `obj.names` (one name a line) beside an `images/` folder, or beside the images.

An image's label is the .txt of its stem in the `labels/` folder that mirrors its `images/` folder
(the last `images` in its path becomes `labels`), or beside it when its path has no `images`
folder: one box a line, `class cx cy w h`, normalised to 0..1 of the image as it is shown (after its
EXIF turn). Sizes come from each image's header, never by decoding it. Bad data is read past with
one sentence each, as `readers` does; the splits are read as one set (a training set is split again).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..core import Box
from ..errors import SourceError
from ..sources.imaging import IMAGE_SUFFIXES, image_size
from .readers import (
    Dataset,
    DatasetError,
    LabelledImage,
    Truth,
    checked,
    fitted,
    unused_classes,
)

NAMES_FILES = ("classes.txt", "obj.names")
SPLITS = ("train", "val", "test")


def read_yolo(root: Path) -> Dataset:
    """A YOLO folder (or its .yaml file) and its images, with sizes from their headers."""
    problems: list[str] = []
    source, names, image_dirs, listed = _layout(root, problems)
    images, missing, invalid, seen = [], [], 0, set()
    for path in listed:
        if path.resolve() in seen:  # Ultralytics' own sets give one folder for train and val
            continue
        seen.add(path.resolve())
        if not path.is_file():
            problems.append(f"{source} lists {path}, which is missing; skipped.")
            missing.append(path)
            continue
        try:
            width, height = image_size(path)
        except SourceError as exc:
            problems.append(f"{str(exc).rstrip('.')}; skipped.")
            continue
        truths, skipped = _labels(label_path(path), names, source, width, height, problems)
        invalid += skipped
        images.append(LabelledImage(len(images) + 1, path, width, height, truths))
    problems.extend(_orphans(image_dirs, {label_path(i.path) for i in images} | {label_path(m) for m in missing}))
    if note := unused_classes(source, list(names.values()), images):
        problems.append(note)
    categories: dict[str, int] = {}
    for number, name in names.items():
        if name:
            categories.setdefault(name, number)
    name = (root.parent if root.is_file() else root).name
    return checked(images, missing, source, name, categories, invalid, problems)


def label_path(image: Path) -> Path:
    """The label file of an image: in the `labels` folder mirroring its last `images` folder, else beside it."""
    parts = list(image.parts)
    folders = [i for i, part in enumerate(parts[:-1]) if part == "images"]
    if folders:
        parts[folders[-1]] = "labels"
    return Path(*parts).with_suffix(".txt")


def _layout(root: Path, problems: list[str]) -> tuple[Path, dict[int, str], list[Path], list[Path]]:
    """The file the classes come from, the classes by number, the image folders and the images listed."""
    if root.is_file():
        return _from_yaml(root, problems)
    if not root.is_dir():
        raise DatasetError(f"{root} does not exist.")
    yamls = sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))
    if (root / "data.yaml").is_file():
        return _from_yaml(root / "data.yaml", problems)
    if len(yamls) == 1:
        return _from_yaml(yamls[0], problems)
    for names_file in NAMES_FILES:
        if (root / names_file).is_file():
            folder = root / "images" if (root / "images").is_dir() else root
            return root / names_file, _names_file(root / names_file), [folder], _images_in(folder)
    raise DatasetError(f"{root} has no data.yaml, {' or '.join(NAMES_FILES)}; give the folder a labelling tool "
                       "exported as YOLO.")


def _from_yaml(path: Path, problems: list[str]) -> tuple[Path, dict[int, str], list[Path], list[Path]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise DatasetError(f"{where}: not valid YAML ({getattr(exc, 'problem', None) or 'unreadable'}).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read {path}: {exc}.") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: not a YOLO data file (no names:).")
    names = _names(data.get("names"), path)
    base = path.parent / str(data.get("path") or "")
    folders, listed = [], []
    for split in SPLITS:
        entries = data.get(split) or []
        for entry in [entries] if isinstance(entries, str) else entries:
            where = base / str(entry)
            if not where.exists() and str(entry).startswith("../"):
                where = base / str(entry)[3:]
            if where.is_dir():
                folders.append(where)
                listed.extend(_images_in(where))
            elif where.is_file():
                listed.extend(_listed_in(where, base))
            else:
                problems.append(f"{path}: its {split} folder {where} is missing; skipped.")
    return path, names, folders, listed


def _names(value: object, path: Path) -> dict[int, str]:
    """`names:` as a list or as {id: name}; DatasetError otherwise."""
    try:
        if isinstance(value, list):
            names = {i: str(n).strip() for i, n in enumerate(value)}
        elif isinstance(value, dict):
            names = {int(k): str(n).strip() for k, n in value.items()}
        else:
            names = {}
    except (TypeError, ValueError):
        names = {}
    if not names:
        raise DatasetError(f"{path}: no class names (names: should list them, or map numbers to them).")
    return names


def _names_file(path: Path) -> dict[int, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read {path}: {exc}.") from None
    names = {i: line.strip() for i, line in enumerate(lines)}
    while names and not names[len(names) - 1]:  # a file that ends in blank lines lists no class there
        names.pop(len(names) - 1)
    if not names:
        raise DatasetError(f"{path} lists no class names; it should have one a line.")
    return names


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _listed_in(listing: Path, base: Path) -> list[Path]:
    """The images a .txt listing names, one a line: `./x` from its own folder, others from `base`."""
    try:
        lines = listing.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read {listing}: {exc}.") from None
    return [listing.parent / line.strip()[2:] if line.strip().startswith("./") else base / line.strip()
            for line in lines if line.strip()]


def _labels(label: Path, names: dict[int, str], source: Path, width: int, height: int,
            problems: list[str]) -> tuple[tuple[Truth, ...], int]:
    """An image's boxes from its label file, and how many boxes were skipped for their coordinates."""
    try:
        lines = label.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        problems.append(f"{label} does not exist; its image is kept as one with nothing to find.")
        return (), 0
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read {label}: {exc}.") from None
    truths: list[Truth] = []
    skipped = 0
    for number, line in enumerate(lines, start=1):
        fields, where = line.split(), f"{label}:{number}"
        if not fields:
            continue
        if len(fields) != 5:
            problems.append(f"{where}: {len(fields)} fields where a box has 5 (class cx cy w h); skipped.")
            continue
        if not fields[0].isdigit() or int(fields[0]) not in names:
            problems.append(f"{where}: class {fields[0]} is not one of the {len(names)} in {source}; skipped.")
            continue
        if not names[int(fields[0])]:
            problems.append(f"{where}: class {fields[0]} has an empty name in {source}; skipped.")
            continue
        try:
            cx, cy, w, h = (float(v) for v in fields[1:])
        except ValueError:
            cx = cy = w = h = float("nan")  # fitted() skips it with its sentence
        truth, note = fitted(Truth(names[int(fields[0])], Box((cx - w / 2) * width, (cy - h / 2) * height,
                                                               (cx + w / 2) * width, (cy + h / 2) * height)),
                             width, height, where)
        if note:
            problems.append(note)
        if truth is None:
            skipped += 1
        else:
            truths.append(truth)
    if not any(line.strip() for line in lines):
        problems.append(f"{label} is empty; its image is kept as one with nothing to find.")
    return tuple(truths), skipped


def _orphans(image_dirs: list[Path], used: set[Path]) -> list[str]:
    """One sentence for each label file in a `labels/` folder whose image is not there."""
    found = []
    for folder in image_dirs:
        labels = label_path(folder / "x").parent
        if labels != folder and labels.is_dir():
            found.extend(f"{txt} labels an image that is not in {folder}; skipped."
                         for txt in sorted(labels.rglob("*.txt")) if txt not in used)
    return found
