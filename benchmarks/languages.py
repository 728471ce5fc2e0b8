"""What speaking each language costs: wording time next to one detector frame, and speech onset.

- wording_us: the time to word one sentence (compose of a real photo's objects, an approach
  warning and a "gone"), per language, p50 and p95 over every sentence, against the detector's
  time for one frame measured on the same photos in the same run (`ratio_to_frame`, target <= 0.01).
- load_ms: the first use of a language (its catalog, nouns and CLDR rules), once per run.
- onset_ms: from `say()` of a short sentence in that language to its first sound at a PulseAudio
  null sink (espeak-ng --stdout, then PortAudio), p50 and p95; and the synthesis time alone.
Prints a table, then one JSON object as the last line.
Usage: python benchmarks/languages.py [--trials 10] [--repeats 200]
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
from shared import ROOT, SHARED  # noqa: E402  (first: it points the assistant at the shared models)

sys.path.insert(0, str(ROOT))
from audio import onsets  # noqa: E402  (benchmarks/audio.py: the same onset measurement)
from tests.servers import null_sink_server  # noqa: E402

from assistant.language import catalog as language
from assistant.config import models  # noqa: E402
from assistant.core import Frame  # noqa: E402
from assistant.vision.detector import Detector  # noqa: E402
from assistant.sources.imaging import read_image  # noqa: E402
from assistant.runtime.loop import voice_settings  # noqa: E402
from assistant.config.rules import Rules, load_rules  # noqa: E402
from assistant.config.style import Style  # noqa: E402
from assistant.narration.wording import approach_words, compose, gone_words, sightings_of  # noqa: E402

CODES = ("en", "es", "fr", "de", "pt")
PHOTOS = sorted((SHARED / "data" / "images").glob("*.jpg"))[:24]


def scenes(rules: Rules) -> tuple[list[list], float]:
    """Each photo's objects as the default profile sees them, and the detector's median ms per frame."""
    found, times = [], []
    with Detector(models.resolve(), video=False, score_threshold=rules.lowest_min_score,
                  labels=rules.labels) as detector:
        for path in PHOTOS:
            frame = Frame(read_image(path), 0, 0)
            start = time.perf_counter()
            detections = detector.detect(frame)
            times.append((time.perf_counter() - start) * 1000)
            found.append(sightings_of(detections, frame, rules))
    return [s for s in found if s], float(np.median(times))


def wording(style: Style, photos: list[list], repeats: int) -> list[float]:
    """Microseconds per sentence: each photo's sentence, an approach warning and a 'gone'."""
    per_sentence = []
    for sightings in photos:
        labels = [s.detection.label for s in sightings]
        for make in (lambda: compose(sightings, style), lambda: approach_words(sightings[0], style),
                     lambda: gone_words(labels, style)):
            start = time.perf_counter()
            for _ in range(repeats):
                make()
            per_sentence.append((time.perf_counter() - start) / repeats * 1e6)
    return per_sentence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="onset trials per language")
    parser.add_argument("--repeats", type=int, default=200, help="wordings of each sentence, timed together")
    args = parser.parse_args()
    default = load_rules("default")
    photos, frame_ms = scenes(default)

    def p(values: list[float], q: int) -> float:
        return round(float(np.percentile(values, q)), 1)

    result: dict = {"detector_ms_per_frame": round(frame_ms, 1), "photos": len(photos), "languages": {}}
    with tempfile.TemporaryDirectory() as folder, null_sink_server(Path(folder) / "pulse") as env:
        os.environ.update(env)
        for code in CODES:
            language.load.cache_clear()
            start = time.perf_counter()
            language.load(code)
            load_ms = (time.perf_counter() - start) * 1000
            rules = Rules(default.profile.model_copy(update={"language": code}), default.calibration)
            times = wording(rules.style, photos, args.repeats)
            sentence = compose(photos[0][:1], rules.style).text
            delays, synthesis = onsets(env, args.trials, voice_settings(rules.profile), sentence)
            result["languages"][code] = {
                "wording_us_p50": p(times, 50), "wording_us_p95": p(times, 95),
                "ratio_to_frame": round(float(np.percentile(times, 95)) / 1000 / frame_ms, 5),
                "load_ms": round(load_ms, 1), "onset_ms_p50": p(delays, 50), "onset_ms_p95": p(delays, 95),
                "synthesis_ms_p50": p(synthesis, 50), "sentence": sentence}
    print(f"detector {frame_ms:.1f} ms per frame over {len(photos)} photos with objects", file=sys.stderr)
    print(f"{'lang':5}{'wording us p50/p95':>20}{'x frame':>10}{'load ms':>9}{'onset ms p50/p95':>18}{'synth ms':>10}",
          file=sys.stderr)
    for code, row in result["languages"].items():
        print(f"{code:5}{row['wording_us_p50']:>11} / {row['wording_us_p95']:<6}{row['ratio_to_frame']:>10}"
              f"{row['load_ms']:>9}{row['onset_ms_p50']:>10} / {row['onset_ms_p95']:<6}{row['synthesis_ms_p50']:>10}"
              f"  {row['sentence']}", file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
