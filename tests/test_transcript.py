"""The static-repeat count that the live tests and the speech benchmark hold the narrator to."""

import pytest

from assistant.runtime.transcript import static_repeats


def said(t_ms: int, kind: str, *objects: tuple[str, int, str, str | None]) -> dict:
    return {"t_ms": t_ms, "kind": kind, "priority": 0,
            "objects": [{"label": label, "track_id": track, "direction": side, "why": why}
                        for label, track, side, why in objects]}


@pytest.mark.parametrize(("records", "repeats"), [
    ([said(0, "new", ("person", 1, "ahead", "new")), said(2000, "new", ("person", 1, "ahead", "new"))], 1),
    ([said(0, "new", ("person", 1, "ahead", "new")), said(2000, "change", ("person", 1, "left", "change"))], 0),
    # a sentence that is "new" for one person and a change for another: the change is no repeat
    ([said(0, "new", ("person", 1, "ahead", "new")),
      said(2000, "new", ("person", 1, "slightly left", "change"), ("person", 2, "ahead", "new"))], 0),
    # the tracker lost the person and found it again under a new id: the same place, so a repeat
    ([said(0, "new", ("person", 1, "ahead", "new")), said(2000, "new", ("person", 2, "ahead", "new"))], 1),
    ([said(0, "new", ("person", 1, "ahead", "new")), said(11000, "new", ("person", 2, "ahead", "new"))], 0),
    ([said(0, "new", ("person", 1, "ahead", None)), said(2000, "repeat", ("person", 1, "ahead", None))], 1),
    ([said(0, "new", ("person", 1, "ahead", "new")), said(2000, "describe", ("person", 1, "ahead", "describe"))], 0),
])
def test_static_repeats(records: list[dict], repeats: int) -> None:
    assert static_repeats(records, lambda label: 10.0) == repeats
