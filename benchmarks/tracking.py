"""Track id stability on the shared videos: id switches per minute, with and without the motion model.

The videos have no track labels, so an id switch is counted the way a listener would notice
it: a confirmed track ends and, within a second, a new track of the same class is confirmed
where the old one was last seen (the new box overlaps or touches the old one). Each video is
detected once and both trackers run on the same detections. Prints one line per video, then
one JSON object. Usage:
    python benchmarks/tracking.py [--profile NAME] [--min-score S]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared import VIDEOS  # noqa: E402  (first: it points the assistant at the shared models)

from assistant.config import models  # noqa: E402
from assistant.core import Box, Detection  # noqa: E402
from assistant.vision.detector import Detector  # noqa: E402
from assistant.runtime.loop import MAX_MISSING_MS  # noqa: E402
from assistant.config.rules import Rules, load_rules  # noqa: E402
from assistant.sources.source import open_source  # noqa: E402
from assistant.vision.speaking import judge  # noqa: E402
from assistant.vision.tracking import Tracker  # noqa: E402

SWITCH_WINDOW_MS = 1000


Frames = list[tuple[int, list[Detection], list[Detection]]]


def detections_of(video: Path, model: Path, rules: Rules, min_score: float | None) -> tuple[Frames, float]:
    """Each frame's time, its speakable boxes of the profile's classes and its weak ones (as the
    loop splits them), and the video's length in seconds.

    Boxes pass the profile's own thresholds, or `min_score` for every class when given (then
    nothing is weak).
    """
    frames = []
    with open_source(str(video)) as source, Detector(
        model, video=True, score_threshold=rules.weak_floor if min_score is None else min_score,
        labels=rules.labels,
    ) as detector:
        for frame in source:
            found = detector.detect(frame)
            if min_score is None:
                judged = judge(found, rules, frame.width, frame.height)
                frames.append((frame.timestamp_ms, judged.accepted, judged.weak))
            else:
                frames.append((frame.timestamp_ms, [d for d in found if d.score >= min_score], []))
        seconds = len(frames) / source.fps
    return frames, seconds


def near(a: Box, b: Box) -> bool:
    """Overlapping, or centres closer than the larger box's width."""
    centre = abs((a.x1 + a.x2) / 2 - (b.x1 + b.x2) / 2) + abs((a.y1 + a.y2) / 2 - (b.y1 + b.y2) / 2)
    return a.iou(b) > 0 or centre < max(a.width, b.width)


def id_switches(frames: Frames, tracker: Tracker) -> tuple[int, int]:
    """(id switches, confirmed tracks) over one video."""
    alive: dict[int, tuple[str, Box]] = {}
    ended: list[tuple[int, str, Box]] = []  # when a confirmed track ended, its class and last box
    confirmed: set[int] = set()
    switches = 0
    for t_ms, detections, weak in frames:
        tracks = tracker.update(detections, t_ms, weak)
        live = {t.track_id for t in tracks}
        ended += [(t_ms, label, box) for k, (label, box) in alive.items() if k not in live]
        ended = [e for e in ended if t_ms - e[0] <= SWITCH_WINDOW_MS]
        alive = {t.track_id: (t.detection.label, t.detection.box) for t in tracks if t.confirmed}
        for track in tracks:
            if track.confirmed and track.track_id not in confirmed:
                confirmed.add(track.track_id)
                match = next((e for e in ended if e[1] == track.detection.label and near(e[2], track.detection.box)),
                             None)
                if match is not None:
                    switches += 1
                    ended.remove(match)
    return switches, len(confirmed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--max-missing-ms", type=float, default=MAX_MISSING_MS,
                        help="how long a confirmed track survives unseen (the pipeline's setting by default)")
    parser.add_argument("--min-score", type=float, default=0.3,
                        help="track every detection of the profile's classes above this (noisier than speech "
                             "thresholds, so the tracker has work to do); a negative value uses the profile's own")
    args = parser.parse_args()
    model = models.resolve()
    rules = load_rules(args.profile)
    totals = {"motion": [0, 0], "iou_only": [0, 0]}
    minutes = 0.0
    for video in VIDEOS:
        frames, seconds = detections_of(video, model, rules, args.min_score if args.min_score >= 0 else None)
        minutes += seconds / 60
        line = []
        for name, motion in (("motion", True), ("iou_only", False)):
            tracker = Tracker(rules.profile.confirm_frames, rules.min_score,
                              max_missing_ms=args.max_missing_ms, motion=motion)
            switches, tracks = id_switches(frames, tracker)
            totals[name][0] += switches
            totals[name][1] += tracks
            line.append(f"{name}: {switches} switches / {tracks} confirmed tracks ({switches / (seconds / 60):.1f}/min)")
        print(f"{video.name} ({seconds:.1f} s): " + "; ".join(line), file=sys.stderr)
    motion, iou_only = (totals[k][0] / minutes for k in ("motion", "iou_only"))
    print(json.dumps({
        "profile": rules.profile.name,
        "min_score": args.min_score,
        "max_missing_ms": args.max_missing_ms,
        "video_minutes": round(minutes, 2),
        "id_switches_per_min": round(motion, 2),
        "id_switches_per_min_iou_only": round(iou_only, 2),
        "confirmed_tracks": totals["motion"][1],
        "confirmed_tracks_iou_only": totals["iou_only"][1],
        "motion_vs_iou_only": round(motion / iou_only, 3) if iou_only else None,
    }))


if __name__ == "__main__":
    main()
