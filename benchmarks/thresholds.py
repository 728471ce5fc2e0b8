"""Choosing speaking thresholds on the shared labelled sets, and checking the shipped profiles.

For every class the sets label, and each threshold from 0.30 to 0.90, an image "says" the class
when a detection of it scores at least the threshold. Precision is the share of those images
that really show the class; large recall is the share of images with a large one (at least 10%
of the image tall) that say it. Among thresholds with precision at least --precision over at
least --support saying images, the suggestion is the highest that keeps the best large recall;
without such evidence it is the lowest threshold that was never wrong (docs/accuracy.md).
Then every shipped profile is scored as `dataset eval` scores it (describe, the profile's own
thresholds, classes the sets label), pooled over both sets. Prints tables, then one JSON object.
Usage: python benchmarks/thresholds.py [--precision 0.88] [--support 5]
"""

from __future__ import annotations

import argparse
import json
import sys

from shared import SHARED  # noqa: E402  (first: it points the assistant at the shared models)

from assistant import models  # noqa: E402
from assistant.datasets import EVAL_MAX_RESULTS, EVAL_MIN_SCORE, evaluation  # noqa: E402
from assistant.datasets.readers import read_coco, read_voc  # noqa: E402
from assistant.detector import Detector  # noqa: E402
from assistant.profile import load_profile, shipped_profiles  # noqa: E402

THRESHOLDS = [round(0.30 + 0.05 * i, 2) for i in range(13)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", type=float, default=0.88)
    parser.add_argument("--support", type=int, default=5, help="fewest saying images to trust a precision")
    args = parser.parse_args()
    labelled = SHARED / "data" / "labeled"
    sets = [read_voc(labelled / "voc2012_subset100"),
            read_coco(labelled / "coco_val2017_icevision6" / "annotations.json",
                      labelled / "coco_val2017_icevision6" / "images")]
    predicted = []
    with Detector(models.resolve(), video=False, score_threshold=EVAL_MIN_SCORE,
                  max_results=EVAL_MAX_RESULTS) as detector:
        for dataset in sets:
            predicted += [(dataset, p) for p in evaluation.predict(dataset, detector.detect)]

    suggested: dict[str, float | None] = {}
    print(f"{'class':14} {'images':>6}  threshold: precision / large recall (saying images)", file=sys.stderr)
    for label in sorted(set().union(*(d.categories for d in sets))):
        rows = []
        judged = [(d, p) for d, p in predicted if label in d.categories]
        true_images = sum(any(t.label == label and not t.ignore for t in p.image.truths) for _, p in judged)
        for t in THRESHOLDS:
            said = right = large = large_said = 0
            for _, p in judged:
                says = any(d.label == label and d.score >= t for d in p.detections)
                there = any(x.label == label and not x.ignore for x in p.image.truths)
                big = any(x.label == label and not x.ignore and x.box.height >= evaluation.LARGE_FRACTION * p.image.height
                          for x in p.image.truths)
                said += says
                right += says and there
                large += big
                large_said += says and big
            rows.append((t, right / said if said else None, large_said / large if large else None, said))
        ok = [r for r in rows if r[1] is not None and r[1] >= args.precision and r[3] >= args.support]
        if ok:  # the highest threshold that keeps the best large recall at the precision floor
            best = max(r[2] or 0 for r in ok)
            suggested[label] = max(r[0] for r in ok if (r[2] or 0) == best)
        else:  # thin evidence: the lowest threshold that was never wrong, if any
            perfect = [r[0] for r in rows if r[1] == 1.0]
            suggested[label] = perfect[0] if perfect else None
        shown = " ".join(f"{t:.2f}:{p:.2f}/{r:.2f}({n})" for t, p, r, n in rows if p is not None and r is not None)
        print(f"{label:14} {true_images:6}  -> {suggested[label]}  {shown}", file=sys.stderr)

    scores = {}
    for path in shipped_profiles():
        profile = load_profile(str(path))
        right = spoken = true = large_right = large_true = 0
        for dataset in sets:
            a = evaluation.announcements([p for d, p in predicted if d is dataset], profile, dataset.categories)
            counts = a["per_class"].values()
            right += sum(c["right"] for c in counts)
            spoken += sum(c["right"] + c["wrong"] for c in counts)
            true += sum(c["right"] + c["missed"] for c in counts)
            if a["large_recall"] is not None:
                large_true += a["large_true"]
                large_right += a["large_right"]
        scores[profile.name] = {
            "precision": round(right / spoken, 3) if spoken else None,
            "recall": round(right / true, 3) if true else None,
            "large_recall": round(large_right / large_true, 3) if large_true else None,
            "spoken": spoken,
        }
        print(f"profile {profile.name}: {scores[profile.name]}", file=sys.stderr)
    print(json.dumps({"suggested_min_score": suggested, "profiles": scores}))


if __name__ == "__main__":
    main()
