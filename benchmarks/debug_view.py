"""What the debug view costs: pipeline frame rate with --record against the same run without it.

Both runs use the car video, the default profile and silent speech; they are interleaved and
the best of --repeat is kept. Prints one line per run, then one JSON object. Usage:
    python benchmarks/debug_view.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from shared import VIDEOS  # noqa: E402  (first: it points the assistant at the shared models)

from assistant.config import models  # noqa: E402
from assistant.vision.detector import mediapipe_detectors  # noqa: E402
from assistant.runtime.loop import RunOptions, run  # noqa: E402
from assistant.config.rules import load_rules  # noqa: E402
from assistant.sources.source import open_source  # noqa: E402
from assistant.speech.speaker import Speaker  # noqa: E402
from assistant.speech.backends import NullBackend  # noqa: E402
from assistant.view.viewer import Viewer  # noqa: E402


def fps(video: Path, model: Path, record: Path | None) -> tuple[float, int]:
    """Frame rate of the real loop, with the debug view recording to `record` when given."""
    rules = load_rules()
    speaker = Speaker(NullBackend())
    with open_source(str(video)) as source:
        viewer = Viewer(record=record) if record else None
        show = (lambda report: viewer.show(report, speaker.queued, speaker.last_spoken)) if viewer else None
        stats = run(source, mediapipe_detectors(model), rules, speaker,
                    RunOptions(on_frame=show, candidates=0.1 if viewer else None))
        if viewer:
            viewer.close()
    speaker.close(drain=False)
    return stats.fps, viewer.frames_written if viewer else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=next(v for v in VIDEOS if v.suffix == ".mp4"))
    parser.add_argument("--repeat", type=int, default=2, help="runs of each kind, interleaved; the best is kept")
    args = parser.parse_args()
    model = models.resolve()
    best = {"plain": 0.0, "record": 0.0}
    written = 0
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeat):
            plain, _ = fps(args.video, model, None)
            recorded, written = fps(args.video, model, Path(tmp) / f"view{round_}.mp4")
            best["plain"], best["record"] = max(best["plain"], plain), max(best["record"], recorded)
            print(f"round {round_ + 1}: {plain:.2f} fps without the debug view, {recorded:.2f} fps recording it "
                  f"({written} frames written)", file=sys.stderr)
    print(json.dumps({
        "video": args.video.name,
        "plain_fps": round(best["plain"], 2),
        "record_fps": round(best["record"], 2),
        "record_vs_plain": round(best["record"] / best["plain"], 3),
        "frames_written": written,
    }))


if __name__ == "__main__":
    main()
