"""Pipeline speed on the shared car video: bare MediaPipe vs. the full pipeline, silent and speaking.

Prints one line per run, then one JSON object with every figure. Usage:
    python benchmarks/pipeline.py [--video PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2  # noqa: E402
import mediapipe as mp  # noqa: E402
from mediapipe.tasks.python import BaseOptions, vision  # noqa: E402
from shared import SHARED  # noqa: E402  (first: it points the assistant at the shared models)

from assistant.config import models  # noqa: E402
from assistant.vision.detector import mediapipe_detectors  # noqa: E402
from assistant.runtime.loop import run  # noqa: E402
from assistant.speech.rendered_backends import WavBackend  # noqa: E402
from assistant.config.rules import load_rules  # noqa: E402
from assistant.sources.source import open_source  # noqa: E402
from assistant.speech.speaker import Speaker  # noqa: E402
from assistant.speech.backends import NullBackend, VoiceSettings  # noqa: E402
from assistant.runtime.transcript import Transcript  # noqa: E402


def bare_mediapipe_fps(video: Path, model: Path, threshold: float) -> float:
    """Decode with OpenCV and call detect_for_video, nothing else: the ceiling for our loop."""
    options = vision.ObjectDetectorOptions(
        base_options=BaseOptions(model_asset_path=str(model)),
        running_mode=vision.RunningMode.VIDEO, score_threshold=threshold, max_results=25,
    )
    capture = cv2.VideoCapture(str(video))
    fps_in = capture.get(cv2.CAP_PROP_FPS)
    frames = 0
    start = time.perf_counter()
    with vision.ObjectDetector.create_from_options(options) as detector:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            detector.detect_for_video(image, round(frames * 1000 / fps_in))
            frames += 1
    capture.release()
    return frames / (time.perf_counter() - start)


def pipeline_fps(video: Path, model: Path, speech: str, out: Path) -> tuple[float, int]:
    """The full `assistant run` loop with `none` or `wav:` speech (the latter with a transcript)."""
    rules = load_rules()
    transcript = Transcript(out / "transcript.jsonl") if speech == "wav" else None
    backend = WavBackend(out / "wav", VoiceSettings(rules.profile.voice.rate)) if speech == "wav" else NullBackend()
    with open_source(str(video)) as source:
        speaker = Speaker(backend, on_spoken=transcript.write if transcript else None)
        stats = run(source, mediapipe_detectors(model), rules, speaker)
        speaker.close(drain=False)
    if transcript:
        transcript.close()
    return stats.fps, stats.utterances


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SHARED / "data" / "video" / "car-detection.mp4")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each kind, interleaved; the best is kept")
    args = parser.parse_args()
    model = models.resolve()
    threshold = load_rules().lowest_min_score
    best = {"bare": 0.0, "none": 0.0, "wav": 0.0}
    utterances = 0
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeat):
            best["bare"] = max(best["bare"], bare_mediapipe_fps(args.video, model, threshold))
            print(f"round {round_ + 1}: bare MediaPipe detect_for_video {best['bare']:.2f} fps", file=sys.stderr)
            for speech in ("none", "wav"):
                fps, said = pipeline_fps(args.video, model, speech, Path(tmp) / f"{speech}{round_}")
                best[speech] = max(best[speech], fps)
                utterances = said if speech == "wav" else utterances
                print(f"round {round_ + 1}: pipeline, {speech} speech {fps:.2f} fps, {said} utterances", file=sys.stderr)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "video": args.video.name,
        "model": model.name,
        "bare_fps": round(best["bare"], 2),
        "pipeline_none_fps": round(best["none"], 2),
        "pipeline_wav_fps": round(best["wav"], 2),
        "pipeline_vs_bare": round(best["none"] / best["bare"], 3),
        "wav_vs_none": round(best["wav"] / best["none"], 3),
        "wav_utterances": utterances,
        "peak_rss_mb": round(peak_rss_mb, 1),
    }))


if __name__ == "__main__":
    main()
