"""The real model on real photos and video, and image layouts the detector must accept."""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from assistant.config import models
from assistant.core import Frame
from assistant.errors import ModelError, SourceError
from assistant.sources.imaging import read_image, to_rgb
from assistant.sources.source import open_source
from assistant.vision.detector import Detector, _convert, category_options

from .conftest import IMAGES, MODEL, VIDEOS


def detect_file(path: Path, **options) -> list:
    with Detector(MODEL, video=False, **options) as detector:
        return list(detector.detect(Frame(read_image(path), 0, 0, still=True)))


def test_darknet_dog_in_image_mode() -> None:
    found = {d.label: d for d in detect_file(IMAGES / "darknet_dog.jpg", score_threshold=0.4)}
    assert {"dog", "bicycle", "car"} <= set(found)
    dog = found["dog"].box
    assert 100 < dog.x1 < 150 and 500 < dog.y2 < 576  # pixels, not normalised
    assert all(d.label != "???" for d in found.values())


def test_allowlist_limits_classes() -> None:
    assert {d.label for d in detect_file(IMAGES / "darknet_dog.jpg", score_threshold=0.3, labels=["dog"])} == {"dog"}


def test_empty_road_has_nothing() -> None:
    assert detect_file(IMAGES / "empty_road.jpg", score_threshold=0.3) == []


def test_video_mode_on_a_real_video() -> None:
    labels = []
    with open_source(str(VIDEOS / "face-demographics-walking.gif")) as source, Detector(
        MODEL, video=True, score_threshold=0.5
    ) as detector:
        for frame in source:
            labels += [d.label for d in detector.detect(frame)]
    assert labels.count("person") >= 10


def test_repeated_timestamps_are_made_monotonic() -> None:
    image = read_image(IMAGES / "yolov5_bus.jpg")
    with Detector(MODEL, video=True, score_threshold=0.5) as detector:
        first = detector.detect(Frame(image, 1000, 0))
        again = detector.detect(Frame(image, 1000, 1))  # a camera may repeat a timestamp
    assert [d.label for d in first] == [d.label for d in again]


@pytest.mark.parametrize("layout", ["gray", "gray3d", "bgra", "uint16", "float"])
def test_any_layout_becomes_rgb(layout: str) -> None:
    bgr = cv2.imread(str(IMAGES / "darknet_dog.jpg"))
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    arrays = {
        "gray": gray, "gray3d": gray[:, :, None], "bgra": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
        "uint16": bgr.astype(np.uint16) * 257, "float": bgr.astype(np.float32) / 255,
    }
    rgb = to_rgb(arrays[layout])
    assert rgb.dtype == np.uint8 and rgb.shape == (*bgr.shape[:2], 3)


@pytest.mark.parametrize("kind", ["gray", "rgba", "palette", "16bit"])
def test_image_files_of_every_layout_are_detected_like_the_original(tmp_path: Path, kind: str) -> None:
    bgr = cv2.imread(str(IMAGES / "darknet_dog.jpg"))
    path = tmp_path / f"{kind}.png"
    if kind == "gray":
        cv2.imwrite(str(path), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    elif kind == "rgba":
        cv2.imwrite(str(path), cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    elif kind == "16bit":
        cv2.imwrite(str(path), bgr.astype(np.uint16) * 257)
    else:
        from PIL import Image  # matplotlib, which mediapipe installs, brings Pillow

        Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).convert("P", palette=Image.ADAPTIVE).save(path)
    image = read_image(path)
    assert image.shape == (576, 768, 3) and image.dtype == np.uint8
    labels = {d.label for d in detect_file(path, score_threshold=0.4)}
    assert {"bicycle", "car"} <= labels


def test_corrupt_model_is_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelError, match="cannot load"):
        Detector(bad, video=False)


def test_corrupt_image_is_a_source_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 garbage")
    with pytest.raises(SourceError, match="cannot decode|Cannot read"):
        read_image(bad)


@dataclass
class _Category:
    category_name: str
    score: float


@dataclass
class _Box:
    origin_x: int
    origin_y: int
    width: int
    height: int


@dataclass
class _Raw:
    categories: list
    bounding_box: _Box


@pytest.mark.parametrize("label", ["background", "???", ""])
def test_a_placeholder_label_is_never_returned(label: str) -> None:
    """Model Maker's exports put `background` at index 0 of their label map, and MediaPipe can return it."""
    raw = [_Raw([_Category(label, 0.9)], _Box(10, 10, 50, 50)), _Raw([_Category("door", 0.6)], _Box(0, 0, 20, 40))]
    assert [d.label for d in _convert(raw, 100, 100)] == ["door"]


@pytest.mark.parametrize(("model_labels", "wanted", "expected"), [
    (("background", "door", "stairs"), None, {"category_allowlist": None, "category_denylist": ["background"]}),
    (("???", "person", "???", "car"), None, {"category_allowlist": None, "category_denylist": ["???"]}),
    (("door", "stairs"), None, {"category_allowlist": None, "category_denylist": None}),
    ((), None, {"category_allowlist": None, "category_denylist": None}),  # no label map: MediaPipe refuses a list
    (("background", "door", "stairs"), {"stairs", "door"},  # MediaPipe refuses both lists at once
     {"category_allowlist": ["door", "stairs"], "category_denylist": None}),
])
def test_mediapipe_is_asked_to_skip_the_placeholders_unless_given_an_allowlist(model_labels, wanted, expected) -> None:
    assert category_options(model_labels, wanted) == expected


def test_the_denylist_changes_nothing_for_the_shared_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared model's in-model NMS never picks its `???` ids, so asking MediaPipe to skip them gives the
    same detections, box for box and score for score, as not asking."""
    images = [IMAGES / "darknet_dog.jpg", IMAGES / "yolov5_bus.jpg", IMAGES / "pytorchyolov3_street.jpg"]
    assert category_options(models.labels(MODEL), None)["category_denylist"] == ["???"]
    denied = [detect_file(path, score_threshold=0.05, max_results=100) for path in images]
    monkeypatch.setattr("assistant.vision.detector.category_options",
                        lambda labels, wanted: {"category_allowlist": None, "category_denylist": None})
    assert denied == [detect_file(path, score_threshold=0.05, max_results=100) for path in images]
    assert sum(map(len, denied)) > 30
