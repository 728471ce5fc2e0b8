"""What the hostile-input tests share: the media they use, digests to prove nothing changed, the
one-sentence error check, and a real small or read-only filesystem."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import IMAGES, SHARED, VIDEOS

WALKING = VIDEOS / "face-demographics-walking.gif"  # 35 frames; people walking towards the camera
CAR_VIDEO = VIDEOS / "car-detection.mp4"
VOC = SHARED / "data" / "labeled" / "voc2012_subset100"


def coco_set(tmp_path: Path, name: str = "dog.jpg") -> tuple[Path, Path]:
    """A one-image COCO set of the shared dog photo saved as `name`: its annotations file and image folder."""
    images = tmp_path / "images"
    images.mkdir()
    copy(IMAGES / "darknet_dog.jpg", images / name)
    annotations = tmp_path / "ann.json"
    annotations.write_text(json.dumps({
        "images": [{"id": 1, "file_name": name, "width": 768, "height": 576}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 18, "bbox": [130, 220, 180, 320], "area": 57600,
                         "iscrowd": 0}],
        "categories": [{"id": 18, "name": "dog"}]}))
    return annotations, images


def messages(stderr: str) -> list[str]:
    """stderr's lines, but the note every run starts with on which calibration is in use."""
    return [line for line in stderr.splitlines() if not line.startswith(("Calibration from ", "Not calibrated: "))]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A real small or read-only filesystem (tests run as root here and in CI)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            raise pytest.UsageError(f"CI needs to mount a tmpfs: {mounted.stderr.decode().strip()}")
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def copy(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    return target
