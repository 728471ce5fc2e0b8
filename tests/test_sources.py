"""What --source names, decided once (`sources.is_camera_index`) for opening it and for checking the
outputs of `run`, and the one warning for a photo that is cut off, by every path that reads photos."""

from pathlib import Path

import pytest

from assistant.sources.imaging import cut_off_warning
from assistant.sources.source import ImageSource, is_camera_index

from .conftest import IMAGES


@pytest.mark.parametrize(("spec", "camera"), [
    ("0", True), ("1", True), ("07", True), ("12", True), ("99999", True),  # too big, but said so as a camera
    ("²", False), ("١", False), ("-1", False), ("+1", False), (" 1", False), ("1 ", False), ("1.0", False),
    ("", False), ("0x1", False), ("cam0", False), ("rtsp://host/1", False),
])
def test_a_camera_index_is_ascii_digits_only(spec: str, camera: bool) -> None:
    assert is_camera_index(spec) is camera


def test_a_cut_off_photo_gets_the_same_warning_from_a_folder_as_from_describe(tmp_path: Path) -> None:
    whole = IMAGES / "darknet_dog.jpg"
    cut = tmp_path / "b_cut.jpg"
    cut.write_bytes(whole.read_bytes()[:100_000])
    (tmp_path / "a_whole.jpg").write_bytes(whole.read_bytes())
    assert cut_off_warning(whole) is None
    expected = f"{cut} looks cut off (the file ends early); described as far as it goes."
    assert cut_off_warning(cut) == expected
    warnings: list[str] = []
    with ImageSource(tmp_path, warnings.append) as source:
        frames = list(source)
    assert len(frames) == 2 and warnings == [expected]
