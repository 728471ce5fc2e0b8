"""A label-aware IoU tracker: an id per object, confirmed after N hits, kept through short misses."""

from __future__ import annotations

from collections.abc import Sequence

from .core import Detection, Track


class Tracker:
    """`update(detections)` matches this frame's detections to the live tracks and returns them.

    A track is confirmed after `confirm_frames` consecutive hits; an unconfirmed track dies on its
    first miss, a confirmed one survives `max_misses` frames unseen, so one missed detection
    neither re-announces nor forgets an object.
    """

    def __init__(self, confirm_frames: int = 3, max_misses: int = 5, min_iou: float = 0.3):
        self.confirm_frames = confirm_frames
        self.max_misses = max_misses
        self.min_iou = min_iou
        self._tracks: list[Track] = []
        self._next_id = 1

    def update(self, detections: Sequence[Detection]) -> tuple[Track, ...]:
        """All live tracks after this frame; those seen now have misses == 0."""
        pairs = sorted(
            (
                (track.detection.box.iou(det.box), t, d)
                for t, track in enumerate(self._tracks)
                for d, det in enumerate(detections)
                if track.detection.label == det.label
            ),
            key=lambda pair: pair[0],
            reverse=True,
        )
        matched_tracks: dict[int, int] = {}
        used_detections: set[int] = set()
        for iou, t, d in pairs:
            if iou < self.min_iou:
                break
            if t not in matched_tracks and d not in used_detections:
                matched_tracks[t] = d
                used_detections.add(d)

        survivors: list[Track] = []
        for t, track in enumerate(self._tracks):
            if t in matched_tracks:
                hits = track.hits + 1
                survivors.append(
                    Track(track.track_id, detections[matched_tracks[t]], hits, 0,
                          track.confirmed or hits >= self.confirm_frames)
                )
            elif track.confirmed and track.misses < self.max_misses:
                survivors.append(Track(track.track_id, track.detection, track.hits, track.misses + 1, True))
        for d, det in enumerate(detections):
            if d not in used_detections:
                survivors.append(Track(self._next_id, det, 1, 0, self.confirm_frames <= 1))
                self._next_id += 1
        self._tracks = survivors
        return tuple(survivors)
