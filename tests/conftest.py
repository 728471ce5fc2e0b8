"""Shared fixtures: the real model and media from ../shared, and a way to run the real CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# OpenCV and FFmpeg read their log levels once per process, at their first message. A command sets
# them quiet for itself (cli.run_command); in this process, where commands run in-process after
# other tests have used OpenCV, they are set here first, so "moov atom not found" never reaches a
# test's stderr. A --verbose run in a process of its own still shows them.
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from assistant.config import calibration
from assistant.config import models  # noqa: E402 - after the log levels above
from assistant.speech.backends import VoiceSettings
from assistant.speech.factory import make_backend
from assistant.commands.checks import require_voice
from assistant.vision.detector import Detectors, mediapipe_detectors
from assistant.runtime.frame_report import FrameReport
from assistant.runtime.loop import RunOptions, RunStats, run, voice_settings
from assistant.config.rules import load_rules
from assistant.sources.source import open_source
from assistant.speech.speaker import Speaker
from assistant.runtime.transcript import Transcript
from assistant.training import environment as training_environment

from .replay import RecordedDetections
from .servers import null_sink_server, server

ROOT = Path(__file__).resolve().parent.parent
# The training environment (3.3 GB, made once by `make train-env`) is found in the real user cache,
# before the fixtures below point XDG_CACHE_HOME at a temporary folder for everything else.
os.environ.setdefault("ASSISTANT_TRAIN_ENV", str(training_environment.location()))
SHARED = Path(os.environ.get("ASSISTANT_SHARED", ROOT.parent / "shared")).resolve()
MODEL = SHARED / "models" / "ssd_mobilenet_v2_fpnlite_320_coco.tflite"
IMAGES = SHARED / "data" / "images"
VIDEOS = SHARED / "data" / "video"
CAR_VIDEO = VIDEOS / "car-detection.mp4"
WALKING = VIDEOS / "face-demographics-walking.gif"

if not MODEL.is_file():  # these tests run on the real model; missing media is a failure, never a skip
    raise pytest.UsageError(f"The shared model {MODEL} is missing; set ASSISTANT_SHARED to the shared/ folder.")


@pytest.fixture(scope="session", autouse=True)
def _shared_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Models from ../shared/models, caches and the user's model folder in temporary directories, from
    the session's start: session fixtures (such as `car_run`) run before any test's own fixtures. No
    test reads the real ~/.local/share: a trained model there would change what they see."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASSISTANT_MODEL_DIR", str(MODEL.parent))
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("session-cache")))
        patch.setenv("ASSISTANT_USER_MODELS", str(tmp_path_factory.mktemp("session-user-models") / "models"))
        yield


@pytest.fixture(autouse=True)
def _offline_model_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test finds models in ../shared/models, and caches and the user's model folder in temporary
    directories of its own (the folder itself not made yet, as for a new user); subprocesses inherit them."""
    monkeypatch.setenv("ASSISTANT_MODEL_DIR", str(MODEL.parent))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("ASSISTANT_USER_MODELS", str(tmp_path_factory.mktemp("user-models") / "models"))
    monkeypatch.setattr("assistant.config.models.PROJECT_MODEL_DIR", tmp_path_factory.mktemp("project-models"))


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m assistant ARGS` as a user would, with the test environment."""
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=dict(os.environ),
    )


Cli = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def cli(capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`run_cli` in this process: `assistant.cli.main(ARGS)`, its exit code and what it wrote to the
    standard output and error descriptors (so native libraries' lines count too), as a process would."""
    from assistant import cli as command
    from assistant.config import models

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(models, "PROJECT_MODEL_DIR", models.MANIFEST.parent)  # as a process sees it

    def run(*args: str) -> subprocess.CompletedProcess:
        capfd.readouterr()
        code = command.main(list(args))
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess(["assistant", *args], code, out, err)

    return run


def narration_command(video: Path, profile: str, out: Path) -> list[str]:
    """`assistant run` on a video with WAV speech and a transcript into `out`."""
    return [sys.executable, "-m", "assistant", "run", "--source", str(video), "--profile", profile,
            "--speech", f"wav:{out / 'wav'}", "--transcript", str(out / "t.jsonl")]


def wav_seconds(path: Path) -> float:
    """A WAV file's length in seconds."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def transcript_records(out: Path) -> list[dict]:
    lines = (out / "t.jsonl").read_text().splitlines() if (out / "t.jsonl").exists() else []
    return [json.loads(line) for line in lines]


def narrate(video: Path, profile: str, out: Path) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """`assistant run` on a video with WAV speech into `out`: the result and the transcript's records."""
    result = subprocess.run(narration_command(video, profile, out), capture_output=True, text=True, timeout=300,
                            cwd=ROOT, env=dict(os.environ))
    return result, transcript_records(out)


def narrate_replayed(detectors: Detectors, video: Path, profile: str, out: Path,
                     max_frames: int | None = None) -> tuple[RunStats, list[dict]]:
    """`assistant run` on a video with WAV speech and a transcript into `out`, in this process with
    these detectors: the profile, its calibration, speech and transcript wired as the command wires
    them. The run's totals and the transcript's records."""
    loaded = load_rules(profile, models.labels(MODEL), calibration=calibration.for_model(MODEL))
    settings, speech = voice_settings(loaded.profile), f"wav:{out / 'wav'}"
    require_voice(speech, settings)
    transcript = Transcript(out / "t.jsonl")
    with open_source(str(video)) as source:
        speaker = Speaker(make_backend(speech, settings, paced=not source.one_at_a_time), settings=settings,
                          on_spoken=transcript.write, max_age_s=loaded.profile.freshness_s)
        try:
            speaker.wait_ready()
            stats = run(source, detectors, loaded, speaker, RunOptions(max_frames=max_frames))
        finally:
            speaker.close(drain=True)
            transcript.close()
    return stats, transcript_records(out)


def frame_reports(detectors: Detectors, source: Path | str, profile: str, max_frames: int | None = None,
                  candidates: float | None = None) -> list[FrameReport]:
    """Every frame's report of a run on these detectors, with no speech, as the debug view gets them."""
    reports: list[FrameReport] = []
    speaker = Speaker(make_backend("none", VoiceSettings()))
    with open_source(str(source)) as opened:
        run(opened, detectors, load_rules(profile), speaker,
            RunOptions(max_frames=max_frames, on_frame=reports.append, candidates=candidates))
    speaker.close()
    return reports


CAR_STREET_FRAMES = 120


@pytest.fixture(scope="session")
def car_street_reports() -> list[FrameReport]:
    """The reports of the real model's run of the car video's first 120 frames with the street
    profile, made once for every test that reads it (test_replay, test_rules); the frames' pixels,
    which none of them reads, are dropped rather than held for the session."""
    reports = frame_reports(mediapipe_detectors(MODEL), CAR_VIDEO, "street", CAR_STREET_FRAMES)
    return [dataclasses.replace(r, frame=dataclasses.replace(r.frame, image=r.frame.image[:0, :0])) for r in reports]


@pytest.fixture(scope="session")
def recorded() -> Iterator[Callable[[Path], RecordedDetections]]:
    """A video's detections by the real model, recorded once in the session and replayed for every run of it."""
    recordings: dict[Path, RecordedDetections] = {}

    def recording(video: Path) -> RecordedDetections:
        if video not in recordings:
            recordings[video] = RecordedDetections(MODEL)
        return recordings[video]

    yield recording
    for recording_ in recordings.values():
        recording_.close()


@pytest.fixture
def walking_replayed(monkeypatch: pytest.MonkeyPatch, recorded: Callable[[Path], RecordedDetections]
                     ) -> Iterator[None]:
    """A command run in this test sees the walking video's detections as the real model recorded
    them once on this worker, rather than detecting them afresh: for the tests of what a run does
    with its outputs, which read the same frames again and again."""
    replays: list[Detectors] = []

    def replayed(model_path: Path) -> Detectors:
        replays.append(recorded(WALKING))
        return replays[-1]

    monkeypatch.setattr("assistant.vision.detector.mediapipe_detectors", replayed)
    yield
    # `run` looks the factory up when it runs; were it bound at import, this patch would do nothing
    assert replays, "the command ran the real detector, not the recording"


@pytest.fixture(scope="session")
def car_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """The real command on the whole car video with the default profile, run once for every test that reads it."""
    return narrate(CAR_VIDEO, "default", tmp_path_factory.mktemp("car-default"))


# pytest-xdist (`make test` runs `-n auto --dist loadgroup`) sends the tests of one xdist_group to one
# worker, one after another. Session and module fixtures run once per worker, so the tests of an expensive
# shared run are grouped to make it once; and tests that measure real time (live streams, a sound
# server's sink, a window, signals to a running process) are grouped so they never run beside one
# another. A test that uses one of these fixtures, even through another fixture, joins its group;
# mark others `@REALTIME`. Without xdist the marker is only a label.
REALTIME = pytest.mark.xdist_group("realtime")
GROUP_OF_FIXTURE = {"car_run": "car_video_runs", "walking_runs": "walking_video_runs",  # test_languages
                    "walking_replayed": "walking_video_runs",
                    "wheel": "wheel", "bus_render": "bus_render",  # test_install, test_debug_view: built once
                    "car_street_reports": "car_street_reports",
                    "sound_server": "realtime", "x_display": "realtime",
                    # test_training: one training at a time, on one worker (each takes every core)
                    "train_python": "training", "standin_weights": "training", "trained": "training"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): run on one pytest-xdist worker with its group")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    """Mark each test that uses a grouped fixture, before xdist reads the marks. xdist groups by a
    suffix it adds to a nodeid ('...@realtime') through `item._nodeid`, which pytest 9.2 no longer
    reads (it keeps a structured `item._id`): after xdist, the suffix is added there where missing."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            group = next((GROUP_OF_FIXTURE[name] for name in item.fixturenames if name in GROUP_OF_FIXTURE), None)
            if group:
                item.add_marker(pytest.mark.xdist_group(group))
    yield
    if config.getoption("loadgroup", False):  # a worker of `--dist loadgroup`
        for item in items:
            mark = item.get_closest_marker("xdist_group")
            if mark and "@" not in item.nodeid and hasattr(item, "_id"):
                item._id = type(item._id).parse(f"{item.nodeid}@{mark.args[0]}")


def as_from_a_terminal() -> None:
    """`preexec_fn` for a child that is sent Ctrl-C: start it as a terminal would, with SIGINT's
    default action. A shell without job control starts a background command (`make test &`) with
    SIGINT ignored, every child inherits that, and Python then leaves it ignored while it loads."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def needs(*programs: str, why: str) -> None:
    """Skip unless the programs are installed; in CI, where .ci/run installs them, fail instead."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing and os.environ.get("CI"):
        raise pytest.UsageError(f"CI needs {', '.join(missing)} for {why} (.ci/run installs them).")
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")


@pytest.fixture(scope="session")
def sound_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A PulseAudio server whose only output is a null sink: audio plays in real time, silently.

    Yields the environment variables that point programs at it.
    """
    needs("pulseaudio", "parec", why="the live speech tests")
    with null_sink_server(tmp_path_factory.mktemp("pulse-run")) as env:
        yield env


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """A virtual X display (Xvfb) for the window tests."""
    needs("Xvfb", "xdotool", why="the window tests")
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                  and not Path(f"/tmp/.X{n}-lock").exists())
    with server(["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                Path(f"/tmp/.X11-unix/X{number}")):
        yield f":{number}"
