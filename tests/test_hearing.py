"""What it says must be true: one voice per object, thresholds that belong to the model, chosen by
cross-validation. Pure logic on made-up boxes; everything else on the real model and shared media."""

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.config import calibration
from assistant.config import models
from assistant.commands.models import calibration_state
from assistant.core import Box, Detection
from assistant.datasets import calibrate
from assistant.vision.duplicates import suppress
from assistant.config.profile_files import PROFILE_DIR
from assistant.config.rules import load_rules
from assistant.vision.speaking import judge
from assistant.vision.tracking import Tracker

from .conftest import IMAGES, MODEL, SHARED, VIDEOS, Cli

VOC_IMAGES = SHARED / "data" / "labeled" / "voc2012_subset100" / "JPEGImages"
COCO_SMALL = SHARED / "data" / "labeled" / "coco_val2017_icevision6"


def box(x: float, w: float = 100, y1: float = 100, y2: float = 300) -> Box:
    return Box(x, y1, x + w, y2)


class TestSuppression:
    def test_a_second_box_on_one_object_is_dropped_keeping_the_better(self) -> None:
        kept = suppress([Detection("person", 0.44, box(110)), Detection("person", 0.51, box(100))])
        assert kept == (Detection("person", 0.51, box(100)),)

    def test_people_side_by_side_are_both_kept(self) -> None:
        assert len(suppress([Detection("person", 0.8, box(100)), Detection("person", 0.7, box(160))])) == 2

    def test_a_box_that_coincides_with_a_better_one_of_another_class_is_the_same_object(self) -> None:
        dog, cat = Detection("dog", 0.65, box(51, 315)), Detection("cat", 0.44, box(53, 307))
        assert suppress([cat, dog]) == (dog,)

    def test_a_person_on_a_horse_is_two_objects(self) -> None:
        horse, rider = Detection("horse", 0.8, box(100, 300, 50, 400)), Detection("person", 0.7, box(180, 120, 20, 250))
        assert len(suppress([horse, rider])) == 2

    def test_a_class_the_profile_leaves_out_never_silences_one_it_names(self) -> None:
        rules = load_rules("default")
        bear, dog, cat = Detection("teddy bear", 0.7, box(100)), Detection("dog", 0.6, box(102)), \
            Detection("cat", 0.55, box(101))
        assert judge([bear, dog, cat], rules, 640, 480).accepted == [dog]

    def test_a_lost_track_is_found_again_not_doubled(self) -> None:
        tracker = Tracker(confirm_hits=2)
        for t in range(3):
            tracker.update([Detection("person", 0.8, box(100 + 40 * t))], t * 100)  # moving right fast
        tracker.update([], 300)  # missed: its prediction runs on to the right
        tracks = tracker.update([Detection("person", 0.8, box(185))], 400)  # it stopped where it was last seen
        assert [t.track_id for t in tracks] == [1] and tracks[0].misses == 0


def record(key: str, label: str, score: float, right: bool, large: bool = True) -> calibrate.Record:
    verdict = calibrate.Verdict(label, score, right, not right, right and large)
    return calibrate.Record(key, (verdict,), frozenset([label] if right else []),
                            Counter({label: 1} if right and large else {}), Counter({label: 1} if right else {}))


def table() -> list[calibrate.Record]:
    """'g' (60 images): right at 0.55, wrong at 0.45, so the global threshold is 0.5. 'a' (40 images):
    always right at 0.42, so it earns 0.4 in every fold. 'b' (10 images): the same, but too few.
    'c' (40 images): right and wrong alike at 0.42, so lower never pays."""
    rows = []
    for i in range(60):
        rows += [record(f"g{i}", "g", 0.55, True), record(f"g{i}w", "g", 0.45, False)]
    rows += [record(f"a{i}", "a", 0.42, True) for i in range(40)]
    rows += [record(f"b{i}", "b", 0.42, True) for i in range(10)]
    rows += [record(f"c{i}", "c", 0.42, i % 2 == 0) for i in range(40)]
    return rows


class TestSelection:
    def test_known_answers(self) -> None:
        selection = calibrate.select(table())
        assert selection.default == 0.5
        assert selection.thresholds == {"a": 0.4}  # 'b' has 10 images of evidence, 'c' never wins
        assert selection.evidence["b"] == 10 and selection.evidence["a"] == 40

    def test_a_class_that_loses_in_one_fold_does_not_move(self) -> None:
        rows = table()
        folds = calibrate.folds_of(rows)
        victims = [r for r in folds[0] if r.key.startswith("a")]  # in one fold, 'a' at 0.42 is wrong 3 times in 4
        wrong = {r.key for r in victims[: max(1, len(victims) * 3 // 4)]}
        rows = [record(r.key, "a", 0.42, False) if r.key in wrong else r for r in rows]
        assert "a" not in calibrate.select(rows).thresholds

    def test_each_fold_is_scored_on_images_it_never_saw(self) -> None:
        results = calibrate.cross_validate(table())
        assert len(results) == 5 and sum(f.images for f in results) == len(table())
        for f in results:
            assert f.chosen.precision is not None and 0 <= f.chosen.precision <= 1
            assert f.plain.large_recall is not None
        assert sum(f.chosen.right for f in results) > sum(f.plain.right for f in results)  # 'a' is heard

    def test_a_group_moves_together_when_its_classes_alone_are_too_few(self) -> None:
        rows = [record(f"{label}{i}", label, 0.42, True) for label in ("dog", "cat", "horse") for i in range(9)]
        rows += [record(f"g{i}", "g", 0.55, True) for i in range(40)] + [record(f"w{i}", "g", 0.45, False) for i in range(40)]
        assert calibrate.select(rows).thresholds == {"dog": 0.4, "cat": 0.4, "horse": 0.4}


def test_the_shipped_profiles_keep_only_preferences() -> None:
    for path in PROFILE_DIR.glob("*.yaml"):
        assert not [line for line in path.read_text().splitlines() if "min_score" in line.split("#")[0]], path


def test_min_score_overrides_the_calibration_which_overrides_one_half() -> None:
    made = calibration.Calibration("x", (), 0.6, {"dog": 0.4})
    assert load_rules("default").rule("dog").min_score == calibration.UNCALIBRATED
    calibrated = load_rules("default", calibration=made)
    assert (calibrated.rule("dog").min_score, calibrated.rule("cat").min_score) == (0.4, 0.6)
    assert load_rules("quiet", calibration=made).rule("car").min_score == 0.6


def test_without_a_calibration_the_model_is_said_to_be_not_calibrated() -> None:
    assert calibration.for_model(MODEL) is None  # the checkout's models/ is hidden from these tests
    assert calibration_state(MODEL).startswith("not calibrated: every class is spoken at 0.5")


def test_the_shipped_calibration_belongs_to_the_local_model() -> None:
    shipped = models.MANIFEST.parent / "ssd_mobilenet_v2_fpnlite_320_coco.calibration.json"
    made = calibration.load(shipped, MODEL)
    assert made.default == 0.5 and made.report["sets"] and len(made.report["folds"]) == 5


def test_calibrate_write_load_apply(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "made.calibration.json"
    result = cli("dataset", "calibrate", "--model", str(MODEL), "--coco", str(COCO_SMALL / "annotations.json"),
                     "--images", str(COCO_SMALL / "images"), "--folds", "2", "--min-images", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Cross-validated (2 folds by image)" in result.stdout and f"Written to {out}" in result.stdout
    assert result.stdout.count("\nFold ") + result.stdout.startswith("Fold ") == 2
    made = calibration.load(out, MODEL)
    assert made.model_sha256 == models.sha256_of(MODEL) and made.labels == models.labels(MODEL)
    assert made.report["method"]["folds"] == 2 and len(made.report["folds"]) == 2
    # applied: a calibration in the user cache that lowers dogs makes `describe` say the 0.44 dog
    lowered = calibration.Calibration(made.model_sha256, made.labels, 0.5, {"dog": 0.4})
    written = calibration.write(lowered, MODEL, calibration.calibration_dir() / (MODEL.stem + calibration.SUFFIX))
    described = json.loads(cli("describe", "--json", str(IMAGES / "darknet_dog.jpg")).stdout)
    assert "dog" in described["utterance"]
    assert f"calibrated ({written}): 0.5 for every class; dog 0.4" in cli("models", "list").stdout


def test_a_calibration_goes_beside_the_model_else_to_the_user_cache(tmp_path: Path) -> None:
    made = calibration.Calibration("0" * 64, (), 0.5, {})
    model = tmp_path / "m.tflite"
    assert calibration.write(made, model) == tmp_path / "m.calibration.json"
    blocked = tmp_path / "n.calibration.json"
    blocked.mkdir()  # something that is not a file already holds the name beside the model
    assert calibration.write(made, tmp_path / "n.tflite") == calibration.calibration_dir() / "n.calibration.json"


@pytest.mark.parametrize(("text", "reason"), [
    ("{not json", "is corrupt"),
    ('{"format": "assistant-calibration/1", "model": {"sha256": "0", "labels": ["a", "b"]}, "default": 0.5, '
     '"thresholds": {}}', "was made for a model with other labels (class 0 is 'a' there but"),
    ("SAME_LABELS", "was made for another model (sha256 000000000000...)"),
    ("OUT_OF_RANGE", 'gives thresholds -> "dog" = 4, but a threshold must be a number more than 0'),
])
def test_a_bad_calibration_is_one_sentence_and_exit_2(cli: Cli, text: str, reason: str) -> None:
    labels = list(models.labels(MODEL))
    if text == "SAME_LABELS":
        text = json.dumps({"format": calibration.FORMAT, "model": {"sha256": "0" * 64, "labels": labels},
                           "default": 0.5, "thresholds": {}})
    elif text == "OUT_OF_RANGE":
        text = json.dumps({"format": calibration.FORMAT, "model": {"sha256": models.sha256_of(MODEL), "labels": labels},
                           "default": 0.5, "thresholds": {"dog": 4}})
    path = calibration.calibration_dir() / (MODEL.stem + calibration.SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    result = cli("describe", str(IMAGES / "darknet_dog.jpg"))
    assert result.returncode == 2
    assert reason in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_real_photos_one_voice_per_object_and_sane_sentences(cli: Cli) -> None:
    photos = [VOC_IMAGES / "2007_000799.jpg", IMAGES / "yolov5_zidane.jpg", VOC_IMAGES / "2007_001284.jpg",
              IMAGES / "coco_train2017_000000000074.jpg", IMAGES / "darknet_dog.jpg", IMAGES / "darknet_horses.jpg"]
    result = cli("describe", "--json", *map(str, photos))
    assert result.returncode == 0, result.stderr
    rider, zidane, crowd, pavement, dog, horses = [json.loads(line) for line in result.stdout.splitlines()]

    def labels(record: dict) -> list[str]:
        return [o["label"] for o in record["objects"]]

    assert labels(rider).count("person") == 1 and "horse" in labels(rider)  # one rider on a horse, not two people
    assert labels(zidane).count("person") == 2
    assert labels(crowd).count("person") == 4  # every person the detector finds at 0.5 is kept
    assert labels(pavement) == ["dog"]  # not also a cat on almost the same box
    sides = {o["label"]: o["direction"] for o in dog["objects"]}
    assert sides["bicycle"] in {"ahead", "slightly left"}
    assert (sides.get("car") or sides["truck"]) in {"right", "slightly right"}
    assert "dog" not in sides  # 0.44: the evidence does not support saying dogs under 0.5 (docs/accuracy.md)
    assert set(labels(horses)) == {"horse"} and len(labels(horses)) >= 2


@pytest.mark.parametrize(("video", "frames"), [("face-demographics-walking.gif", None), ("car-detection.mp4", 60)])
def test_no_object_holds_two_confirmed_tracks(video: str, frames: int | None) -> None:
    from assistant.vision.detector import Detector
    from assistant.vision.duplicates import SAME_CLASS_IOU
    from assistant.sources.source import open_source

    rules = load_rules("default")
    tracker = Tracker(rules.profile.confirm_frames, rules.min_score)
    seen = 0
    with open_source(str(VIDEOS / video)) as source, Detector(MODEL, video=True, score_threshold=rules.lowest_min_score,
                                                             max_results=100) as detector:
        for frame in source:
            tracks = [t for t in tracker.update(judge(detector.detect(frame), rules, frame.width, frame.height).accepted,
                                                frame.timestamp_ms) if t.confirmed]
            for i, a in enumerate(tracks):
                assert not any(a.detection.label == b.detection.label
                               and a.detection.box.iou(b.detection.box) >= SAME_CLASS_IOU for b in tracks[i + 1:])
            seen += 1
            if seen == frames:
                break
    assert seen >= (frames or 30)
