"""Shared fixtures: the real model and media from ../shared, and a way to run the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
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
