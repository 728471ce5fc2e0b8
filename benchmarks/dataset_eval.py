"""Evaluation speed: `dataset eval` on the shared labelled sets against the bare detector's image rate.

The bare loop reads each image with OpenCV and calls MediaPipe's detect with the same options
(score 0.05, 100 results); the evaluation runs our whole path (reading, detection, pycocotools,
overlap and announcement metrics). Both run in this script, interleaved, best of --repeat.
Prints one line per run, then one JSON object. Usage: python benchmarks/dataset_eval.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from shared import SHARED  # noqa: E402  (first: it points the assistant at the shared models)

import cv2  # noqa: E402
import mediapipe as mp  # noqa: E402
from mediapipe.tasks.python import BaseOptions, vision  # noqa: E402

from assistant import models  # noqa: E402
from assistant.datasets import evaluation  # noqa: E402
from assistant.datasets.readers import read_coco, read_voc  # noqa: E402
from assistant.detector import Detector  # noqa: E402
from assistant.profile import load_profile  # noqa: E402


def bare(paths: list, model) -> float:
    options = vision.ObjectDetectorOptions(
        base_options=BaseOptions(model_asset_path=str(model)), running_mode=vision.RunningMode.IMAGE,
        score_threshold=evaluation.EVAL_MIN_SCORE, max_results=evaluation.EVAL_MAX_RESULTS,
    )
    start = time.perf_counter()
    with vision.ObjectDetector.create_from_options(options) as detector:
        for path in paths:
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
    return len(paths) / (time.perf_counter() - start)


def ours(sets: list, model, profile) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    results = []
    with Detector(model, video=False, score_threshold=evaluation.EVAL_MIN_SCORE,
                  max_results=evaluation.EVAL_MAX_RESULTS) as detector:
        for dataset in sets:
            results.append(evaluation.evaluate(dataset, evaluation.predict(dataset, detector.detect), profile).metrics)
    return sum(len(d.images) for d in sets) / (time.perf_counter() - start), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    labelled = SHARED / "data" / "labeled"
    sets = [read_voc(labelled / "voc2012_subset100"),
            read_coco(labelled / "coco_val2017_icevision6" / "annotations.json",
                      labelled / "coco_val2017_icevision6" / "images")]
    paths = [image.path for dataset in sets for image in dataset.images]
    model, profile = models.resolve(), load_profile()
    best_bare = best_ours = 0.0
    for round_ in range(args.repeat):
        rate_bare = bare(paths, model)
        rate_ours, results = ours(sets, model, profile)
        best_bare, best_ours = max(best_bare, rate_bare), max(best_ours, rate_ours)
        print(f"round {round_ + 1}: bare detector {rate_bare:.2f} images/s, dataset eval {rate_ours:.2f} images/s",
              file=sys.stderr)
    print(json.dumps({
        "images": len(paths),
        "bare_images_per_s": round(best_bare, 2),
        "eval_images_per_s": round(best_ours, 2),
        "eval_vs_bare": round(best_ours / best_bare, 3),
        "map": {d.name: round(r["map"], 4) for d, r in zip(sets, results)},
    }))


if __name__ == "__main__":
    main()
