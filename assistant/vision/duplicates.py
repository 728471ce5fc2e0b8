"""One object, one voice: drop second boxes the detector puts on an object it already reported. Pure.

MediaPipe's own suppression leaves same-class pairs overlapping up to IoU 0.6, and it never
compares classes, so a dog can also come out as a cat on almost the same box. The speaking path
suppresses among the boxes the profile would speak (`profile.speakable`). The rules here
were chosen on the shared labelled sets (docs/accuracy.md): on 234 images, at scores of 0.4 and
up, an IoU rule at 0.5 removed 32 second boxes and merged 4 real neighbours, while a
containment rule at 0.8 removed 33 but merged 22 (people side by side, one box inside another).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core import Detection

SAME_CLASS_IOU = 0.5  # a box of the same class overlapping a better one this much is the same object
OTHER_CLASS_IOU = 0.85  # a box of another class must nearly coincide with the better one


def is_duplicate(weaker: Detection, stronger: Detection) -> bool:
    """Whether `weaker` is a second box on the object that `stronger` already reports."""
    limit = SAME_CLASS_IOU if weaker.label == stronger.label else OTHER_CLASS_IOU
    return weaker.box.iou(stronger.box) >= limit


def suppress(detections: Iterable[Detection]) -> tuple[Detection, ...]:
    """The detections without duplicates, best first: each box is kept unless it duplicates a kept, higher-scored one."""
    kept: list[Detection] = []
    for detection in sorted(detections, key=lambda d: d.score, reverse=True):
        if not any(is_duplicate(detection, better) for better in kept):
            kept.append(detection)
    return tuple(kept)
