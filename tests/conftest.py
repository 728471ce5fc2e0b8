"""Shared fixtures: the real model and media from ../shared, and a way to run the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ASSISTANT_SHARED", ROOT.parent / "shared")).resolve()
MODEL = SHARED / "models" / "ssd_mobilenet_v2_fpnlite_320_coco.tflite"
IMAGES = SHARED / "data" / "images"
VIDEOS = SHARED / "data" / "video"

if not MODEL.is_file():  # these tests run on the real model; missing media is a failure, never a skip
    raise pytest.UsageError(f"The shared model {MODEL} is missing; set ASSISTANT_SHARED to the shared/ folder.")


@pytest.fixture(autouse=True)
def _offline_model_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test finds models in ../shared/models and caches in a temporary directory."""
    monkeypatch.setenv("ASSISTANT_MODEL_DIR", str(MODEL.parent))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m assistant ARGS` as a user would, with the test environment."""
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=dict(os.environ),
    )


@pytest.fixture(scope="session")
def sound_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A PulseAudio server whose only output is a null sink: audio plays in real time, silently.

    Yields the environment variables that point programs at it. CI installs pulseaudio; on a
    machine without it the live-audio tests are skipped, never faked.
    """
    if shutil.which("pulseaudio") is None:
        if os.environ.get("CI"):
            raise pytest.UsageError("CI needs pulseaudio for the live speech tests (.ci/run installs it).")
        pytest.skip("pulseaudio is not installed")
    runtime = tmp_path_factory.mktemp("pulse-run")
    runtime.chmod(0o700)
    env = {"XDG_RUNTIME_DIR": str(runtime), "PULSE_SERVER": f"unix:{runtime}/pulse/native"}
    server = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "--log-target=stderr",
         "--load=module-null-sink sink_name=silent", "--load=module-native-protocol-unix"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not (runtime / "pulse" / "native").exists():
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise RuntimeError("The test PulseAudio server did not start")
        time.sleep(0.05)
    yield env
    server.terminate()
    server.wait(5)


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """A virtual X display (Xvfb) for window tests; CI installs it, elsewhere its absence skips."""
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        if os.environ.get("CI"):
            raise pytest.UsageError("CI needs Xvfb and xdotool for the window tests (.ci/run installs them).")
        pytest.skip("Xvfb or xdotool is not installed")
    for number in range(90, 110):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            break
    display = f":{number}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    yield display
    server.terminate()
    server.wait(5)
