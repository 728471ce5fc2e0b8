"""Dataset tools on the shared labelled sets: readers, find, plot, and eval checked against pycocotools."""

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from assistant.core import Box
from assistant.datasets.evaluation import coco_ground_truth, coco_metrics, run_cocoeval
from assistant.datasets.readers import Dataset, LabelledImage, Truth, read_coco, read_voc

from .conftest import MODEL, SHARED, Cli, run_cli

LABELLED = SHARED / "data" / "labeled"
VOC = LABELLED / "voc2012_subset100"
COCO_DIR = LABELLED / "coco_val2017_icevision6"
COCO_ARGS = ("--coco", str(COCO_DIR / "annotations.json"), "--images", str(COCO_DIR / "images"))


def voc_xml(objects: str, filename: str = "a.jpg") -> str:
    return (f"<annotation><filename>{filename}</filename><size><width>200</width><height>100</height></size>"
            f"{objects}</annotation>")


def voc_object(name: str, difficult: int = 0, box: tuple = (11, 21, 60, 80)) -> str:
    x1, y1, x2, y2 = box
    return (f"<object><name>{name}</name><difficult>{difficult}</difficult><bndbox><xmin>{x1}</xmin>"
            f"<ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>")


def make_voc(root: Path, xml: str, image: bool = True) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "Annotations" / "a.xml").write_text(xml)
    if image:
        cv2.imwrite(str(root / "JPEGImages" / "a.jpg"), np.zeros((100, 200, 3), np.uint8))
    return root


@pytest.mark.parametrize(("voc", "coco"), [
    ("aeroplane", "airplane"), ("motorbike", "motorcycle"), ("sofa", "couch"), ("tvmonitor", "tv"),
    ("diningtable", "dining table"), ("pottedplant", "potted plant"), ("horse", "horse"),
])
def test_voc_names_become_coco_names(tmp_path: Path, voc: str, coco: str) -> None:
    dataset = read_voc(make_voc(tmp_path, voc_xml(voc_object(voc))))
    (truth,) = dataset.images[0].truths
    assert truth.label == coco and coco in dataset.categories
    assert truth.box == Box(10, 20, 60, 80)  # VOC's 1-based inclusive pixels as continuous coordinates


def test_voc_difficult_objects_are_ignored(tmp_path: Path) -> None:
    dataset = read_voc(make_voc(tmp_path, voc_xml(voc_object("person") + voc_object("person", difficult=1))))
    assert [t.ignore for t in dataset.images[0].truths] == [False, True]


def test_shared_sets_read_completely() -> None:
    voc = read_voc(VOC)
    assert len(voc.images) == 100 and sum(len(i.truths) for i in voc.images) == 273
    assert sum(t.ignore for i in voc.images for t in i.truths) == 38
    coco = read_coco(COCO_DIR / "annotations.json", COCO_DIR / "images")
    assert len(coco.images) == 6 and sum(len(i.truths) for i in coco.images) == 36


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("bad.json", '{"images": [\n  {"id": 1,,}\n]}',
     "bad.json:2:12: not valid JSON (Expecting property name enclosed in double quotes)."),
    ("notcoco.json", '{"images": []}', "notcoco.json: not a COCO instances file (bad or missing 'categories')."),
])
def test_malformed_coco_names_file_and_position(cli: Cli, tmp_path: Path, name: str, text: str, expected: str) -> None:
    (tmp_path / name).write_text(text)
    result = cli("dataset", "find", "--coco", str(tmp_path / name), "--images", str(tmp_path), "--classes", "cup")
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path}/{expected}\n"


def test_malformed_voc_xml_names_file_and_position(cli: Cli, tmp_path: Path) -> None:
    make_voc(tmp_path, "<annotation>\n  <filename>a.jpg</filename>\n  <size>\n</annotation>\n")
    result = cli("dataset", "find", "--voc", str(tmp_path), "--classes", "person")
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path}/Annotations/a.xml:4:3: not valid XML.\n"


def test_unknown_class_gets_a_suggestion() -> None:
    result = run_cli("dataset", "find", "--voc", str(VOC), "--classes", "person,hrose")
    assert result.returncode == 2
    assert result.stderr == "error: 'hrose' is not a class of voc2012_subset100; did you mean 'horse'?\n"


def test_find_json_contract_any_and_all(cli: Cli) -> None:
    every = json.loads(cli("dataset", "find", "--voc", str(VOC), "--classes", "person,horse", "--all",
                               "--json").stdout)
    assert every["total"] == len(every["images"]) == 6
    assert all(set(i["counts"]) == {"person", "horse"} for i in every["images"])
    anyof = json.loads(cli("dataset", "find", "--voc", str(VOC), "--classes", "person,horse", "--json").stdout)
    assert anyof["total"] > every["total"]
    horse = next(i for i in anyof["images"] if i["image"].endswith("2007_000392.jpg"))
    assert horse["counts"] == {"person": 1, "horse": 1}


def test_missing_image_is_listed_skipped_and_counted(cli: Cli, tmp_path: Path) -> None:
    data = json.loads((COCO_DIR / "annotations.json").read_text())
    data["images"].append({"id": 999, "file_name": "not_there.jpg", "width": 10, "height": 10})
    (tmp_path / "ann.json").write_text(json.dumps(data))
    result = cli("dataset", "eval", "--coco", str(tmp_path / "ann.json"), "--images", str(COCO_DIR / "images"),
                     "--json", "--model", str(MODEL))
    assert result.returncode == 0, result.stderr
    assert f"warning: {COCO_DIR / 'images' / 'not_there.jpg'} is listed but missing; skipped." in result.stderr
    metrics = json.loads(result.stdout)
    assert (metrics["images"], metrics["skipped"]) == (6, 1)


def one_box_set(truth: Box) -> tuple[Dataset, dict]:
    image = LabelledImage(1, Path("x.jpg"), 200, 200, (Truth("cup", truth),))
    dataset = Dataset("one", (image,), {"cup": 1})
    return dataset, coco_ground_truth(dataset)


def test_ground_truth_fed_back_scores_one() -> None:
    dataset = read_voc(VOC)
    truth = coco_ground_truth(dataset)
    predictions = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
                   for a in truth["annotations"] if not a["iscrowd"]]
    metrics = coco_metrics(dataset, run_cocoeval(truth, predictions))
    assert metrics["map"] == metrics["ap50"] == metrics["ap75"] == 1.0
    assert set(metrics["per_class"].values()) == {1.0}


def test_one_shifted_box_gets_the_evaluators_ap() -> None:
    # IoU 80/120 = 0.667: a match at the thresholds 0.50, 0.55, 0.60, 0.65 and a miss at the six above
    dataset, truth = one_box_set(Box(0, 0, 100, 100))
    metrics = coco_metrics(dataset, run_cocoeval(truth, [{"image_id": 1, "category_id": 1, "bbox": [20, 0, 100, 100],
                                                          "score": 0.9}]))
    assert metrics["map"] == pytest.approx(0.4, abs=1e-12)
    assert metrics["ap50"] == pytest.approx(1.0, abs=1e-12) and metrics["ap75"] == 0.0


@pytest.mark.parametrize("where", ["voc", "coco"])
def test_shared_set_numbers_match_pycocotools_run_directly(cli: Cli, tmp_path: Path, where: str) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    args = ("--voc", str(VOC)) if where == "voc" else COCO_ARGS
    result = cli("dataset", "eval", *args, "--json", "--report", str(tmp_path), "--model", str(MODEL))
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    assert set(ours) >= {"map", "ap50", "ap75", "per_class", "by_size", "overlap", "announcements", "images", "skipped"}
    assert set(ours["by_size"]) == {"small", "medium", "large"} and set(ours["by_size"]["small"]) == {"ap", "recall"}
    assert set(ours["overlap"]) >= {"overlapping_recall", "isolated_recall"}
    assert set(ours["announcements"]) >= {"precision", "recall", "large_recall", "direction_accuracy", "count_accuracy",
                                          "count_mae", "duplicates_removed", "neighbours_merged"}
    # pycocotools straight on the files: the set's own COCO JSON, or the VOC set as converted
    truth_file = COCO_DIR / "annotations.json" if where == "coco" else tmp_path / "ground_truth.json"
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(truth_file))
        direct = COCOeval(gt, gt.loadRes(str(tmp_path / "predictions.json")), "bbox")
        direct.evaluate()
        direct.accumulate()
        direct.summarize()
    assert ours["map"] == pytest.approx(direct.stats[0], abs=1e-9)
    assert ours["ap50"] == pytest.approx(direct.stats[1], abs=1e-9)
    assert ours["ap75"] == pytest.approx(direct.stats[2], abs=1e-9)
    for i, size in enumerate(("small", "medium", "large")):
        assert ours["by_size"][size]["ap"] == pytest.approx(direct.stats[3 + i], abs=1e-9)
        assert ours["by_size"][size]["recall"] == pytest.approx(direct.stats[9 + i], abs=1e-9)
    assert {p.name for p in tmp_path.glob("*.png")} >= {"ap_by_size.png", "pr_person.png"}
    assert "# Evaluation" in (tmp_path / "report.md").read_text()
    predictions = json.loads((tmp_path / "predictions.json").read_text())
    per_image = {}
    for p in predictions:
        per_image[p["image_id"]] = per_image.get(p["image_id"], 0) + 1
        assert p["score"] >= 0.05
    assert max(per_image.values()) <= 100


def test_plot_draws_truth_and_predictions(cli: Cli, tmp_path: Path) -> None:
    result = cli("dataset", "plot", "--voc", str(VOC), "--classes", "horse", "--out", str(tmp_path),
                     "--model", str(MODEL))
    assert result.returncode == 0, result.stderr
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == 7  # the images with a horse
    image = cv2.imread(str(tmp_path / "2007_000392.png"))
    original = cv2.imread(str(VOC / "JPEGImages" / "2007_000392.jpg"))
    assert image.shape == original.shape
    truth = next(t for t in read_voc(VOC).images if t.path.name == "2007_000392.jpg").truths
    horse = next(t.box for t in truth if t.label == "horse")
    edge = image[round(horse.y2), round(horse.x1) + 5:round(horse.x2) - 5]  # the bottom edge of the true box
    white = np.all(edge >= 250, axis=1).mean()
    orange = np.all(np.abs(image.astype(int) - (0, 140, 255)) <= 1, axis=2).sum()
    assert white > 0.5 and orange > 100  # a white truth box, and orange predictions
