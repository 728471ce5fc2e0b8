"""How well the assistant speaks on the shared videos, against the naive loop common in open-source peers.

Our loop runs with the wav backend, which blocks the speech thread for each utterance's real
duration, as a sound card would. The naive loop detects, then for every detection above 0.5
says it and waits for the speech to end (pyttsx3's say + runAndWait), on the same backend.
Prints one line per video, then one JSON object. Usage:
    python benchmarks/speech.py [--profile NAME] [--naive-seconds S]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shared import VIDEOS  # noqa: E402  (first: it points the assistant at the shared models)

from assistant.config import models  # noqa: E402
from assistant.core import Utterance  # noqa: E402
from assistant.vision.detector import Detector, mediapipe_detectors  # noqa: E402
from assistant.runtime.frame_report import FrameReport  # noqa: E402
from assistant.runtime.loop import RunOptions, run  # noqa: E402
from assistant.speech.rendered_backends import WavBackend  # noqa: E402
from assistant.config.rules import Rules, load_rules  # noqa: E402
from assistant.sources.source import open_source  # noqa: E402
from assistant.speech.speaker import Speaker, Spoken  # noqa: E402
from assistant.speech.backends import VoiceSettings  # noqa: E402
from assistant.runtime.transcript import Transcript, read_transcript, static_repeats  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def ours(video: Path, model: Path, rules: Rules, out: Path) -> dict:
    """Run the real loop; time every frame and note whether speech was playing meanwhile."""
    transcript = Transcript(out / "transcript.jsonl")
    spoken: list[Spoken] = []
    frame_times: list[tuple[float, bool]] = []  # (seconds since the previous frame, speaking)
    confirmed_at: dict[int, float] = {}  # track id -> when the frame that confirmed it began
    last = [time.monotonic()]

    def on_spoken(record: Spoken) -> None:
        spoken.append(record)
        transcript.write(record)

    settings = VoiceSettings(rules.profile.voice.rate)
    speaker = Speaker(WavBackend(out / "wav", settings), settings=settings, on_spoken=on_spoken,
                      max_age_s=rules.profile.freshness_s)
    speaker.wait_ready()

    def on_frame(report: FrameReport) -> None:
        now = time.monotonic()
        frame_times.append((now - last[0], speaker.busy))
        for track in report.tracks:
            if track.confirmed and track.track_id not in confirmed_at:
                confirmed_at[track.track_id] = last[0]
        last[0] = now

    with open_source(str(video)) as source:
        run(source, mediapipe_detectors(model), rules, speaker, RunOptions(on_frame=on_frame))
    duration_s = (len(frame_times) / source.fps) if source.fps else 0.0
    speaker.close()
    transcript.close()
    records = read_transcript(out / "transcript.jsonl")
    frame_ms = statistics.mean(t for t, _ in frame_times[1:]) * 1000
    # From the start of the frame that confirmed an object to the start of the first sentence naming it.
    first_said: dict[int, float] = {}
    for record in spoken:
        for sighting in record.utterance.objects:
            first_said.setdefault(sighting.track_id, record.started_s)
    delays = [(first_said[k] - confirmed_at[k]) * 1000 for k in first_said if k in confirmed_at]
    speaking = [t for t, busy in frame_times[1:] if busy]
    silent = [t for t, busy in frame_times[1:] if not busy]
    return {
        "video": video.name,
        "duration_s": duration_s,
        "frames": len(frame_times),
        "utterances": len(records),
        "static_repeats": static_repeats(records, rules.cooldown_s),
        "delays_ms": delays,
        "confirmed": len(confirmed_at),
        "frame_ms": frame_ms,
        "speaking_s": sum(speaking),
        "silent_s": sum(silent),
        "speaking_frames": len(speaking),
        "silent_frames": len(silent),
        "dropped": speaker.dropped,
        "kinds": {k: sum(r["kind"] == k for r in records) for k in {r["kind"] for r in records}},
    }


def naive(video: Path, model: Path, out: Path, budget_s: float) -> dict:
    """Detect; then say every detection above 0.5 and wait for it, in the camera loop."""
    backend = WavBackend(out / "naive", VoiceSettings())
    backend.open()
    frames = said = 0
    start = time.perf_counter()
    with open_source(str(video)) as source, Detector(model, video=True, score_threshold=0.5) as detector:
        for frame in source:
            for detection in detector.detect(frame):
                backend.speak(Utterance(f"{detection.label} detected", frame.timestamp_ms, frame.index), said)
                said += 1
            frames += 1
            if time.perf_counter() - start > budget_s:
                break
    seconds = time.perf_counter() - start
    return {"frames": frames, "seconds": seconds, "fps": frames / seconds, "utterances": said}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--naive-seconds", type=float, default=60.0, help="wall-clock budget of the naive loop")
    args = parser.parse_args()
    model = models.resolve()
    rules = load_rules(args.profile)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for video in VIDEOS:
            result = ours(video, model, rules, Path(tmp) / video.stem)
            runs.append(result)
            print(f"{video.name}: {result['utterances']} utterances in {result['duration_s']:.1f} s of video "
                  f"{result['kinds']}, {result['static_repeats']} static repeats, "
                  f"{result['speaking_frames']} frames while speaking, {result['dropped']} dropped, "
                  f"{len(result['delays_ms'])} of {result['confirmed']} confirmed tracks named",
                  file=sys.stderr)
        baseline = naive(VIDEOS[0], model, Path(tmp), args.naive_seconds)
        print(f"naive loop on {VIDEOS[0].name}: {baseline['frames']} frames in {baseline['seconds']:.1f} s "
              f"({baseline['fps']:.2f} fps), {baseline['utterances']} utterances", file=sys.stderr)
    delays = [d for r in runs for d in r["delays_ms"]]
    frame_ms = statistics.mean(r["frame_ms"] for r in runs)
    speaking_fps = sum(r["speaking_frames"] for r in runs) / sum(r["speaking_s"] for r in runs)
    silent_fps = sum(r["silent_frames"] for r in runs) / sum(r["silent_s"] for r in runs)
    minutes = sum(r["duration_s"] for r in runs) / 60
    print(json.dumps({
        "profile": rules.profile.name,
        "videos": [r["video"] for r in runs],
        "video_minutes": round(minutes, 2),
        "frame_ms": round(frame_ms, 1),
        "speaking_fps": round(speaking_fps, 2),
        "silent_fps": round(silent_fps, 2),
        "naive_fps": round(baseline["fps"], 2),
        "naive_utterances_per_min": round(baseline["utterances"] / (baseline["seconds"] / 60), 1),
        "confirmed_tracks": sum(r["confirmed"] for r in runs),
        "named_tracks": len(delays),
        "confirm_to_speech_frames_p50": round(percentile(delays, 50) / frame_ms, 2),
        "confirm_to_speech_frames_p95": round(percentile(delays, 95) / frame_ms, 2),
        "utterances_per_min": round(sum(r["utterances"] for r in runs) / minutes, 1),
        "static_repeats": sum(r["static_repeats"] for r in runs),
        "confirm_to_speech_ms_p50": round(percentile(delays, 50), 1),
        "confirm_to_speech_ms_p95": round(percentile(delays, 95), 1),
        "speaking_fps_ratio": round(speaking_fps / silent_fps, 3),
        "vs_naive_fps_ratio": round(speaking_fps / baseline["fps"], 2),
    }))


if __name__ == "__main__":
    main()
