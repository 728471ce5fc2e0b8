"""What a slow device hears: the shared videos at --max-fps 2, 3, 5 and 8, against the full rate.

Each video runs through the real loop with the real detector. Under a cap, a file is sampled at
that many frames a second of its own time, which is exactly what a device that manages that rate
would see, on any machine. Speech is decided on the video's own clock and voiced by nobody; the
transcript is written as `--transcript` writes it. The reference is the full-rate run of the same
video and profile. For each rate:

- recall_vs_full: of the objects the reference announced, the share also announced at this rate
  (overall, and for vehicles). One object is the reference's tracks chained through the tracker
  losing it: a track of a related class starting within a second of another ending, next to it.
  An announced track at this rate is that object if, at one of its frames, its box overlaps
  (IoU 0.3) the object's box at the same moment (within 250 ms).
- extra_vs_full: announced tracks that are no object the reference announced;
  wrong_words: announced objects of a class the video does not show (the car video shows only
  cars; the walking video only people), which is the part of the extras that is false.
- repeats_in_cooldown: `transcript.static_repeats`, as the tests count it.
- latency: from an object's first detection in the reference to its announcement at this rate,
  in ms and in this rate's frames.
- reachable: the objects this rate's frames show at all in two looks, the later one speakable
  (a box of a related class over the object, scored at least the weak floor): what any policy
  that never confirms a single box could announce. recall_of_reachable is recalled / reachable.

Prints a line per video, profile and rate, then one JSON object. Usage:
    python benchmarks/slow_device.py [--rates 2,3,5,8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np  # noqa: E402
from shared import VIDEOS  # noqa: E402  (first: it points the assistant at the shared models)
from tracking import near  # noqa: E402  (benchmarks/tracking.py: how an id switch is told)

from assistant.config import calibration
from assistant.config import models  # noqa: E402
from assistant.core import Box  # noqa: E402
from assistant.vision.detector import mediapipe_detectors  # noqa: E402
from assistant.runtime.frame_report import FrameReport  # noqa: E402
from assistant.runtime.loop import RunOptions, run  # noqa: E402
from assistant.config.rules import load_rules  # noqa: E402
from assistant.sources.source import open_source  # noqa: E402
from assistant.speech.speaker import Speaker  # noqa: E402
from assistant.speech.backends import NullBackend  # noqa: E402
from assistant.vision.tracking import related  # noqa: E402
from assistant.runtime.transcript import Transcript, read_transcript, static_repeats  # noqa: E402

VEHICLES = {"car", "truck", "bus", "motorcycle", "bicycle"}
# What each shared video really shows (SOURCES.md), so a word for anything else is wrong; truck and
# bus count as right for a car, as the detector's other names for one vehicle.
SHOWS = {"car-detection.mp4": {"car", "truck", "bus"}, "face-demographics-walking.gif": {"person"}}
JOBS = (("car-detection.mp4", "default"), ("car-detection.mp4", "street"), ("face-demographics-walking.gif", "default"))
MATCH_IOU = 0.3
MATCH_MS = 250
CHAIN_MS = 1000
ANNOUNCING = {"new", "change", "approach", "repeat"}


@dataclass
class Track:
    """One track's looks (time -> box) and label, as the run saw it."""

    label: str
    boxes: dict[int, Box] = field(default_factory=dict)

    @property
    def first_ms(self) -> int:
        return min(self.boxes)

    @property
    def last_ms(self) -> int:
        return max(self.boxes)


@dataclass
class Run:
    tracks: dict[int, Track]
    announced: dict[int, int]  # track id -> when first announced (media ms)
    labels: dict[int, str]  # track id -> the label it was announced with
    records: list[dict]
    frames: int
    fps: float
    boxes: list[tuple[int, list[tuple[str, bool, Box]]]]  # each frame's boxes: label, speakable, box


def narrate(video: Path, profile_name: str, rate: float | None, model: Path, out: Path) -> Run:
    rules = load_rules(profile_name, models.labels(model), calibration=calibration.for_model(model))
    tracks: dict[int, Track] = {}
    boxes: list[tuple[int, list[tuple[str, bool, Box]]]] = []

    def on_frame(report: FrameReport) -> None:
        boxes.append((report.frame.timestamp_ms, [(d.label, d.score >= rules.min_score(d.label), d.box)
                                                  for d in report.detections if d.label in rules.labels]))
        for t in report.tracks:
            if t.misses == 0:
                tracks.setdefault(t.track_id, Track(t.detection.label)).boxes[report.frame.timestamp_ms] = t.detection.box

    path = out / f"{video.stem}-{profile_name}-{rate}.jsonl"
    transcript = Transcript(path)
    speaker = Speaker(NullBackend(), on_spoken=transcript.write)
    with open_source(str(video)) as source:
        run(source, mediapipe_detectors(model), rules, speaker, RunOptions(on_frame=on_frame, max_fps=rate))
        fps = rate or source.fps
    speaker.close()
    transcript.close()
    records = read_transcript(path)
    announced: dict[int, int] = {}
    labels: dict[int, str] = {}
    for record in records:
        for obj in record["objects"]:
            if (obj.get("why") or record["kind"]) in ANNOUNCING and obj["track_id"] not in announced:
                announced[obj["track_id"]] = record["t_ms"]
                labels[obj["track_id"]] = obj["label"]
    return Run(tracks, announced, labels, records, len(boxes), fps, boxes)


def objects(reference: Run) -> list[set[int]]:
    """The reference's tracks chained into objects (see the docstring)."""
    owner = {k: k for k in reference.tracks}

    def root(k: int) -> int:
        while owner[k] != k:
            k = owner[k]
        return k

    ordered = sorted(reference.tracks.items(), key=lambda item: item[1].first_ms)
    for k, track in ordered:
        for j, earlier in ordered:
            if (j != k and related(earlier.label, track.label) and 0 <= track.first_ms - earlier.last_ms <= CHAIN_MS
                    and near(earlier.boxes[earlier.last_ms], track.boxes[track.first_ms])):
                owner[root(k)] = root(j)
                break
    groups: dict[int, set[int]] = {}
    for k in reference.tracks:
        groups.setdefault(root(k), set()).add(k)
    return list(groups.values())


def on_object(group: set[int], reference: Run, label: str, box: Box, t_ms: int) -> bool:
    """Whether a box of `label` at `t_ms` lies on this reference object: over one of its tracks'
    boxes (IoU MATCH_IOU) within MATCH_MS, and of a related class."""
    return any(related(label, reference.tracks[k].label)
               and any(abs(t - t_ms) <= MATCH_MS and box.iou(b) >= MATCH_IOU for t, b in reference.tracks[k].boxes.items())
               for k in group)


def same_object(track: Track, group: set[int], reference: Run) -> bool:
    return any(on_object(group, reference, track.label, box, t_ms) for t_ms, box in track.boxes.items())


def reachable(group: set[int], reference: Run, low: Run) -> bool:
    """Whether the low rate's frames show this object twice, the later look speakable."""
    looks = []
    for t_ms, boxes in low.boxes:
        on_it = [speakable for label, speakable, box in boxes if on_object(group, reference, label, box, t_ms)]
        if on_it:
            looks.append(any(on_it))
    return any(looks[1:])


def compare(reference: Run, low: Run, shows: set[str]) -> dict:
    groups = [g for g in objects(reference) if any(k in reference.announced for k in g)]
    found, latencies_ms = [], []
    for group in groups:
        mine = [k for k in low.announced if same_object(low.tracks[k], group, reference)]
        found.append(bool(mine))
        if mine:
            first_seen = min(reference.tracks[k].first_ms for k in group)
            latencies_ms.append(min(low.announced[k] for k in mine) - first_seen)
    vehicle = [any(reference.labels[k] in VEHICLES for k in g if k in reference.announced) for g in groups]
    extra = [k for k in low.announced if not any(same_object(low.tracks[k], g, reference) for g in groups)]
    return {
        "objects": len(groups), "recalled": sum(found), "reachable": sum(reachable(g, reference, low) for g in groups),
        "vehicles": sum(vehicle), "vehicles_recalled": sum(f for f, v in zip(found, vehicle) if v),
        "extra": len(extra), "wrong_words": sum(label not in shows for label in low.labels.values()),
        "latencies_ms": latencies_ms, "latency_frames": [ms * low.fps / 1000 for ms in latencies_ms],
    }


def ratio(n: int, d: int) -> float | None:
    return round(n / d, 3) if d else None


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="2,3,5,8", help="the caps to try, frames a second (2,3,5,8)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    model = models.resolve()
    by_rate: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, profile_name in JOBS:
            video = next(v for v in VIDEOS if v.name == name)
            shows = SHOWS[name]
            reference = narrate(video, profile_name, None, model, Path(tmp))
            for rate in [None, *rates]:
                low = reference if rate is None else narrate(video, profile_name, rate, model, Path(tmp))
                result = compare(reference, low, shows)
                result["repeats"] = static_repeats(low.records, load_rules(profile_name).cooldown_s)
                result["sentences"] = len(low.records)
                key = "full" if rate is None else f"{rate:g}"
                by_rate.setdefault(key, []).append(result)
                said = "; ".join(f"{r['t_ms']} ms {r['text']}" for r in low.records)
                print(f"{name} {profile_name} {key} fps ({low.frames} frames): {result['recalled']}/{result['objects']} "
                      f"objects ({result['reachable']} reachable), {result['vehicles_recalled']}/{result['vehicles']} vehicles, {result['extra']} extra, "
                      f"{result['wrong_words']} wrong, {result['repeats']} repeats | {said}", file=sys.stderr)
    summary = {}
    for key, results in by_rate.items():
        total = {k: sum(r[k] for r in results) for k in ("objects", "recalled", "reachable", "vehicles",
                                                          "vehicles_recalled", "extra", "wrong_words", "repeats",
                                                          "sentences")}
        ms = [x for r in results for x in r["latencies_ms"]]
        frames = [x for r in results for x in r["latency_frames"]]
        summary[key] = {
            "recall_vs_full": ratio(total["recalled"], total["objects"]),
            "recall_vs_full_vehicles": ratio(total["vehicles_recalled"], total["vehicles"]),
            "objects": total["objects"], "vehicles": total["vehicles"], "reachable": total["reachable"],
            "recall_of_reachable": ratio(total["recalled"], total["reachable"]),
            "extra_vs_full": total["extra"], "wrong_words": total["wrong_words"],
            "repeats_in_cooldown": total["repeats"], "sentences": total["sentences"],
            "latency_ms_p50": pct(ms, 50), "latency_ms_p95": pct(ms, 95),
            "latency_frames_p50": pct(frames, 50), "latency_frames_p95": pct(frames, 95),
        }
    print(json.dumps({"model": model.name, "jobs": [f"{v}:{p}" for v, p in JOBS], "rates": summary}))


if __name__ == "__main__":
    main()
