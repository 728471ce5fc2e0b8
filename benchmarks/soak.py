"""Soak: the full loop on the car video, looped for 20 minutes, speaking to WAV with a transcript.

Samples the process's resident memory every 30 s and reports its growth from minute 1 to the end
(target under 2%), the frame rate, the sentences, and whether every transcript line is valid JSON.
Prints one line per sample, then one JSON object. Usage:
    python benchmarks/soak.py [--minutes 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from shared import SHARED  # noqa: E402  (first: it points the assistant at the shared models)

from assistant.config import models  # noqa: E402
from assistant.speech.factory import make_backend  # noqa: E402
from assistant.core import Frame  # noqa: E402
from assistant.vision.detector import mediapipe_detectors  # noqa: E402
from assistant.runtime.loop import RunOptions, run  # noqa: E402
from assistant.config.rules import load_rules  # noqa: E402
from assistant.sources.source import Source, VideoFile  # noqa: E402
from assistant.speech.speaker import Speaker  # noqa: E402
from assistant.speech.backends import VoiceSettings  # noqa: E402
from assistant.runtime.transcript import Transcript  # noqa: E402

SAMPLE_S = 30


class Looped(Source):
    """A video played again and again, its clock running on across the loops."""

    in_order = True

    def __init__(self, path: Path, until_s: float):
        self.path, self.until_s = path, until_s
        self.loops = 0

    def __iter__(self) -> Iterator[Frame | None]:
        offset_ms = index = 0
        while time.monotonic() < self.until_s:
            with VideoFile(self.path) as video:
                last_ms = 0
                for frame in video:
                    if time.monotonic() >= self.until_s:
                        return
                    last_ms = frame.timestamp_ms
                    yield replace(frame, timestamp_ms=offset_ms + frame.timestamp_ms, index=index)
                    index += 1
                offset_ms += last_ms + round(1000 / video.fps)
            self.loops += 1


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--video", type=Path, default=SHARED / "data" / "video" / "car-detection.mp4")
    args = parser.parse_args()
    model = models.resolve()
    rules = load_rules("default")
    samples: list[tuple[float, float]] = []
    done = threading.Event()
    started = time.monotonic()

    def sample() -> None:
        while not done.wait(0 if not samples else SAMPLE_S):
            samples.append((time.monotonic() - started, rss_mb()))
            print(f"{samples[-1][0]:7.0f} s  RSS {samples[-1][1]:.1f} MB", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        transcript = Transcript(out / "said.jsonl")
        speaker = Speaker(make_backend(f"wav:{out / 'wav'}", VoiceSettings(rules.profile.voice.rate)),
                          on_spoken=transcript.write)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        source = Looped(args.video, started + args.minutes * 60)
        stats = run(source, mediapipe_detectors(model), rules, speaker, RunOptions())
        speaker.close()
        transcript.close()
        done.set()  # the last sample stays the last one taken while running, before the detector closed
        sampler.join()
        lines = (out / "said.jsonl").read_text().splitlines()
        valid = 0
        for line in lines:
            try:
                json.loads(line)
                valid += 1
            except json.JSONDecodeError:
                pass
    after_minute = [mb for t, mb in samples if t >= 60]
    growth = (samples[-1][1] - after_minute[0]) / after_minute[0] if after_minute else None
    print(json.dumps({
        "minutes": round(stats.seconds / 60, 1),
        "loops": source.loops,
        "frames": stats.frames,
        "fps": round(stats.fps, 2),
        "sentences": speaker.spoken,
        "dropped_as_stale": speaker.dropped,
        "transcript_lines": len(lines),
        "transcript_valid": valid == len(lines),
        "rss_mb_minute_1": round(after_minute[0], 1) if after_minute else None,
        "rss_mb_end": round(samples[-1][1], 1),
        "rss_growth": round(growth, 4) if growth is not None else None,
        "rss_mb_samples": [round(mb, 1) for _, mb in samples],
    }))


if __name__ == "__main__":
    main()
