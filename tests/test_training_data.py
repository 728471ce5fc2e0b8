"""The training data: VOC, COCO and YOLO read on real files, bad data read past with one sentence each,
and labelled sets made into a Model Maker training set (renamed, merged, split, mixed in, written)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from assistant.datasets.calibrate import MIN_IMAGES
from assistant.datasets.readers import Dataset, DatasetError, read_coco, read_voc
from assistant.datasets.yolo import read_yolo
from assistant.sources.imaging import image_size
from assistant.training.prepare import (
    MIN_TRAINING_BOXES,
    parse_classes,
    prepare,
    write_model_maker_folder,
)

from .conftest import SHARED

LABELLED = SHARED / "data" / "labeled"
VOC = LABELLED / "voc2012_subset100"
COCO = LABELLED / "coco_train2017_first128"


@pytest.fixture(scope="module")
def voc() -> Dataset:
    return read_voc(VOC)


@pytest.fixture(scope="module")
def coco() -> Dataset:
    return read_coco(COCO / "annotations.json", COCO / "images")


def yolo_line(names: list[str], truth, width: int, height: int) -> str:
    b = truth.box
    return (f"{names.index(truth.label)} {(b.x1 + b.x2) / 2 / width} {(b.y1 + b.y2) / 2 / height} "
            f"{(b.x2 - b.x1) / width} {(b.y2 - b.y1) / height}\n")


def make_yolo(root: Path, voc: Dataset, count: int = 4) -> tuple[Path, list[str]]:
    """A Roboflow-style YOLO export of the first VOC images (copied into tmp, never committed)."""
    names = sorted(voc.labels)
    for split, images in (("train", voc.images[:count - 1]), ("valid", voc.images[count - 1:count])):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir()
        for image in images:
            shutil.copy(image.path, root / split / "images" / image.path.name)
            (root / split / "labels" / f"{image.path.stem}.txt").write_text(
                "".join(yolo_line(names, t, image.width, image.height) for t in image.truths))
    (root / "data.yaml").write_text(f"train: ../train/images\nval: ../valid/images\nnc: {len(names)}\n"
                                    f"names: {json.dumps(names)}\n")
    return root, names


def boxes(dataset: Dataset) -> list[tuple]:
    return [(t.label, round(t.box.x1, 3), round(t.box.y1, 3), round(t.box.x2, 3), round(t.box.y2, 3))
            for image in dataset.images for t in image.truths]


# --- readers on real files -----------------------------------------------------------------------

def test_shared_voc_and_coco_read_with_their_true_problems(voc: Dataset, coco: Dataset) -> None:
    assert len(voc.images) == 100 and voc.problems == ()
    assert len(coco.images) == 128 and sum(len(i.truths) for i in coco.images) == 939
    assert coco.problems == (
        f"{COCO}/annotations.json: 000000000250.jpg has no boxes; kept as an image with nothing to find.",
        f"{COCO}/annotations.json: 000000000508.jpg has no boxes; kept as an image with nothing to find.",
        (f"{COCO}/annotations.json: the classes fire hydrant, parking meter, sheep, cow, surfboard, apple, "
         "keyboard, toaster, hair drier have no boxes; nothing is learnt or scored for them."))


def test_yolo_export_reads_as_the_voc_it_came_from(tmp_path: Path, voc: Dataset) -> None:
    root, names = make_yolo(tmp_path, voc)
    yolo = read_yolo(root)
    assert [i.path.name for i in yolo.images] == sorted(i.path.name for i in voc.images[:4])
    originals = {i.path.name: i for i in voc.images[:4]}
    for image in yolo.images:
        assert (image.width, image.height) == (originals[image.path.name].width, originals[image.path.name].height)
    assert sorted(boxes(yolo)) == sorted(boxes(Dataset("v", voc.images[:4], {})))
    assert yolo.categories == {n: i for i, n in enumerate(names)}
    assert yolo.problems[-1].startswith(f"{root}/data.yaml: the classes ")


@pytest.mark.parametrize("names_file", ["classes.txt", "obj.names"])
def test_yolo_with_a_names_file_and_a_names_dict(tmp_path: Path, voc: Dataset, names_file: str) -> None:
    image = voc.images[0]
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    shutil.copy(image.path, tmp_path / "images" / image.path.name)
    (tmp_path / "labels" / f"{image.path.stem}.txt").write_text(
        "".join(yolo_line(["person"], t, image.width, image.height) for t in image.truths))
    (tmp_path / names_file).write_text("person\n")
    assert boxes(read_yolo(tmp_path)) == boxes(Dataset("v", (image,), {}))
    (tmp_path / names_file).unlink()
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nnames: {0: person}\n")
    assert boxes(read_yolo(tmp_path)) == boxes(Dataset("v", (image,), {}))


def test_image_size_comes_from_the_header_turned_by_exif(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # turned a quarter: shown 100 wide, 200 tall
    Image.new("RGB", (200, 100)).save(tmp_path / "turned.jpg", exif=exif)
    assert image_size(tmp_path / "turned.jpg") == (100, 200)


# --- bad data: one sentence each, and reading goes on --------------------------------------------

def one_voc(root: Path, voc: Dataset, objects: str, image: bool = True) -> Path:
    """A VOC set of the shared set's first image (486x500), with `objects`."""
    source = voc.images[0]
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    if image:
        shutil.copy(source.path, root / "JPEGImages" / source.path.name)
    (root / "Annotations" / "a.xml").write_text(
        f"<annotation><filename>{source.path.name}</filename><size><width>{source.width}</width>"
        f"<height>{source.height}</height></size>{objects}</annotation>")
    return root


def voc_object(name: str, box: tuple[int, int, int, int]) -> str:
    x1, y1, x2, y2 = box
    return (f"<object><name>{name}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
            f"<ymax>{y2}</ymax></bndbox></object>")


@pytest.mark.parametrize(("objects", "expected", "kept"), [
    (voc_object("person", (601, 11, 700, 50)),
     ": the person box (600, 10, 700, 50) lies wholly outside the 486x500 image; skipped.", 0),
    (voc_object("person", (401, 11, 600, 50)),
     ": the person box (400, 10, 600, 50) reaches past the right edge of the 486x500 image; clipped to the image.", 1),
    ("", " has no objects; kept as an image with nothing to find.", 0),
    (voc_object("", (11, 11, 50, 50)), ": object 1 has no name; skipped.", 0),
])
def test_bad_voc_data_gets_one_sentence(tmp_path: Path, voc: Dataset, objects: str, expected: str,
                                        kept: int) -> None:
    dataset = read_voc(one_voc(tmp_path, voc, objects))
    assert dataset.problems == (f"{tmp_path}/Annotations/a.xml{expected}",)
    (image,) = dataset.images
    assert len(image.truths) == kept
    if kept:
        assert image.truths[0].box.x2 == 486


def test_a_missing_voc_image_is_one_sentence_and_the_rest_is_read(tmp_path: Path, voc: Dataset) -> None:
    one_voc(tmp_path, voc, voc_object("dog", (11, 11, 50, 50)))
    (tmp_path / "Annotations" / "b.xml").write_text(
        "<annotation><filename>gone.jpg</filename><size><width>10</width><height>10</height></size></annotation>")
    dataset = read_voc(tmp_path)
    assert dataset.problems == (
        f"{tmp_path}/Annotations/b.xml is for {tmp_path}/JPEGImages/gone.jpg, which is missing; skipped.",)
    assert dataset.missing == (tmp_path / "JPEGImages" / "gone.jpg",) and len(dataset.images) == 1


def test_bad_coco_data_gets_one_sentence_each(tmp_path: Path, coco: Dataset) -> None:
    image = coco.images[0]
    data = {"images": [{"id": 1, "file_name": image.path.name, "width": image.width, "height": image.height},
                       {"id": 2, "file_name": "gone.jpg", "width": 10, "height": 10},
                       {"id": 3, "file_name": image.path.name, "width": image.width, "height": image.height}],
            "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "door"}, {"id": 3, "name": ""}],
            "annotations": [
                {"id": 10, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50]},
                {"id": 11, "image_id": 1, "category_id": 99, "bbox": [10, 10, 50, 50]},
                {"id": 12, "image_id": 1, "category_id": 3, "bbox": [10, 10, 50, 50]},
                {"id": 13, "image_id": 1, "category_id": 1, "bbox": [-20, 10, 50, 50]},
                {"id": 14, "image_id": 1, "category_id": 1, "bbox": [5000, 10, 50, 50]}]}
    (tmp_path / "a.json").write_text(json.dumps(data))
    dataset = read_coco(tmp_path / "a.json", COCO / "images")
    f = tmp_path / "a.json"
    assert dataset.problems == (
        f"{f}: annotation 11 is of category 99, which is not among its categories; skipped.",
        f"{f}: annotation 12 is of category 3, which has an empty name; skipped.",
        (f"{f}: {image.path.name}: the person box (-20, 10, 30, 60) reaches past the left edge of the "
         f"{image.width}x{image.height} image; clipped to the image."),
        (f"{f}: {image.path.name}: the person box (5000, 10, 5050, 60) lies wholly outside the "
         f"{image.width}x{image.height} image; skipped."),
        f"{f} lists {COCO}/images/gone.jpg, which is missing; skipped.",
        f"{f}: {image.path.name} has no boxes; kept as an image with nothing to find.",
        f"{f}: the class door has no boxes; nothing is learnt or scored for it.")
    assert [len(i.truths) for i in dataset.images] == [2, 0] and dataset.invalid_boxes == 1


def test_bad_yolo_data_gets_one_sentence_each(tmp_path: Path, voc: Dataset) -> None:
    root, names = make_yolo(tmp_path, voc)
    label = min((root / "train" / "labels").glob("*.txt"))
    label.write_text("0 0.5 0.5 0.1\n99 0.5 0.5 0.1 0.1\n0 1.5 0.5 0.1 0.1\n0 0.95 0.5 0.2 0.1\n0 0.5 0.5 0.1 0.1\n")
    empty = sorted((root / "train" / "labels").glob("*.txt"))[1]
    empty.write_text("")
    gone = sorted((root / "train" / "images").iterdir())[2]
    gone.unlink()
    dataset = read_yolo(root)
    image = next(i for i in dataset.images if i.path.stem == label.stem)
    size = f"{image.width}x{image.height}"
    assert dataset.problems[:-1] == (
        f"{label}:1: 4 fields where a box has 5 (class cx cy w h); skipped.",
        f"{label}:2: class 99 is not one of the {len(names)} in {root}/data.yaml; skipped.",
        f"{label}:3: the airplane box (704.7, 225, 753.3, 275) lies wholly outside the {size} image; skipped.",
        (f"{label}:4: the airplane box (413.1, 225, 510.3, 275) reaches past the right edge of the {size} "
         "image; clipped to the image."),
        f"{empty} is empty; its image is kept as one with nothing to find.",
        f"{root}/train/labels/{gone.stem}.txt labels an image that is not in {root}/train/images; skipped.")
    assert len(image.truths) == 2 and len(dataset.images) == 3


# --- the training set ------------------------------------------------------------------------------

def test_class_specs_rename_and_merge() -> None:
    assert parse_classes("door, stairs") == {"door": "door", "stairs": "stairs"}
    assert parse_classes("doorway=door,stair=stairs,stairs") == {"doorway": "door", "stair": "stairs",
                                                                 "stairs": "stairs"}
    with pytest.raises(DatasetError, match="lacks a name on one side"):
        parse_classes("=door")
    with pytest.raises(DatasetError, match="renamed to both"):
        parse_classes("a=b,a=c")


def test_renaming_merging_and_dropping(voc: Dataset, coco: Dataset) -> None:
    training = prepare([voc, coco], "chair=seat,couch=seat,dog")
    assert training.classes == ("seat", "dog")
    everything = [*training.train.images, *training.validation.images]
    assert {t.label for i in everything for t in i.truths} == {"seat", "dog"}
    expected = sum(t.label in ("chair", "couch", "dog") for d in (voc, coco) for i in d.images for t in i.truths)
    assert sum(len(i.truths) for i in everything) == expected
    assert all(i.truths for i in everything)  # images with none of them are dropped
    assert len({i.image_id for i in everything}) == len(everything)
    assert training.validation.categories == {"seat": 1, "dog": 2}
    with_empty = prepare([voc], "dog", keep_empty=True)
    assert len(with_empty.train.images) + len(with_empty.validation.images) == 100
    with pytest.raises(DatasetError, match="'chiar' is not a class of voc2012_subset100; did you mean 'chair'"):
        prepare([voc], "chiar")


def test_split_is_by_image_seeded_and_stable(voc: Dataset) -> None:
    first = prepare([voc], "person,dog,cat,car")
    again = prepare([read_voc(VOC)], "person,dog,cat,car")

    def names(dataset: Dataset) -> list[str]:
        return [i.path.name for i in dataset.images]

    assert names(first.train) == names(again.train) and names(first.validation) == names(again.validation)
    assert not set(names(first.train)) & set(names(first.validation))
    total = len(first.train.images) + len(first.validation.images)
    assert len(first.validation.images) == round(total * 0.2)
    assert all(first.counts["validation"][c].images >= 1 for c in first.classes)
    assert names(prepare([voc], "person,dog,cat,car", seed=1).validation) != names(first.validation)
    shuffled = Dataset(voc.name, tuple(reversed(voc.images)), voc.categories)
    assert names(prepare([shuffled], "person,dog,cat,car").validation) == names(first.validation)


def test_coco_mix_in_is_capped(voc: Dataset, coco: Dataset) -> None:
    training = prepare([voc], "dog", keep=("person", "car"), keep_from=coco, keep_images=10)
    assert training.classes == ("dog", "person", "car")
    coco_train = [i for i in training.train.images if i.path.parent == COCO / "images"]
    coco_validation = [i for i in training.validation.images if i.path.parent == COCO / "images"]
    assert len(coco_train) == 10 and len(coco_validation) == round(10 * 0.2 / 0.8)
    assert all(t.label in ("person", "car") for i in coco_train for t in i.truths)
    default = prepare([voc], "dog", keep=("person",), keep_from=coco)
    own = [i for i in default.train.images if i.path.parent != COCO / "images"]
    assert len(default.train.images) - len(own) == len(own)
    assert default.summary()["mixed_in_images"] == default.mixed_in


def test_warnings_name_thin_classes(voc: Dataset) -> None:
    training = prepare([voc], "dog")
    assert (MIN_TRAINING_BOXES, MIN_IMAGES) == (50, 20)
    assert training.warnings == (
        ("dog has 7 training boxes, fewer than the 50 it needs: with so few the model learns those photos by heart "
         "and rarely finds a dog in new ones; label more (100 images or more is better)."),
        ("dog is in 1 validation image, fewer than the 20 calibration needs, so its thresholds cannot be "
         "calibrated; label more photos of it."))


def test_the_model_maker_folder(tmp_path: Path, voc: Dataset, coco: Dataset) -> None:
    before = {p: p.read_bytes() for p in (VOC / "JPEGImages").iterdir()}
    training = prepare([voc, coco], "dog,cat")  # both sets: file names of two sets in one folder
    out = tmp_path / "set"
    assert write_model_maker_folder(training, out) == {"train": out / "train", "validation": out / "validation"}
    assert sorted(p.name for p in out.iterdir()) == ["train", "validation"]
    for split, dataset in (("train", training.train), ("validation", training.validation)):
        labels = json.loads((out / split / "labels.json").read_text())
        assert labels["categories"] == [{"id": 1, "name": "dog"}, {"id": 2, "name": "cat"}]
        files = sorted(p.name for p in (out / split / "images").iterdir())
        assert sorted(r["file_name"] for r in labels["images"]) == files and len(files) == len(dataset.images)
        sizes = {r["id"]: (r["width"], r["height"]) for r in labels["images"]}
        for a in labels["annotations"]:
            x, y, w, h = a["bbox"]
            width, height = sizes[a["image_id"]]
            assert a["category_id"] in (1, 2) and 0 <= x < x + w <= width and 0 <= y < y + h <= height
        for record, image in zip(labels["images"], dataset.images):
            assert (out / split / "images" / record["file_name"]).read_bytes() == image.path.read_bytes()
    assert {p: p.read_bytes() for p in (VOC / "JPEGImages").iterdir()} == before
    with pytest.raises(DatasetError, match="is not a new or empty folder"):
        write_model_maker_folder(training, out)


@pytest.mark.parametrize(("name", "orientation"), [("turned.jpg", 6), ("flat.png", None)])
def test_photos_model_maker_would_misread_are_written_as_shown(tmp_path: Path, voc: Dataset, name: str,
                                                               orientation: int | None) -> None:
    """Model Maker decodes every photo as a JPEG and ignores EXIF's turn; the boxes are of the photo as
    shown. A turned JPEG, or a PNG, is written as a JPEG of the photo as shown, and its size is the boxes'."""
    source = voc.images[0]
    pixels = Image.open(source.path)
    stored = pixels.transpose(Image.Transpose.ROTATE_90) if orientation else pixels  # shown upright when turned
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    (tmp_path / "voc" / "JPEGImages").mkdir(parents=True)
    (tmp_path / "voc" / "Annotations").mkdir()
    stored.save(tmp_path / "voc" / "JPEGImages" / name, exif=exif)
    objects = "".join(f"<object><name>{t.label}</name><bndbox><xmin>{t.box.x1 + 1}</xmin><ymin>{t.box.y1 + 1}</ymin>"
                      f"<xmax>{t.box.x2}</xmax><ymax>{t.box.y2}</ymax></bndbox></object>" for t in source.truths)
    (tmp_path / "voc" / "Annotations" / "a.xml").write_text(
        f"<annotation><filename>{name}</filename><size><width>{source.width}</width><height>{source.height}"
        f"</height></size>{objects}</annotation>")
    labels = sorted({t.label for t in source.truths})
    training = prepare([read_voc(tmp_path / "voc")], ",".join(labels), fraction=0.0)
    folders = write_model_maker_folder(training, tmp_path / "set")
    record = json.loads((folders["train"] / "labels.json").read_text())["images"][0]
    written = folders["train"] / "images" / record["file_name"]
    assert written.suffix == ".jpg"
    with Image.open(written) as image:
        assert image.format == "JPEG" and image.size == (source.width, source.height)
        assert image.getexif().get(0x0112, 1) == 1
    assert (record["width"], record["height"]) == (source.width, source.height)
