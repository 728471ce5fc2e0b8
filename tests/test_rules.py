"""Rules (profile x calibration), the speaking filter's fates with their reasons, and fates in a real run."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from assistant.config.calibration import UNCALIBRATED, Calibration
from assistant.core import Box, Detection
from assistant.vision.detector import mediapipe_detectors
from assistant.runtime.frame_report import FrameReport
from assistant.config.profile import Profile
from assistant.config.rules import WEAK_MARGIN, Rules, load_rules
from assistant.vision.speaking import Kind, judge, settle

from .conftest import IMAGES, MODEL, frame_reports

W, H = 640, 480
CALIBRATION = Calibration("x", (), 0.6, {"dog": 0.4, "cup": 0.3})


def det(label: str, score: float, x: float = 100, h: float = 100) -> Detection:
    return Detection(label, score, Box(x, 100, x + 60, 100 + h))


# --- Rules: profile x calibration, defaults merged ---

@pytest.mark.parametrize(("objects", "defaults", "calibration", "expected"), [
    ({"dog": {}}, {}, None, UNCALIBRATED),  # nothing set, no calibration
    ({"dog": {}}, {}, CALIBRATION, 0.4),  # the model's threshold for the class
    ({"cat": {}}, {}, CALIBRATION, 0.6),  # the calibration's default for a class it does not list
    ({"dog": {}}, {"min_score": 0.7}, CALIBRATION, 0.7),  # defaults override the calibration
    ({"dog": {"min_score": 0.2}}, {"min_score": 0.7}, CALIBRATION, 0.2),  # the class's own overrides both
])
def test_a_threshold_is_the_class_then_defaults_then_the_calibration(objects: dict, defaults: dict,
                                                                     calibration: Calibration | None,
                                                                     expected: float) -> None:
    rules = Rules(Profile(name="t", objects=objects, defaults=defaults), calibration)
    (label,) = objects
    assert rules.min_score(label) == expected == rules.lowest_min_score


def test_defaults_fill_what_a_class_leaves_out() -> None:
    profile = Profile(name="t", defaults={"priority": 2, "cooldown_s": 5, "hazard": True, "min_size": 0.1},
                      objects={"car": {"priority": 7, "spoken_name": "motor"}, "cup": {"hazard": False}})
    rules = Rules(profile, CALIBRATION)
    car, cup = rules.rule("car"), rules.rule("cup")
    assert (car.priority, car.cooldown_s, car.hazard, car.min_size, car.spoken_name) == (7, 5, True, 0.1, "motor")
    assert (cup.priority, cup.hazard, cup.min_score) == (2, False, 0.3)
    assert rules.labels == {"car", "cup"} and rules.lowest_min_score == 0.3
    assert rules.weak_floor == pytest.approx(0.3 - WEAK_MARGIN)
    assert rules.rule("dog").min_score == 0.4 and rules.rule("dog").priority == 2  # not in the profile: defaults
    assert rules.style.spoken_name("car") == "motor" and rules.style.rank("car") == (True, 7)


def test_rules_are_fixed_when_built_and_a_profile_carries_no_rules() -> None:
    profile = Profile(name="t", objects=["dog"])
    rules = Rules(profile, CALIBRATION)
    with pytest.raises(FrozenInstanceError):
        rules.calibration = None  # type: ignore[misc]
    assert Rules(profile).min_score("dog") == UNCALIBRATED and rules.min_score("dog") == 0.4
    assert not hasattr(profile, "rule") and not hasattr(profile, "calibration")


def test_loaded_rules_carry_the_calibration() -> None:
    rules = load_rules("quiet", calibration=CALIBRATION)
    assert rules.calibration is CALIBRATION and rules.min_score("car") == 0.6 and rules.profile.name == "quiet"


# --- The speaking filter: one fate per detection, with its reason ---

RULES = Rules(Profile(name="t", objects={"cup": {"min_score": 0.5, "min_size": 0.3}, "chair": {"min_score": 0.5},
                                         "dog": {"min_score": 0.5}}))


@pytest.mark.parametrize(("detections", "expected"), [
    ([det("kite", 0.9)], [(Kind.NOT_IN_PROFILE, "not in profile")]),
    ([det("chair", 0.2)], [(Kind.BELOW_THRESHOLD, "<0.50")]),  # too far under to keep a track alive
    ([det("chair", 0.4)], [(Kind.WEAK, "<0.50")]),  # within WEAK_MARGIN: may keep a track alive
    ([det("cup", 0.9, h=100)], [(Kind.TOO_SMALL, "too small")]),  # 100 px < 0.3 of 480
    ([det("cup", 0.4, h=100)], [(Kind.BELOW_THRESHOLD, "<0.50")]),  # under its threshold is said first; too small to be weak
    ([det("chair", 0.8), det("chair", 0.6, x=102)], [(Kind.ACCEPTED, ""), (Kind.DUPLICATE, "duplicate")]),
    ([det("chair", 0.8), det("chair", 0.45, x=102)], [(Kind.ACCEPTED, ""), (Kind.BELOW_THRESHOLD, "<0.50")]),  # weak on a kept object
    ([det("kite", 0.9), det("dog", 0.6, x=101)], [(Kind.NOT_IN_PROFILE, "not in profile"), (Kind.ACCEPTED, "")]),
    ([det("dog", 0.7, x=10), det("chair", 0.6, x=400)], [(Kind.ACCEPTED, ""), (Kind.ACCEPTED, "")]),
])
def test_every_detection_gets_a_fate_and_its_reason(detections: list[Detection], expected: list[tuple]) -> None:
    judged = judge(detections, RULES, W, H)
    assert [(f.kind, f.reason) for f in judged.fates] == expected
    assert all((f.position is not None) == f.kept for f in judged.fates)  # a kept box is placed, once


def test_accepted_and_weak_boxes_come_best_first() -> None:
    boxes = [det("dog", 0.6, x=10), det("chair", 0.9, x=400), det("dog", 0.4, x=200), det("chair", 0.45, x=300)]
    judged = judge(boxes, RULES, W, H)
    assert judged.accepted == [boxes[1], boxes[0]] and judged.weak == [boxes[3], boxes[2]]
    assert [s.detection for s in judged.sightings] == judged.accepted


def test_the_loop_settles_accepted_boxes_as_tracked_or_spoken() -> None:
    from assistant.core import Sighting, Utterance

    boxes = [det("dog", 0.7, x=10), det("chair", 0.6, x=400), det("kite", 0.9)]
    judged = judge(boxes, RULES, W, H)
    said = Utterance("A dog", 0, 0, (Sighting(boxes[0], judged.fates[0].position, track_id=3),))
    fates = settle(judged, [3, 5, None], said)
    assert [f.kind for f in fates] == [Kind.SPOKEN, Kind.TRACKED, Kind.NOT_IN_PROFILE]
    photo = settle(judged, (), Utterance("A dog", 0, 0, (Sighting(boxes[0], judged.fates[0].position),)))
    assert [f.kind for f in photo] == [Kind.SPOKEN, Kind.ACCEPTED, Kind.NOT_IN_PROFILE]


# --- Fates in a real run ---

def reports(source: str, profile: str, max_frames: int | None = None,
            candidates: float | None = None) -> list[FrameReport]:
    return frame_reports(mediapipe_detectors(MODEL), source, profile, max_frames, candidates)


def test_a_photos_report_says_what_was_spoken_and_why_the_rest_was_not() -> None:
    (report,) = reports(str(IMAGES / "yolov5_bus.jpg"), "default", candidates=0.1)
    assert len(report.fates) == len(report.detections) > 4
    spoken = {d for d, f in zip(report.detections, report.fates) if f.kind is Kind.SPOKEN}
    assert spoken == {s.detection for s in report.utterance.objects} and {d.label for d in spoken} == {"bus", "person"}
    for d, fate in zip(report.detections, report.fates):
        if fate.kind is Kind.BELOW_THRESHOLD:
            assert fate.reason.startswith("<") and d.score < report.rules.min_score(d.label)
        if fate.kind is Kind.NOT_IN_PROFILE:
            assert d.label not in report.rules.labels
    assert {f.kind for f in report.fates} - {Kind.SPOKEN} <= {Kind.ACCEPTED, Kind.BELOW_THRESHOLD, Kind.WEAK,
                                                              Kind.NOT_IN_PROFILE, Kind.DUPLICATE, Kind.TOO_SMALL}


def test_a_videos_reports_mark_tracked_and_spoken_boxes(car_street_reports: list[FrameReport]) -> None:
    seen = car_street_reports  # the real model on the car video's first 120 frames, street profile
    kinds = {f.kind for r in seen for f in r.fates}
    assert Kind.TRACKED in kinds and Kind.SPOKEN in kinds
    for r in seen:
        said = {s.track_id for s in r.utterance.objects} if r.utterance else set()
        for fate, track_id in zip(r.fates, r.track_ids):
            assert (fate.kind is Kind.SPOKEN) == (track_id is not None and track_id in said)
            assert (fate.kind is Kind.TRACKED) <= (track_id is not None)
