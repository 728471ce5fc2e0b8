"""The training environment: a virtual environment of its own with MediaPipe Model Maker, made once.

Model Maker pins mediapipe 0.10.21 and TensorFlow 2.15, which cannot share an environment with the
assistant's mediapipe. The environment is made from `requirements.txt` (shipped beside this file)
into a folder marked with that file's sha256, so a changed pin makes it again; it is built under a
temporary name and renamed when pip has finished, so a stop half-way leaves nothing that looks ready.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..config import models
from ..errors import AssistantError

ENV_VARIABLE = "ASSISTANT_TRAIN_ENV"
PYTHON_VARIABLE = "ASSISTANT_TRAIN_PYTHON"
REQUIREMENTS = Path(__file__).with_name("requirements.txt")
SUPPORTED_PYTHONS = ((3, 10), (3, 11))  # TensorFlow 2.15's wheels, and jax 0.4.34's (which has none for 3.9)
SIZE_NOTE = "about 3.3 GB, 3 to 5 minutes with a fast connection; once"
_STAMP = ".assistant-requirements"


class TrainingError(AssistantError):
    """Training cannot start or did not finish; the message says why and what to do."""


def cache_root() -> Path:
    """The user's cache folder for the assistant: the one model downloads go into, one level up."""
    return models.cache_dir().parent


def location() -> Path:
    """Where the environment lives: $ASSISTANT_TRAIN_ENV, else the user's cache."""
    given = os.environ.get(ENV_VARIABLE)
    return Path(given).expanduser() if given else cache_root() / "train-env"


def python_in(env: Path) -> Path:
    return env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _fingerprint() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ready(env: Path) -> bool:
    """The environment exists and was made from the current requirements."""
    try:
        return (env / _STAMP).read_text().strip() == _fingerprint() and python_in(env).is_file()
    except OSError:
        return False


def base_python() -> str:
    """A Python that TensorFlow 2.15 supports: $ASSISTANT_TRAIN_PYTHON, this one, or python3.11/3.10."""
    given = os.environ.get(PYTHON_VARIABLE)
    if given:
        return given
    if sys.version_info[:2] in SUPPORTED_PYTHONS:
        return sys.executable
    for major, minor in reversed(SUPPORTED_PYTHONS):
        found = shutil.which(f"python{major}.{minor}")
        if found:
            return found
    raise TrainingError(f"Training needs Python 3.10 or 3.11 (TensorFlow 2.15 has no wheels for "
                        f"{sys.version_info.major}.{sys.version_info.minor}); install python3.11 and run again, "
                        f"or set ${PYTHON_VARIABLE} to one.")


def ensure(note) -> Path:
    """The environment's Python, making the environment first if it is missing or out of date."""
    env = location()
    if ready(env):
        return python_in(env)
    if sys.platform == "win32":
        raise TrainingError("Training does not run on Windows: Model Maker needs tensorflow-text, which has no "
                            "Windows wheels; train under WSL (Windows Subsystem for Linux) and copy the model over.")
    if env.exists() and not (env / _STAMP).is_file() and any(env.iterdir()):
        raise TrainingError(f"{env} is not a training environment made by the assistant, and is not empty; "
                            f"point ${ENV_VARIABLE} at a new folder.")
    note(f"Making the training environment in {env} ({SIZE_NOTE}).")
    env.parent.mkdir(parents=True, exist_ok=True)
    partial = env.with_name(f"{env.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _run([base_python(), "-m", "venv", str(partial)], "make a virtual environment")
        _run([str(python_in(partial)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "-r", str(REQUIREMENTS)], "install MediaPipe Model Maker (is the package index reachable?)")
        (partial / _STAMP).write_text(_fingerprint() + "\n")
        if env.exists():
            shutil.rmtree(env)
        partial.rename(env)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return python_in(env)


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise TrainingError(f"Could not {what}: {exc.strerror or exc}.") from None
    if done.returncode != 0:
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no message")
        raise TrainingError(f"Could not {what}; the last thing it said: {last.strip()}")
