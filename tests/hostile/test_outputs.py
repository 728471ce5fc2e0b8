"""Never lose a file: tables, by class of fault, of outputs that would write through a link, over an
input or over each other, into something that is not a file, beside a second writer, or onto a
full disk. Every case runs the real CLI on real files; each table grows by rows."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from assistant.config import calibration
from assistant.config import models
from assistant.process import outputs
from assistant.view import viewer
from assistant.core import Frame
from assistant.runtime.frame_report import FrameReport
from assistant.config.profile import Profile
from assistant.config.rules import Rules

from ..conftest import IMAGES, MODEL, ROOT, Cli
from .common import CAR_VIDEO, VOC, WALKING, coco_set, copy, digest, one_error, tmpfs

DOG = IMAGES / "darknet_dog.jpg"
PROFILE = "name: active\nobjects: [person, dog]\n"


def voc_set(tmp_path: Path) -> Path:
    """A two-image copy of the shared VOC subset."""
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    for xml in sorted((VOC / "Annotations").glob("*.xml"))[:2]:
        copy(xml, root / "Annotations" / xml.name)
        copy(VOC / "JPEGImages" / f"{xml.stem}.jpg", root / "JPEGImages" / f"{xml.stem}.jpg")
    return root


def calibrated_model(tmp_path: Path) -> Path:
    """A copy of the model with a calibration file beside it (read by every run of that model)."""
    model = copy(MODEL, tmp_path / "m.tflite")
    made = calibration.Calibration(models.sha256_of(model), models.labels(model), 0.5, {})
    calibration.write(made, model)
    return model


def run_args(*extra: str) -> list[str]:
    return ["run", "--source", str(WALKING), "--max-frames", "3", *extra]


# Each row: set up files in tmp_path; return the command and the files that must not change.
Case = Callable[[Path], tuple[list[str], list[Path]]]


def _wav_link_to_profile(t: Path) -> tuple[list[str], list[Path]]:
    (t / "active.yaml").write_text(PROFILE)
    (t / "wavq").mkdir()
    (t / "wavq" / "utterance_00001.wav").symlink_to("../active.yaml")
    return run_args("--profile", str(t / "active.yaml"), "--speech", f"wav:{t / 'wavq'}"), [t / "active.yaml"]


def _snapshot_link_to_profile(t: Path) -> tuple[list[str], list[Path]]:
    (t / "active.yaml").write_text(PROFILE)
    (t / "snaps").mkdir()
    (t / "snaps" / "frame_000000.png").symlink_to(t / "active.yaml")
    return (run_args("--profile", str(t / "active.yaml"), "--speech", "none", "--snapshots", str(t / "snaps")),
            [t / "active.yaml"])


def _report_link_to_annotations(t: Path) -> tuple[list[str], list[Path]]:
    annotations, images = coco_set(t)
    (t / "report").mkdir()
    (t / "report" / "metrics.json").symlink_to(annotations)
    return (["dataset", "eval", "--coco", str(annotations), "--images", str(images), "--report", str(t / "report")],
            [annotations])


def _calibrate_over_coco(t: Path) -> tuple[list[str], list[Path]]:
    annotations, images = coco_set(t)
    return (["dataset", "calibrate", "--coco", str(annotations), "--images", str(images), "--out", str(annotations)],
            [annotations])


def _calibrate_over_voc(t: Path) -> tuple[list[str], list[Path]]:
    root = voc_set(t)
    xml = min((root / "Annotations").glob("*.xml"))
    return ["dataset", "calibrate", "--voc", str(root), "--out", str(xml)], [xml]


def _transcript_over_calibration(t: Path) -> tuple[list[str], list[Path]]:
    model = calibrated_model(t)
    found = t / "m.calibration.json"
    return run_args("--model", str(model), "--speech", "none", "--transcript", str(found)), [found]


def _transcript_over_extended_profile(t: Path) -> tuple[list[str], list[Path]]:
    (t / "base.yaml").write_text("name: base\nobjects: [person]\n")
    (t / "child.yaml").write_text("name: child\nextends: base.yaml\n")
    return (run_args("--profile", str(t / "child.yaml"), "--speech", "none", "--transcript", str(t / "base.yaml")),
            [t / "base.yaml", t / "child.yaml"])


@pytest.mark.parametrize("case", [
    _wav_link_to_profile, _snapshot_link_to_profile, _report_link_to_annotations,
    _calibrate_over_coco, _calibrate_over_voc, _transcript_over_calibration, _transcript_over_extended_profile,
], ids=lambda case: case.__name__.strip("_"))
def test_no_output_replaces_an_input_even_through_a_link(cli: Cli, tmp_path: Path, case: Case) -> None:
    args, kept = case(tmp_path)
    before = [digest(path) for path in kept]
    one_error(cli(*args), "would be overwritten")
    assert [digest(path) for path in kept] == before


def _record_and_transcript(t: Path) -> list[str]:
    return run_args("--speech", "none", "--record", str(t / "x.out"), "--transcript", str(t / "x.out"))


def _transcript_named_like_a_wav(t: Path) -> list[str]:
    return run_args("--speech", f"wav:{t / 'wav'}", "--transcript", str(t / "wav" / "utterance_00001.wav"))


def _record_named_like_a_snapshot(t: Path) -> list[str]:
    return run_args("--speech", "none", "--snapshots", str(t), "--record", str(t / "frame_000000.png"))


def _three_images_one_name(t: Path) -> list[str]:
    for folder, suffix in (("a", ".jpg"), ("b", ".jpg"), ("c", ".png")):
        (t / folder).mkdir()
        copy(DOG, t / folder / f"dog{suffix}")
    (t / "out").mkdir()
    return ["describe", str(t / "a" / "dog.jpg"), str(t / "b" / "dog.jpg"), str(t / "c" / "dog.png"),
            "--debug-out", str(t / "out")]


@pytest.mark.parametrize("case", [
    _record_and_transcript, _transcript_named_like_a_wav, _record_named_like_a_snapshot, _three_images_one_name,
], ids=lambda case: case.__name__.strip("_"))
def test_two_outputs_may_not_write_the_same_file(cli: Cli, tmp_path: Path, case: Callable[[Path], list[str]]) -> None:
    one_error(cli(*case(tmp_path)), "would write the same file")
    assert not list((tmp_path / "out").iterdir() if (tmp_path / "out").is_dir() else [])


@pytest.mark.parametrize(("option", "make", "fragment"), [
    ("--transcript", lambda p: os.mkfifo(p), "is not a regular file (it is a pipe)"),  # no reader: used to hang
    ("--record", lambda p: os.mkfifo(p), "is not a regular file (it is a pipe)"),
    ("--record", lambda p: p.mkdir(), "is not a regular file (it is a folder)"),
    ("--transcript", lambda p: p.symlink_to(p.parent / "elsewhere.jsonl"), "is a link"),
    ("--record", lambda p: p.symlink_to(p.parent / "elsewhere.mp4"), "is a link"),
])
def test_an_output_that_is_not_a_plain_file_is_one_sentence(cli: Cli, tmp_path: Path, option: str, make, fragment: str) -> None:
    target = tmp_path / "out"
    make(target)
    one_error(cli(*run_args("--speech", "none", option, str(target))), fragment)
    assert not (tmp_path / "elsewhere.jsonl").exists() and not (tmp_path / "elsewhere.mp4").exists()


def test_a_wav_name_linked_anywhere_is_refused(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "wav").mkdir()
    (tmp_path / "wav" / "utterance_00002.wav").symlink_to(tmp_path / "notes.txt")
    one_error(cli(*run_args("--speech", f"wav:{tmp_path / 'wav'}")), "is a link")
    assert not (tmp_path / "notes.txt").exists()


def test_a_second_writer_of_a_transcript_is_refused(cli: Cli, tmp_path: Path) -> None:
    transcript = tmp_path / "said.jsonl"
    transcript.write_text('{"text": "from the first run"}\n')
    with transcript.open("a") as first:  # another program holds the lock a run takes
        fcntl.flock(first, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = cli(*run_args("--speech", "none", "--transcript", str(transcript)))
    one_error(result, "is being written by another run")
    assert transcript.read_text() == '{"text": "from the first run"}\n'


def test_two_runs_on_one_transcript_the_second_is_refused_and_the_first_is_whole(cli: Cli, tmp_path: Path) -> None:
    transcript = tmp_path / "said.jsonl"
    command = [sys.executable, "-m", "assistant", "run", "--source", str(CAR_VIDEO), "--realtime", "--max-fps", "2",
               "--profile", "street", "--speech", "print", "--transcript", str(transcript)]
    first = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not transcript.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        one_error(cli(*command[3:]), "is being written by another run")
    finally:
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    text = transcript.read_text()
    assert text == "" or text.endswith("\n")
    assert [json.loads(line)["text"] for line in text.splitlines()] == out.splitlines()[: len(text.splitlines())]


def _no_temporaries(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], "a temporary file was left behind"


def _one_warning(result, fragment: str) -> None:
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and fragment in warnings[0], result.stderr
    assert "error" not in result.stderr and "frames in" in result.stderr.strip().splitlines()[-1]


@pytest.mark.usefixtures("walking_replayed")
def test_a_full_disk_stops_the_recording_and_leaves_no_broken_video(cli: Cli, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "256k") as disk:
        result = cli("run", "--source", str(WALKING), "--profile", "home", "--speech", "print",
                         "--record", str(disk / "view.mp4"))
        _one_warning(result, f"The recording {disk / 'view.mp4'} stopped")
        assert not (disk / "view.mp4").exists()
        _no_temporaries(disk)
    assert result.stdout.strip()  # speech went on


@pytest.mark.usefixtures("walking_replayed")
def test_a_full_disk_stops_the_snapshots_and_keeps_the_whole_ones(cli: Cli, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "200k") as disk:
        result = cli("run", "--source", str(WALKING), "--profile", "home", "--speech", "print",
                         "--snapshots", str(disk), "--snapshot-every", "1")
        _one_warning(result, "No space left on device")
        shots = sorted(disk.iterdir())
        assert [p.name for p in shots] == ["frame_000000.png"]
        assert cv2.imread(str(shots[0])) is not None
    assert result.stdout.strip()


@pytest.mark.usefixtures("walking_replayed")
def test_a_full_disk_stops_the_wavs_and_leaves_no_broken_one(cli: Cli, tmp_path: Path) -> None:
    transcript = tmp_path / "said.jsonl"
    with tmpfs(tmp_path / "small", "64k") as disk:  # less than one sentence's WAV
        result = cli("run", "--source", str(WALKING), "--profile", "home", "--speech", f"wav:{disk}",
                         "--transcript", str(transcript))
        _one_warning(result, "No space left on device")
        assert not list(disk.iterdir())  # neither a truncated WAV nor an empty one, nor a temporary file
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert records and all(r["wav"] is None for r in records)  # speaking went on without WAVs


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_a_replaced_file_keeps_its_mode_and_a_new_one_gets_the_usual(tmp_path: Path, mode: int) -> None:
    out = tmp_path / "m.calibration.json"
    out.write_text("{}")
    out.chmod(mode)
    made = calibration.Calibration("0" * 64, (), 0.5, {})
    calibration.write(made, tmp_path / "m.tflite", out)
    assert stat.S_IMODE(out.stat().st_mode) == mode
    fresh = tmp_path / "n.calibration.json"
    calibration.write(made, tmp_path / "n.tflite", fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == outputs.NEW_FILE_MODE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.calibration.json", "n.calibration.json"]


@pytest.mark.usefixtures("walking_replayed")
def test_a_transcript_to_stdout_is_the_runs_own_stdout(cli: Cli) -> None:
    result = cli("run", "--source", str(WALKING), "--profile", "home", "--speech", "none",
                     "--transcript", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["text"] for line in result.stdout.splitlines()]


def test_a_recording_the_disk_filled_under_is_removed_not_kept_broken(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the free-space reserve: the video writer hits the full disk itself, and says nothing."""
    monkeypatch.setattr(viewer, "RECORD_RESERVE_BYTES", 0)
    warnings: list[str] = []
    noise = np.random.default_rng(0)
    with tmpfs(tmp_path / "small", "64k") as disk:
        view = viewer.Viewer(record=disk / "view.mp4", warn=warnings.append)
        for i in range(40):
            frame = Frame(noise.integers(0, 255, (120, 160, 3), np.uint8), timestamp_ms=i * 100, index=i)
            view.show(FrameReport(frame, (), (), (), (), None, 10.0, Rules(Profile(name="t", objects=["cup"]))), 0, "")
        view.close()
        assert not list(disk.iterdir())
    assert len(warnings) == 1 and "would not play" in warnings[0], warnings
