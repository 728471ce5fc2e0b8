"""Labelled detection sets: reading COCO and VOC, finding images with classes, evaluating and calibrating the detector.
May import: vision, narration, config, sources, process."""

EVAL_MIN_SCORE = 0.05  # mAP scores every candidate down to this, as COCO evaluation expects
EVAL_MAX_RESULTS = 100  # and at most this many per image
