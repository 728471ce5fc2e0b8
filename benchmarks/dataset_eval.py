"""Evaluation speed: `dataset eval` on the shared labelled sets against the bare detector's image rate.

The bare loop reads each image with OpenCV and calls MediaPipe's detect with the same options
(score 0.05, 100 results); the evaluation runs our whole path (reading, detection, pycocotools,
overlap and announcement metrics). Both run in this script, interleaved image by image; the
best of --repeat rounds is kept.
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

from assistant.config import models  # noqa: E402
from assistant.datasets import EVAL_MAX_RESULTS, EVAL_MIN_SCORE, evaluation  # noqa: E402
from assistant.datasets.readers import Dataset, read_coco, read_voc  # noqa: E402
from assistant.vision.detector import Detector  # noqa: E402
from assistant.config.rules import load_rules  # noqa: E402


def measure(sets: list, model, rules) -> tuple[float, float, list[dict]]:
    """Images per second of the bare detector and of the whole evaluation, interleaved image by image
    so that drift in machine speed hits both alike; the evaluation also pays for scoring."""
    options = vision.ObjectDetectorOptions(
        base_options=BaseOptions(model_asset_path=str(model)), running_mode=vision.RunningMode.IMAGE,
        score_threshold=EVAL_MIN_SCORE, max_results=EVAL_MAX_RESULTS,
    )
    bare_s = ours_s = 0.0
    results = []
    with vision.ObjectDetector.create_from_options(options) as bare, Detector(
        model, video=False, score_threshold=EVAL_MIN_SCORE, max_results=EVAL_MAX_RESULTS
    ) as detector:
        for dataset in sets:
            predicted = []
            for image in dataset.images:
                start = time.perf_counter()
                rgb = cv2.cvtColor(cv2.imread(str(image.path)), cv2.COLOR_BGR2RGB)
                bare.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
                middle = time.perf_counter()
                predicted += evaluation.predict(Dataset(dataset.name, (image,), dataset.categories), detector.detect)
                bare_s += middle - start
                ours_s += time.perf_counter() - middle
            start = time.perf_counter()
            results.append(evaluation.evaluate(dataset, predicted, rules).metrics)
            ours_s += time.perf_counter() - start
    images = sum(len(d.images) for d in sets)
    return images / bare_s, images / ours_s, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    labelled = SHARED / "data" / "labeled"
    sets = [read_voc(labelled / "voc2012_subset100"),
            read_coco(labelled / "coco_val2017_icevision6" / "annotations.json",
                      labelled / "coco_val2017_icevision6" / "images")]
    model, rules = models.resolve(), load_rules()
    best_bare = best_ours = 0.0
    for round_ in range(args.repeat):
        rate_bare, rate_ours, results = measure(sets, model, rules)
        best_bare, best_ours = max(best_bare, rate_bare), max(best_ours, rate_ours)
        print(f"round {round_ + 1}: bare detector {rate_bare:.2f} images/s, dataset eval {rate_ours:.2f} images/s",
              file=sys.stderr)
    print(json.dumps({
        "images": sum(len(d.images) for d in sets),
        "bare_images_per_s": round(best_bare, 2),
        "eval_images_per_s": round(best_ours, 2),
        "eval_vs_bare": round(best_ours / best_bare, 3),
        "map": {d.name: round(r["map"], 4) for d, r in zip(sets, results)},
    }))


if __name__ == "__main__":
    main()
