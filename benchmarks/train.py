"""What teaching the detector costs on this machine: `assistant train` on VOC's people and cars.

Trains from a stand-in checkpoint (random weights, made by tests/training/make_standin_weights.py,
because Model Maker's real one cannot be downloaded here: the cost is the same, the accuracy is not
measured), exports float32, float16 and int8, and prints, as JSON on the last line:
- seconds per training epoch per 100 photos (the first epoch, which includes TensorFlow's tracing,
  and the mean of the others), and the seconds of each stage;
- each export's size, and its size against float32;
- each export's median inference time per photo in the assistant's own runtime, against the shared
  model (ssd_mobilenet_v2_fpnlite_320) in the same run;
- the training worker's peak memory (the largest child's maximum resident set).

Usage: python benchmarks/train.py [--epochs N] [--architecture NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import shared

from assistant.config import models
from assistant.core import Frame
from assistant.sources.imaging import read_image
from assistant.training import environment
from assistant.training.job import ARCHITECTURES
from assistant.vision.detector import Detector

VOC = shared.SHARED / "data" / "labeled" / "voc2012_subset100"
PHOTOS = sorted((shared.SHARED / "data" / "images").glob("*.jpg"))
STANDIN = shared.ROOT / "tests" / "training" / "make_standin_weights.py"


def inference_ms(model: Path, rounds: int = 3) -> float:
    """The median time of one detection on each shared photo, after one warm-up pass."""
    frames = [Frame(read_image(p), 0, 0, still=True) for p in PHOTOS]
    times = []
    with Detector(model, video=False, score_threshold=0.3, max_results=25) as detector:
        for frame in frames:
            detector.detect(frame)
        for _ in range(rounds):
            for frame in frames:
                start = time.perf_counter()
                detector.detect(frame)
                times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="mobilenet_v2_i256")
    args = parser.parse_args()
    python = environment.ensure(lambda message: print(message, file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="train-bench-") as scratch:
        scratch = Path(scratch)
        weights = scratch / "weights"
        subprocess.run([str(python), str(STANDIN), ARCHITECTURES[args.architecture].spec, str(weights)], check=True,
                       capture_output=True)
        env = {**os.environ, "ASSISTANT_USER_MODELS": str(scratch / "models")}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "assistant", "train", "--voc", str(VOC), "--classes", "person,car",
                        "--name", "bench", "--architecture", args.architecture, "--weights", str(weights),
                        "--epochs", str(args.epochs), "--qat-epochs", "1", "--export", "float32,float16,int8",
                        "--folds", "2"], check=True, env=env, stdout=subprocess.DEVNULL)
        wall_s = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        entries = {e["name"]: e for e in json.loads((scratch / "models" / "manifest.json").read_text())["models"]}
        training = entries["bench"]["training"]
        photos = training["train"]["images"]
        epochs = training["epoch_seconds"]
        files = {fmt: scratch / "models" / f"{name}.tflite"
                 for fmt, name in (("float32", "bench"), ("float16", "bench-float16"), ("int8", "bench-int8"))}
        baseline = models.resolve("ssd_mobilenet_v2_fpnlite_320")
        baseline_ms = inference_ms(baseline)
        timed = {fmt: inference_ms(path) for fmt, path in files.items()}
    print(json.dumps({
        "architecture": args.architecture,
        "training_photos": photos,
        "epochs": args.epochs,
        "first_epoch_s_per_100_photos": round(epochs[0] / photos * 100, 1),
        "later_epoch_s_per_100_photos": round(statistics.mean(epochs[1:]) / photos * 100, 1) if len(epochs) > 1
        else None,
        "stage_seconds": training["seconds"],
        "wall_s": round(wall_s, 1),
        "sizes_mb": {fmt: round(size / 1e6, 2) for fmt, size in training["export_bytes"].items()},
        "size_vs_float32": {fmt: round(size / training["export_bytes"]["float32"], 3)
                            for fmt, size in training["export_bytes"].items()},
        "inference_ms": {fmt: round(ms, 1) for fmt, ms in timed.items()},
        "baseline_inference_ms": round(baseline_ms, 1),
        "inference_vs_baseline": {fmt: round(ms / baseline_ms, 3) for fmt, ms in timed.items()},
        "peak_rss_mb": round(peak_mb),
    }))


if __name__ == "__main__":
    main()
