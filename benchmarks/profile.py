"""Profile cost: load-and-validate time per shipped profile, and what live reload adds per frame.

Prints one line per measurement, then one JSON object. Usage: python benchmarks/profile.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shared import SHARED  # noqa: E402  (first: it points the assistant at the shared models)

from assistant.config import models  # noqa: E402
from assistant.vision.detector import mediapipe_detectors  # noqa: E402
from assistant.runtime.loop import RunOptions, run  # noqa: E402
from assistant.config.profile_files import PROFILE_DIR, load_profile, shipped_profiles  # noqa: E402
from assistant.runtime.reload import ProfileWatcher  # noqa: E402
from assistant.config.rules import load_rules  # noqa: E402
from assistant.sources.source import open_source  # noqa: E402
from assistant.speech.speaker import Speaker  # noqa: E402
from assistant.speech.backends import NullBackend  # noqa: E402


def load_ms(path: Path, labels: tuple[str, ...], repeat: int = 100) -> float:
    """Median milliseconds to read, merge and validate one profile, labels checked."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        load_profile(str(path), labels)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def poll_us(path: Path, interval_s: float, calls: int = 100_000) -> float:
    """Mean microseconds of one watcher poll on an unchanged file."""
    watcher = ProfileWatcher(path, interval_s=interval_s)
    start = time.perf_counter()
    for _ in range(calls):
        watcher.poll()
    return (time.perf_counter() - start) / calls * 1e6


def pipeline_fps(video: Path, model: Path, profile_path: Path, watch: bool, frames: int) -> float:
    rules = load_rules(str(profile_path))
    with open_source(str(video)) as source:
        speaker = Speaker(NullBackend())
        watcher = ProfileWatcher(profile_path, interval_s=0) if watch else None  # stat every frame: the worst case
        stats = run(source, mediapipe_detectors(model), rules, speaker, RunOptions(max_frames=frames, watcher=watcher))
        speaker.close(drain=False)
    return stats.fps


def main() -> None:
    model = models.resolve()
    labels = models.labels(model)
    video = SHARED / "data" / "video" / "car-detection.mp4"
    result: dict[str, object] = {}
    for path in shipped_profiles():
        result[f"load_ms_{path.stem}"] = round(load_ms(path, labels), 3)
        print(f"load and validate {path.stem}: {result[f'load_ms_{path.stem}']} ms", file=sys.stderr)
    default = PROFILE_DIR / "default.yaml"
    result["poll_us_every_frame"] = round(poll_us(default, 0), 2)
    result["poll_us_throttled"] = round(poll_us(default, 0.25), 3)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "default.yaml"
        copy.write_text(default.read_text())
        without = with_watch = 0.0
        for _ in range(2):  # interleaved, best of two, so drift hits both alike
            without = max(without, pipeline_fps(video, model, copy, False, 150))
            with_watch = max(with_watch, pipeline_fps(video, model, copy, True, 150))
    result["pipeline_fps_without_reload"] = round(without, 2)
    result["pipeline_fps_with_reload"] = round(with_watch, 2)
    result["reload_fps_ratio"] = round(with_watch / without, 3)
    result["poll_share_of_frame"] = round(result["poll_us_every_frame"] / (1e6 / without), 6)
    print(f"watcher poll: {result['poll_us_every_frame']} us every frame, pipeline {without:.2f} -> {with_watch:.2f} fps",
          file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
