"""A calibration needs evidence: tables by class of fault. Too little labelled data is refused
before the detector runs; a threshold moves from 0.5 only where it wins on held-out images; a
calibration file is checked strictly; and a run says which calibration it uses and from where."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.config import calibration
from assistant.datasets import calibrate

from ..conftest import IMAGES, MODEL, ROOT, SHARED, Cli
from .common import VOC, WALKING, one_error

COCO6 = SHARED / "data" / "labeled" / "coco_val2017_icevision6"
SHIPPED = ROOT / "models" / (MODEL.stem + calibration.SUFFIX)
PHOTO = IMAGES / "darknet_dog.jpg"


def one_voc_image(tmp: Path) -> list[str]:
    """A VOC folder holding the first image of the shared VOC subset, with its one labelled object."""
    xml = min((VOC / "Annotations").glob("*.xml"))
    for folder, source in (("Annotations", xml), ("JPEGImages", VOC / "JPEGImages" / f"{xml.stem}.jpg")):
        (tmp / folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, tmp / folder / source.name)
    return ["--voc", str(tmp)]


def coco6(tmp: Path, edit: Callable[[dict], None] | None = None) -> list[str]:
    """The six shared COCO images, their annotations edited by `edit`."""
    annotations = COCO6 / "annotations.json"
    if edit is not None:
        data = json.loads(annotations.read_text())
        edit(data)
        annotations = tmp / "annotations.json"
        annotations.write_text(json.dumps(data))
    return ["--coco", str(annotations), "--images", str(COCO6 / "images")]


def no_labels(data: dict) -> None:
    data["annotations"] = []


def unknown_classes(data: dict) -> None:
    for category in data["categories"]:
        category["name"] = f"widget {category['id']}"


# Too little evidence: refused in one sentence that gives the number found and the number needed,
# before the detector runs, and nothing is written.
TOO_LITTLE = {
    "one image": (one_voc_image, [], ("have 1 labelled object of classes this model can say; a calibration with 5 "
                                     "folds needs at least 50 (10 per fold)")),
    "six images": (coco6, [], ("have 35 labelled objects of classes this model can say; a calibration with 5 folds "
                              "needs at least 50")),
    "six images, 4 folds": (coco6, ["--folds", "4"], ("have 35 labelled objects of classes this model can say; a "
                                                     "calibration with 4 folds needs at least 40")),
    "no labelled object": (lambda tmp: coco6(tmp, no_labels), [], "have 0 labelled objects"),
    "no class the model can say": (lambda tmp: coco6(tmp, unknown_classes), [], "have 0 labelled objects"),
}


@pytest.mark.parametrize("case", TOO_LITTLE)
def test_too_little_evidence_is_refused_and_nothing_is_written(cli: Cli, case: str, tmp_path: Path) -> None:
    make_set, extra, fragment = TOO_LITTLE[case]
    out = tmp_path / "out" / "made.calibration.json"
    result = cli("dataset", "calibrate", "--model", str(MODEL), *make_set(tmp_path), *extra, "--out", str(out))
    one_error(result, fragment)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def record(key: str, label: str, score: float, right: bool) -> calibrate.Record:
    verdict = calibrate.Verdict(label, score, right, not right, right)
    counted = Counter({label: 1} if right else {})
    return calibrate.Record(key, (verdict,), frozenset(counted), counted, counted)


def by_fold(rights: list[int], per_fold: int = 12) -> list[calibrate.Record]:
    """One box of class 'a' at 0.42 per image, right in `rights[i]` of the images of selection fold i
    (worth 3 x right - 2 x images in a fold at 0.4, and 0 at 0.5)."""
    keys = [f"a{i:03}" for i in range(per_fold * len(rights))]
    folds = calibrate.folds_of([record(k, "a", 0.42, True) for k in keys], len(rights))
    return [record(r.key, "a", 0.42, i < right) for part, right in zip(folds, rights) for i, r in enumerate(part)]


def fold(chosen: tuple[int, int], plain: tuple[int, int]) -> calibrate.FoldResult:
    return calibrate.FoldResult(10, 0.6, {}, calibrate.Tally(*chosen), calibrate.Tally(*plain))


# The decision: 0.5 unless what was chosen wins on images it was not chosen on.
KEPT = {
    "worse held out": ([fold((5, 3), (8, 3))], "were worth -1 (right - 2 x wrong) against 2 for a plain 0.5"),
    "equal held out": ([fold((8, 3), (8, 3))], "were worth 2 (right - 2 x wrong) against 2 for a plain 0.5"),
    "better held out": ([fold((9, 3), (8, 3))], None),
}


@pytest.mark.parametrize("case", KEPT)
def test_a_choice_no_better_than_one_half_held_out_keeps_one_half(case: str) -> None:
    results, fragment = KEPT[case]
    said = calibrate.kept_plain(calibrate.Selection(0.6, {}, {}), results)
    assert said is None if fragment is None else said.startswith("Kept 0.5 for every class") and fragment in said


# The default: in-sample, 0.4 is worth more than 0.5 in both rows; held out, only in the second.
DEFAULTS = {
    # folds worth +12, -3, -3, -3, 0 at 0.4: each of the three losing folds is scored by a
    # threshold chosen on the others, which the winning fold pulls to 0.4; held out, 0.4 is worth -9
    "the folds disagree": ([12, 7, 7, 7, 8], 0.5, (-9, 0)),
    "every fold agrees": ([12, 9, 9, 9, 9], 0.4, (24, 0)),
}


@pytest.mark.parametrize("case", DEFAULTS)
def test_the_default_moves_from_one_half_only_if_it_wins_held_out(case: str) -> None:
    rights, default, (held_out, plain) = DEFAULTS[case]
    rows = by_fold(rights)
    assert calibrate.best_global(rows, ["a"]) == 0.4  # what was chosen before, on every image at once
    selection = calibrate.select(rows)
    decided = selection.decisions["default"]
    assert (selection.default, selection.thresholds) == (default, {})
    assert (decided["held_out_worth"], decided["held_out_worth_at_0.5"]) == (held_out, plain)
    assert (decided["images"], decided["objects"]) == (60, sum(rights))


def test_a_class_needs_labelled_objects_to_move() -> None:
    rows = [record(f"g{i}", "g", 0.55, True) for i in range(40)] + [record(f"w{i}", "g", 0.45, False) for i in range(40)]
    proposals = [calibrate.Record(f"c{i}", (calibrate.Verdict("c", 0.55, False, True, False),), frozenset(), Counter())
                 for i in range(30)]  # 30 images of evidence, every one a wrong 'c', and no 'c' labelled
    selection = calibrate.select(rows + proposals)
    assert "c" not in selection.thresholds
    assert selection.decisions["c"] == {"images": 30, "objects": 0}


def test_six_real_images_keep_one_half_and_say_how_much_evidence(cli: Cli, tmp_path: Path) -> None:
    """Before: 0.75, though a plain 0.5 did better held out (precision 0.667 against 0.333)."""
    out = tmp_path / "made.calibration.json"
    result = cli("dataset", "calibrate", "--model", str(MODEL), *coco6(tmp_path), "--folds", "2",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Evidence: every class 0.5 (6 images, 35 labelled objects; worth " in result.stdout
    made = calibration.load(out, MODEL)
    assert made.default == 0.5 and made.thresholds == {}
    assert made.report["decisions"]["default"]["objects"] == 35 and made.report["method"]["min_objects"] == 20


def shipped_with(**changes: object) -> dict:
    data = json.loads(SHIPPED.read_text())
    data.update(changes)
    return data


def with_model(key: str, value: object) -> dict:
    data = shipped_with()
    data["model"][key] = value
    return data


# A calibration file is checked strictly: each row is written to the user cache and refused.
BAD_FILES = {
    "default true": (shipped_with(default=True), ('gives default = true, but a threshold must be a number more than 0 '
                                                 'and less than 1')),
    "default 1.0 silences all": (shipped_with(default=1.0), "gives default = 1.0, but a threshold must be"),
    "default 0 says all": (shipped_with(default=0), "gives default = 0, but"),
    "default a string": (shipped_with(default="0.3"), 'gives default = "0.3", but'),
    "default NaN": (shipped_with(default=float("nan")), "gives default = NaN, but"),
    "class threshold true": (shipped_with(thresholds={"dog": True}), 'gives thresholds -> "dog" = true, but'),
    "class threshold negative": (shipped_with(thresholds={"dog": -0.2}), 'gives thresholds -> "dog" = -0.2, but'),
    "thresholds a list": (shipped_with(thresholds=[0.4]), "is corrupt"),
    "unknown key": (shipped_with(defualt=0.4), "is corrupt"),
    "labels not names": (with_model("labels", [1, 2]), "is corrupt"),
    "sha256 not text": (with_model("sha256", 7), "is corrupt"),
    "a list": ([], "is corrupt"),
    "control characters in a class": (shipped_with(thresholds={"dog\x1b[2J": 0.4}),
                                      'names classes this model does not know ("dog\\u001b[2J")'),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_calibration_file_is_checked_strictly(cli: Cli, case: str) -> None:
    data, fragment = BAD_FILES[case]
    path = calibration.calibration_dir() / (MODEL.stem + calibration.SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    result = cli("describe", str(PHOTO))
    one_error(result, f"Calibration file {path} {fragment}")
    assert "\x1b" not in result.stderr


def in_cache(tmp: Path) -> tuple[list[str], str]:
    path = calibration.calibration_dir() / (MODEL.stem + calibration.SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(shipped_with(thresholds={"dog": 0.4})))
    return [], f"Calibration from the user cache ({path}): 0.5 for every class; dog 0.4."


def beside(tmp: Path) -> tuple[list[str], str]:
    model = Path(shutil.copyfile(MODEL, tmp / MODEL.name))
    path = tmp / (MODEL.stem + calibration.SUFFIX)
    path.write_text(json.dumps(shipped_with(default=0.55)))
    return ["--model", str(model)], f"Calibration from beside the model ({path}): 0.55 for every class; no class"


def in_checkout(tmp: Path) -> tuple[list[str], str]:
    return [], f"Calibration from the shipped models/ ({SHIPPED}): 0.5 for every class; no class moved from it."


def nowhere(tmp: Path) -> tuple[list[str], str]:
    model = Path(shutil.copyfile(MODEL, tmp / "renamed.tflite"))
    return ["--model", str(model)], ("Not calibrated: every class is spoken at 0.5 (no renamed.calibration.json beside "
                                     "the model, the user cache, the shipped models/;")


# Which calibration is in use, and where it came from, is said on stderr at the start.
IN_USE = {
    "describe, user cache": (in_cache, ["describe", str(PHOTO)]),
    "run, user cache": (in_cache, ["run", "--source", str(WALKING), "--speech", "none", "--max-frames", "1"]),
    "describe, beside the model": (beside, ["describe", str(PHOTO)]),
    "describe, checkout": (in_checkout, ["describe", str(PHOTO)]),
    "run, none anywhere": (nowhere, ["run", "--source", str(WALKING), "--speech", "none", "--max-frames", "1"]),
}


@pytest.mark.parametrize("case", IN_USE)
def test_the_calibration_in_use_is_said_at_the_start(cli: Cli, case: str, tmp_path: Path) -> None:
    place, command = IN_USE[case]
    model_args, said = place(tmp_path)
    result = cli(*command, *model_args)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0].startswith(said), result.stderr


def test_an_error_before_the_start_is_still_one_sentence(cli: Cli) -> None:
    one_error(cli("describe", str(IMAGES / "no-such-photo.jpg")), "no-such-photo.jpg")
