"""What a listener hears, measured at a real sound server: onset, cut-off, panning, and the camera's pace.

A private PulseAudio with a null sink plays in real time; parec records its monitor, stamping each
chunk as it arrives, so sound is lined up with what the program did (tests/sink.py).
- onset_ms: from `say()` of a 5-word phrase to its first sound at the sink (p50, p95), and the
  synthesis time alone (espeak-ng --stdout).
- cut_ms: from a hazard's `say()` to the end of the cut-off routine phrase's sound at the sink.
- pan_db: the right-minus-left level of a clause about an object on the left, ahead and right.
- fps_vs_silent: the loop's frame rate on the car video while speaking through this path,
  divided by the same run with no speech.
Prints a table, then one JSON object as the last line. Usage: python benchmarks/audio.py [--trials 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from shared import ROOT, VIDEOS  # noqa: E402  (first: it points the assistant at the shared models)

sys.path.insert(0, str(ROOT))
from assistant.speech import audio
from assistant.config import models  # noqa: E402
from assistant.core import ROUTINE, URGENT, Box, Detection, Frame, Utterance  # noqa: E402
from assistant.vision.detector import mediapipe_detectors  # noqa: E402
from assistant.runtime.loop import RunOptions, run, voice_settings  # noqa: E402
from assistant.vision.position import place  # noqa: E402
from assistant.speech.rendered_backends import SoundBackend  # noqa: E402
from assistant.config.rules import load_rules  # noqa: E402
from assistant.sources.source import open_source  # noqa: E402
from assistant.speech.speaker import Speaker  # noqa: E402
from assistant.speech.backends import NullBackend, VoiceSettings  # noqa: E402
from assistant.speech.synthesis import EspeakSynthesizer  # noqa: E402
from assistant.narration.wording import compose, warning  # noqa: E402
from tests.servers import null_sink_server  # noqa: E402
from tests.sink import RATE, SinkRecorder, level_difference_db, loud  # noqa: E402

RULES = load_rules("default")
FRAME = Frame(np.zeros((480, 640, 3), np.uint8), 0, 0)
PHRASE = "a person ahead two metres"


def one(label: str, x: float) -> Utterance:
    sighting = place(Detection(label, 0.9, Box(x, 150, x + 60, 300)), FRAME, 60.0)
    said = compose([sighting], RULES.style)
    return Utterance(said.text, 0, 0, said.objects, clauses=said.clauses)


def onsets(env: dict, trials: int, settings: VoiceSettings = VoiceSettings(),
           phrase: str = PHRASE) -> tuple[list[float], list[float]]:
    """From `say()` of a phrase to its first sound at the sink, and the synthesis alone, in ms."""
    synthesizer = EspeakSynthesizer(settings)
    synthesis = []
    for _ in range(trials):
        start = time.perf_counter()
        synthesizer.synthesize(phrase)
        synthesis.append((time.perf_counter() - start) * 1000)
    backend = SoundBackend(settings)
    backend.open()
    delays = []
    for _ in range(trials):
        with SinkRecorder(env) as recording:
            backend.arm()
            said = time.monotonic()
            backend.speak(Utterance(phrase, 0, 0, language=settings.language), 1)
            time.sleep(0.1)
        frames, times = recording.samples()
        delays.append((times[loud(frames)[0]] - said) * 1000)
    return delays, synthesis


def cuts(env: dict, trials: int) -> list[float]:
    settings = VoiceSettings()
    car = place(Detection("car", 0.9, Box(40, 150, 200, 300)), FRAME, 60.0)
    said = warning([car], RULES.style)
    hazard = Utterance(said.text, 0, 0, said.objects, "approach", URGENT, True, clauses=said.clauses)
    cue = audio.earcon("hazard", RATE)
    result = []
    for trial in range(trials):
        speaker = Speaker(SoundBackend(settings), settings=settings, max_age_s=10)
        speaker.wait_ready()
        with SinkRecorder(env) as recording:
            speaker.say(Utterance("a chair on your right about three metres next to a table with two cups", 0, 0,
                                  priority=ROUTINE))
            time.sleep(0.8 + 0.05 * trial)  # at a different point of the phrase each time
            arrived = time.monotonic()
            speaker.say(hazard)
            time.sleep(1.5)
        speaker.close()
        frames, times = recording.samples()
        start = int(np.argmax(np.correlate(frames.sum(axis=1), cue, mode="valid")))
        result.append((times[loud(frames[:start])[-1]] - arrived) * 1000)
    return result


def pans(env: dict) -> dict[str, float]:
    settings = VoiceSettings()
    backend = SoundBackend(settings)
    backend.open()
    out = {}
    for side, x in (("left", 20), ("ahead", 290), ("right", 560)):
        with SinkRecorder(env) as recording:
            backend.arm()
            backend.speak(one("person", x), 1)
            time.sleep(0.1)
        frames, _ = recording.samples()
        voiced = loud(frames)
        out[side] = round(float(level_difference_db(frames[voiced[0]:voiced[-1]])), 1)
    return out


def pace(speech: bool, frames: int) -> float:
    """The loop's frame rate on the car video played at its own pace (as a camera would give it),
    speaking through PortAudio or not at all."""
    model = models.resolve()
    settings = voice_settings(RULES.profile)
    speaker = Speaker(SoundBackend(settings) if speech else NullBackend(), settings=settings)
    with open_source(str(VIDEOS[0]), realtime=True) as source:
        stats = run(source, mediapipe_detectors(model), RULES, speaker, RunOptions(max_frames=frames))
    speaker.close(drain=False)
    return stats.fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--frames", type=int, default=200, help="car video frames for the pace runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, null_sink_server(Path(folder) / "pulse") as env:
        os.environ.update(env)
        delays, synthesis = onsets(env, args.trials)
        cut = cuts(env, max(5, args.trials // 2))
        pan = pans(env)
        silent = pace(False, args.frames)
        spoken = pace(True, args.frames)

    def p(values: list[float], q: int) -> float:
        return round(float(np.percentile(values, q)), 1)

    result = {"onset_ms_p50": p(delays, 50), "onset_ms_p95": p(delays, 95),
              "synthesis_ms_p50": p(synthesis, 50), "synthesis_ms_p95": p(synthesis, 95),
              "cut_ms_p50": p(cut, 50), "cut_ms_p95": p(cut, 95), "pan_db": pan,
              "fps_silent": round(silent, 2), "fps_speaking": round(spoken, 2),
              "fps_vs_silent": round(spoken / silent, 3), "trials": args.trials}
    for key, value in result.items():
        print(f"{key:18} {value}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
