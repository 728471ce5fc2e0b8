"""`assistant train` end to end, offline, with MediaPipe Model Maker in its own environment.

These tests check the plumbing, never the accuracy: the pretrained checkpoint is a stand-in with
random weights (tests/training/make_standin_weights.py), because Model Maker's real one is on Google
storage and these machines have no internet. A model trained from it for one epoch detects noise;
what is tested is that labelled photos go in, and a model comes out that the assistant's own
mediapipe loads, describes a photo with, evaluates, calibrates, lists and names in profiles; that a
stop or a full disk leaves no model behind; and that `background` is never said.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.config import models
from assistant.training import environment
from assistant.training.job import ARCHITECTURES

from .conftest import IMAGES, ROOT, SHARED, as_from_a_terminal

VOC = SHARED / "data" / "labeled" / "voc2012_subset100"
STANDIN = ROOT / "tests" / "training" / "make_standin_weights.py"
ARCHITECTURE = "mobilenet_v2_i256"


@pytest.fixture(scope="session")
def train_python() -> Path:
    """The training environment's Python (`make test` makes it first; else it is made here, once)."""
    return environment.ensure(lambda message: print(message, file=sys.stderr))


@pytest.fixture(scope="session")
def standin_weights(train_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("standin") / "mobilenetv2_i256"
    subprocess.run([str(train_python), str(STANDIN), ARCHITECTURES[ARCHITECTURE].spec, str(folder)], check=True, capture_output=True,
                   timeout=600)
    return folder


def train_command(weights: Path, name: str, *extra: str) -> list[str]:
    """`assistant train` on VOC's people and cars, 1 epoch from the stand-in weights; half the photos
    kept for validation, so that the validation split has the evidence a calibration needs."""
    return [sys.executable, "-m", "assistant", "train", "--voc", str(VOC), "--classes", "person,car", "--name", name,
            "--architecture", ARCHITECTURE, "--weights", str(weights), "--epochs", "1", "--batch-size", "4",
            "--validation", "0.5", "--folds", "2", *extra]


def environ(users: Path, temporary: Path) -> dict[str, str]:
    return {**os.environ, "ASSISTANT_USER_MODELS": str(users), "TMPDIR": str(temporary)}


@pytest.fixture(scope="session")
def trained(standin_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess,
                                                                                         dict[str, str]]:
    """One training, float16 and int8, installed into a user folder of its own."""
    users, temporary = tmp_path_factory.mktemp("user-models"), tmp_path_factory.mktemp("train-tmp")
    env = environ(users, temporary)
    result = subprocess.run(train_command(standin_weights, "walkers", "--export", "float16,int8", "--qat-epochs", "1"),
                            capture_output=True, text=True, timeout=1800, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, env


def assistant(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env=env)


def test_training_installs_float16_and_int8_models_that_the_assistant_lists(trained) -> None:
    result, env = trained
    users = Path(env["ASSISTANT_USER_MODELS"])
    assert "person" in result.stderr and "car" in result.stderr  # the per-class counts
    assert "Installed walkers (float16" in result.stdout and "Installed walkers-int8 (int8" in result.stdout
    assert sorted(p.name for p in users.glob("*.tflite")) == ["walkers-int8.tflite", "walkers.tflite"]
    listing = assistant(env, "models", "list")
    assert listing.returncode == 0
    for name in ("walkers", "walkers-int8"):
        assert f"{name} (" in listing.stdout
    assert not list(Path(env["TMPDIR"]).glob("assistant-train-*")), "the work folder is removed"


def test_the_float16_export_is_half_the_size_of_float32_would_be(trained) -> None:
    _, env = trained
    users = Path(env["ASSISTANT_USER_MODELS"])
    float16, int8 = (users / "walkers.tflite").stat().st_size, (users / "walkers-int8.tflite").stat().st_size
    assert int8 < float16 < 8_000_000  # float32 of the same network is about 11 MB


@pytest.mark.parametrize("name", ["walkers", "walkers-int8"])
def test_each_export_loads_in_the_assistants_own_mediapipe_and_never_says_background(trained, name: str) -> None:
    from assistant.core import Frame
    from assistant.sources.imaging import read_image
    from assistant.vision.detector import Detector

    _, env = trained
    path = Path(env["ASSISTANT_USER_MODELS"]) / f"{name}.tflite"
    assert models.labels(path) == ("background", "person", "car")
    frame = Frame(read_image(IMAGES / "yolov5_bus.jpg"), 0, 0, still=True)
    with Detector(path, video=False, score_threshold=0.0, max_results=100) as detector:
        found = detector.detect(frame)
    assert found, "a model with scores everywhere reports boxes at threshold 0"
    assert {d.label for d in found} <= {"person", "car"}


@pytest.mark.parametrize("name", ["walkers", "walkers-int8"])
def test_describe_runs_a_trained_model_by_name(trained, name: str, tmp_path: Path) -> None:
    _, env = trained
    profile = tmp_path / "walk.yaml"
    profile.write_text("name: walk\nobjects:\n  person: {min_score: 0.0}\n  car: {min_score: 0.0}\n")
    result = assistant(env, "describe", str(IMAGES / "yolov5_bus.jpg"), "--model", name, "--profile", str(profile))
    assert result.returncode == 0, result.stderr
    assert "background" not in result.stdout
    assert "person" in result.stdout or "people" in result.stdout or "car" in result.stdout


def test_profiles_know_a_trained_models_classes(trained, tmp_path: Path) -> None:
    _, env = trained
    classes = assistant(env, "profiles", "classes", "--model", "walkers")
    assert classes.returncode == 0, classes.stderr
    assert [line.split(" (")[0] for line in classes.stdout.splitlines()] == ["car", "person"]
    door = tmp_path / "door.yaml"
    door.write_text("name: door\nobjects:\n  door: {}\n  person: {}\n")
    checked = assistant(env, "profiles", "check", str(door), "--model", "walkers")
    assert checked.returncode == 2 and "door" in checked.stderr


def test_training_evaluates_and_calibrates_on_the_validation_split(trained) -> None:
    result, env = trained
    assert "the validation split" in result.stdout  # the mAP report of each export
    users = Path(env["ASSISTANT_USER_MODELS"])
    calibrated = sorted(p.name for p in users.glob("*.calibration.json"))
    refused = result.stderr.count("Not calibrated")
    assert len(calibrated) + refused == 2
    listing = assistant(env, "models", "list")
    assert "calibrat" in listing.stdout


def _workers(marker: str) -> list[int]:
    """The worker processes whose command line names `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_during_training_leaves_no_model_and_no_worker(standin_weights: Path, tmp_path: Path) -> None:
    users, temporary = tmp_path / "users", tmp_path / "tmp"
    users.mkdir(), temporary.mkdir()
    child = subprocess.Popen(train_command(standin_weights, "stopped", "--epochs", "50"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT, env=environ(users, temporary),
                             preexec_fn=as_from_a_terminal)
    seen = ""
    while "Epoch 1/50 done" not in seen:  # stopped in the middle of training, its epochs under way
        chunk = child.stderr.read(1)
        assert chunk, f"training ended before it began: {seen[-2000:]}"
        seen += chunk
    assert _workers(str(temporary)), "the worker runs"
    child.send_signal(signal.SIGINT)
    _, rest = child.communicate(timeout=60)
    assert child.returncode == 130, seen[-1000:] + rest
    assert "Traceback" not in rest and "Stopped; nothing was installed." in rest
    deadline = time.monotonic() + 15
    while _workers(str(temporary)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _workers(str(temporary)), "the worker was stopped with the command"
    assert not list(users.iterdir()), "no model, no manifest"
    assert not list(temporary.iterdir()), "the work folder is removed"


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 30 MB file system: room for the photos, Model Maker's cache and its checkpoint (about 19 MB),
    not for the SavedModel an export writes first."""
    folder = tmp_path / "small"
    folder.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"CI runs as root and can mount a tmpfs: {mounted.stderr!r}")
        pytest.skip("mounting a tmpfs needs root")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_during_export_leaves_no_model(standin_weights: Path, small_disk: Path, tmp_path: Path) -> None:
    """The work folder (and so the export) on a disk that fills while the model is exported; the
    install's own full disk is tested in test_user_models."""
    users = tmp_path / "users"
    result = subprocess.run(train_command(standin_weights, "full"), capture_output=True, text=True, timeout=1800,
                            cwd=ROOT, env=environ(users, small_disk))
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "The disk is full" in errors[0] and "No model was written" in errors[0], errors
    assert "Exporting float16." in result.stderr, "it was the export that filled the disk"
    assert not users.exists() or not list(users.iterdir()), "neither a model nor a manifest entry"
    assert not list(small_disk.iterdir()), "the work folder is removed"


def test_without_weights_and_internet_one_sentence_says_what_to_fetch(train_python: Path, tmp_path: Path) -> None:
    """No --weights, no $ASSISTANT_TRAIN_WEIGHTS, and every connection refused (a proxy on a closed
    loopback port): Model Maker's download fails, and the command says what to fetch and where."""
    env = {**environ(tmp_path / "users", tmp_path), "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY":
           "http://127.0.0.1:9", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("ASSISTANT_TRAIN_WEIGHTS", None)
    command = train_command(Path("unused"), "offline")
    command = command[:command.index("--weights")] + command[command.index("--weights") + 2:]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert "mobilenetv2_ssd_i256_ckpt.tar.gz" in errors[0] and "--weights" in errors[0]
    assert not (tmp_path / "cache" / "assistant" / "train-weights" / "mobilenetv2_i256").exists()


def test_weights_that_are_not_a_checkpoint_are_one_sentence(cli, tmp_path: Path) -> None:
    result = cli("train", "--voc", str(VOC), "--classes", "person,car", "--name", "nowhere", "--weights",
                 str(tmp_path))
    assert result.returncode == 2
    assert "holds no ckpt-277200 checkpoint" in result.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["--voc", str(VOC)], "Give the new model a name with --name"),
    (["--name", "x"], "Give the labelled photos"),
    (["--name", "x", "--coco", "a.json"], "Give one --images DIR for each --coco file"),
    (["--name", "x", "--voc", str(VOC), "--export", "float8"], "--export takes float16, int8, float32"),
    (["--name", "Bad Name", "--voc", str(VOC)], "A model name is 1 to 64 lower-case letters"),
    (["--name", "ssd_mobilenet_v2", "--voc", str(VOC)], "taken by a model shipped with the assistant"),
    (["--name", "x", "--voc", str(VOC), "--classes", "door"], "door"),
    (["--name", "x", "--voc", str(VOC), "--classes", "person", "--keep", "car"], "--keep needs --keep-coco"),
    (["--name", "x", "--voc", str(VOC), "--classes", "car", "--batch-size", "64"], "fewer than one batch of 64"),
], ids=["no name", "no photos", "coco without images", "bad export", "bad name", "shipped name", "unknown class",
        "keep without coco", "batch too big"])
def test_bad_training_requests_are_one_sentence_before_any_training(cli, args: list[str], says: str) -> None:
    result = cli("train", *args)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and says in errors[0], result.stderr
    assert not models.user_dir().exists() or not list(models.user_dir().iterdir())


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--epochs", "0", "0 is less than 1"), ("--batch-size", "-4", "-4 is less than 1"),
    ("--qat-epochs", "x", "'x' is not a whole number"), ("--learning-rate", "0", "0 is not above 0"),
    ("--validation", "1", "1 leaves nothing to train on"),
])
def test_training_numbers_out_of_range_are_refused_by_the_parser(cli, option: str, value: str, says: str) -> None:
    result = cli("train", "--name", "x", "--voc", str(VOC), option, value)
    assert result.returncode == 2 and says in result.stderr, result.stderr
