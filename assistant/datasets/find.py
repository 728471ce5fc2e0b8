"""find_images_with_classes: which images of a labelled set show the classes you care about."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from .readers import Dataset, DatasetError, LabelledImage


@dataclass(frozen=True, slots=True)
class Found:
    image: LabelledImage
    counts: dict[str, int]  # boxes per wanted class in this image


def check_classes(classes: Sequence[str], dataset: Dataset) -> list[str]:
    """The classes, if the set can label every one; else DatasetError with the nearest name."""
    known = list(dataset.categories)
    for name in classes:
        if name not in dataset.categories:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; it knows {', '.join(sorted(known))}."
            raise DatasetError(f"{name!r} is not a class of {dataset.name}{hint}")
    return list(classes)


def find_images_with_classes(dataset: Dataset, classes: Sequence[str], every: bool = False) -> list[Found]:
    """Images with any (or, with `every`, all) of the classes, with how many boxes of each."""
    found = []
    for image in dataset.images:
        counts = {c: sum(t.label == c for t in image.truths) for c in classes}
        present = [c for c, n in counts.items() if n]
        if (len(present) == len(classes)) if every else present:
            found.append(Found(image, {c: n for c, n in counts.items() if n}))
    return found
