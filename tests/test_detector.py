"""The real model on real photos and video, and image layouts the detector must accept."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from assistant.core import Frame
from assistant.vision.detector import Detector
from assistant.errors import ModelError, SourceError
from assistant.sources.imaging import read_image, to_rgb
from assistant.sources.source import open_source

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
