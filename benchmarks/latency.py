"""World-to-voice latency on a real live stream, and on a file played with --realtime.

A real ffmpeg sends MPEG-TS over UDP at 30 fps: an empty road, and now and then a bus for 3 s.
The real `assistant run --speech print` reads the stream; each line it prints is the start of a
sentence at the speech backend. Latency is measured on the wall clock, from the moment the first
frame showing the bus was sent to the first sentence naming it. The same schedule, written to a
file, is also played in-process with --realtime.

Latency in detector frames is the latency times the loop's frame rate: for the stream it
includes the stream's own transport, for the file it is the loop alone (the file hands each frame
over at its time, then the loop detects, confirms and speaks).

Prints one line per appearance, then one JSON object. Usage:
    python benchmarks/latency.py [--short] [--max-fps N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from shared import ROOT, SHARED  # noqa: E402  (first: it points the assistant at the shared models)

sys.path.insert(0, str(ROOT))
from assistant.config import models  # noqa: E402
from assistant.sources.capture import FFMPEG_OPTIONS, FFMPEG_OPTIONS_ENV, Capture, open_url  # noqa: E402
from assistant.core import Frame  # noqa: E402
from assistant.vision.detector import Detector, mediapipe_detectors  # noqa: E402
from assistant.runtime.loop import RunOptions, run  # noqa: E402
from assistant.config.rules import load_rules  # noqa: E402
from assistant.sources.source import open_source  # noqa: E402
from assistant.speech.speaker import Speaker  # noqa: E402
from assistant.speech.backends import NullBackend  # noqa: E402
from tests.streaming import FPS, free_udp_port, photo, stream  # noqa: E402

IMAGES = SHARED / "data" / "images"
SHOWN_S = 3.0  # each appearance lasts this long, then the road is empty again
# When the bus appears, in seconds of streaming: early, about 30 s and about 120 s in, and between.
SCHEDULE_S = (2, 8, 14, 20, 26, 32, 38, 46, 54, 62, 70, 80, 90, 100, 110, 120, 128)
SHORT_SCHEDULE_S = (2, 8, 14, 20, 26, 32)
WINDOW_S = 6.0  # a sentence this long after an appearance still counts (the next comes later)
# A profile that says the bus again at each appearance: a short cooldown, nothing else changed.
PROFILE = "name: latency\nextends: default\ndefaults: {cooldown_s: 1}\nobjects: {bus: {cooldown_s: 1}}\n"


def scene(schedule: tuple[float, ...], road: np.ndarray, bus: np.ndarray):
    return lambda s: bus if any(t <= s < t + SHOWN_S for t in schedule) else road


def latencies(shown: list[float], said: list[float]) -> list[float | None]:
    """For each appearance, seconds to the first sentence naming the bus, or None if none came in WINDOW_S."""
    return [next((t - start for t in said if start <= t < start + WINDOW_S), None) for start in shown]


def live_stream(schedule: tuple[float, ...], road: np.ndarray, bus: np.ndarray, profile: Path,
                max_fps: float | None) -> dict:
    """The real command on a real UDP stream; its printed lines are timed as they arrive."""
    port = free_udp_port()
    url = f"udp://127.0.0.1:{port}"
    cap = ["--max-fps", str(max_fps)] if max_fps else []
    assistant = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--source", url, "--speech", "print", "--profile", str(profile),
         *cap],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=dict(os.environ),
    )
    said: list[float] = []

    def read() -> None:
        for line in assistant.stdout:
            if "bus" in line.lower():
                said.append(time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(3)  # the command starts and waits for the stream
    with stream(port, scene(schedule, road, bus)) as sender:
        time.sleep(schedule[-1] + SHOWN_S + 1)
        shown = [t for t, frame in sender.changes if frame is bus]
        assistant.terminate()
        _, stderr = assistant.communicate(timeout=30)
    reader.join(5)
    summary = stderr.strip().splitlines()[-1]
    frames, seconds = int(summary.split()[0]), float(summary.split()[3])
    age = re.search(r"frame age p50 (\d+) ms, p95 (\d+) ms", summary)
    dropped = int(re.search(r"(\d+) frames? dropped", summary)[1])
    return {"latencies": latencies(shown, said), "fps": frames / seconds, "age_p50": float(age[1]),
            "age_p95": float(age[2]), "dropped_ratio": dropped / (frames + dropped), "summary": summary}


def realtime_file(schedule: tuple[float, ...], road: np.ndarray, bus: np.ndarray, profile_path: Path,
                  model: Path, out: Path, max_fps: float | None) -> dict:
    """The same schedule written to a file and played in-process with --realtime."""
    video = out / "schedule.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (road.shape[1], road.shape[0]))
    show = scene(schedule, road, bus)
    for i in range(round((schedule[-1] + SHOWN_S + 1) * FPS)):
        writer.write(show(i / FPS))
    writer.release()
    said: list[float] = []
    start: list[float] = []

    def on_spoken(spoken) -> None:
        if "bus" in spoken.utterance.text.lower():
            said.append(spoken.started_s)

    def on_frame(report) -> None:
        if not start:  # the file's time zero on the wall clock
            start.append(report.frame.captured_s - report.frame.timestamp_ms / 1000)

    speaker = Speaker(NullBackend(), on_spoken=on_spoken)
    with open_source(str(video), realtime=True) as source:
        stats = run(source, mediapipe_detectors(model), load_rules(str(profile_path)), speaker,
                    RunOptions(on_frame=on_frame, max_fps=max_fps))
    speaker.close()
    return {"latencies": latencies([start[0] + t for t in schedule], said), "fps": stats.fps,
            "age_p95": stats.age_ms_p95, "dropped_ratio": stats.dropped / (stats.frames + stats.dropped)}


def bare_fps(model: Path, frames: list[np.ndarray], count: int = 40) -> float:
    """Bare detect_for_video on the stream's own frames, back to back: the ceiling for the loop."""
    rgb = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]
    with Detector(model, video=True, score_threshold=0.4) as detector:
        detector.detect(Frame(rgb[0], 0, 0))
        started = time.perf_counter()
        for i in range(count):
            detector.detect(Frame(rgb[i % len(rgb)], (i + 1) * 33, i))
        return count / (time.perf_counter() - started)


def decode_ms(road: np.ndarray, bus: np.ndarray, out: Path) -> float:
    """What the capture thread spends decoding one frame of this stream (MPEG-2 in MPEG-TS, 640x480)."""
    path = out / "stream.ts"
    encoder = subprocess.Popen(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "640x480", "-r", str(FPS),
         "-i", "-", "-c:v", "mpeg2video", "-q:v", "5", "-g", str(FPS // 2), "-f", "mpegts", str(path)],
        stdin=subprocess.PIPE)
    for i in range(300):
        encoder.stdin.write((bus if (i // 45) % 2 else road).tobytes())
    encoder.stdin.close()
    encoder.wait()
    capture = cv2.VideoCapture(str(path))
    count, started = 0, time.perf_counter()
    while capture.read()[0]:
        count += 1
    capture.release()
    return (time.perf_counter() - started) * 1000 / count


def transport_ms() -> float:
    """What the stream itself adds (encode, MPEG-TS over UDP, demux, decode), before any detection:
    from sending a frame to the capture thread reading it, for plain grey frames turning light."""
    dark, light = np.full((480, 640, 3), 40, np.uint8), np.full((480, 640, 3), 200, np.uint8)
    times = (2, 3, 4, 5, 6, 7)
    port = free_udp_port()
    arrived = []
    os.environ.setdefault(FFMPEG_OPTIONS_ENV, FFMPEG_OPTIONS)  # as `assistant run` sets it for a stream
    with stream(port, lambda s: light if any(t <= s < t + 0.5 for t in times) else dark) as sender:
        capture = Capture(lambda: open_url(sender.url, "stream"), "stream")
        was_light, end = False, time.monotonic() + times[-1] + 2
        while time.monotonic() < end:
            item = capture.frames.take(0.1)
            if item is not None:
                is_light = float(item.bgr.mean()) > 120
                if is_light and not was_light:
                    arrived.append(item.captured_s)
                was_light = is_light
        capture.stop()
        sent = [t for t, frame in sender.changes if frame is light]
    return statistics.median((a - s) * 1000 for s, a in zip(sent, arrived))


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="only the first 30 s of appearances")
    parser.add_argument("--max-fps", type=float, help="cap the loop at this many frames a second, as on a slow device")
    args = parser.parse_args()
    schedule = SHORT_SCHEDULE_S if args.short else SCHEDULE_S
    model = models.resolve()
    road, bus = photo(IMAGES / "empty_road.jpg"), photo(IMAGES / "coco_train2017_000000000641.jpg")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        profile = out / "latency.yaml"
        profile.write_text(PROFILE)
        bare = bare_fps(model, [road, bus])
        print(f"bare detect_for_video: {bare:.2f} fps", file=sys.stderr)
        decode = decode_ms(road, bus, out)
        print(f"decoding one stream frame: {decode:.2f} ms ({decode * FPS / 10:.1f}% of a core at {FPS} fps)",
              file=sys.stderr)
        transport = transport_ms()
        print(f"the stream itself, send to read: {transport:.0f} ms", file=sys.stderr)
        live = live_stream(schedule, road, bus, profile, args.max_fps)
        print(f"live: {live['summary']}", file=sys.stderr)
        file = realtime_file(schedule, road, bus, profile, model, out, args.max_fps)
    for name, result in (("udp", live), ("realtime file", file)):
        for t, latency in zip(schedule, result["latencies"]):
            shown = f"{latency * 1000:.0f} ms" if latency is not None else "not said while shown"
            print(f"{name}: bus at {t:>3} s -> {shown}", file=sys.stderr)
    heard = [x for x in live["latencies"] if x is not None]
    by_time = dict(zip(schedule, live["latencies"]))
    early = [by_time[t] for t in schedule if t <= 8 and by_time[t] is not None]
    late = [by_time[t] for t in schedule if t >= 120 and by_time[t] is not None]
    file_heard = [x for x in file["latencies"] if x is not None]
    print(json.dumps({
        "model": model.name,
        "max_fps": args.max_fps,
        "appearances": len(schedule),
        "named": len(heard),
        "latency_ms_p50": round(p(heard, 50)) if heard else None,
        "latency_ms_p95": round(p(heard, 95)) if heard else None,
        "latency_growth_ms": round((statistics.median(late) - statistics.median(early)) * 1000)
        if early and late else None,
        "latency_detector_frames_p95": round(p(heard, 95) * live["fps"] / 1000, 2) if heard else None,
        "stream_transport_ms": round(transport),
        "frame_age_ms_p50": live["age_p50"],
        "frame_age_ms_p95": live["age_p95"],
        "detector_frame_ms": round(1000 / live["fps"], 1),
        "dropped_ratio": round(live["dropped_ratio"], 3),
        "loop_fps": round(live["fps"], 2),
        "bare_fps": round(bare, 2),
        "fps_vs_bare": round(live["fps"] / bare, 3),
        "decode_ms_per_frame": round(decode, 2),
        "realtime_file": {"named": len(file_heard), "latency_ms_p50": round(p(file_heard, 50)) if file_heard else None,
                          "latency_ms_p95": round(p(file_heard, 95)) if file_heard else None,
                          "latency_detector_frames_p50": round(p(file_heard, 50) * file["fps"] / 1000, 2)
                          if file_heard else None,
                          "latency_detector_frames_p95": round(p(file_heard, 95) * file["fps"] / 1000, 2)
                          if file_heard else None,
                          "frame_age_ms_p95": file["age_p95"], "dropped_ratio": round(file["dropped_ratio"], 3),
                          "loop_fps": round(file["fps"], 2)},
    }))


if __name__ == "__main__":
    main()
