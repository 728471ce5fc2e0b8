"""The JSONL record of what was said, when, and which boxes caused it; flushed line by line."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

from .core import ROUTINE
from .errors import AssistantError
from .speech import Spoken


class Transcript:
    """Appends one JSON line per spoken utterance. Safe to call from the speech thread."""

    def __init__(self, path: Path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8")
        except OSError as exc:
            raise AssistantError(f"Cannot write the transcript {path}: {exc.strerror or exc}.") from None
        self._lock = threading.Lock()

    def write(self, spoken: Spoken) -> None:
        """One line: frame time and index, why it was said, its priority, whether it cut
        another phrase off (`interrupted`) or was cut off itself (`cut`), how long it waited
        in the queue and how long it took to say, its text and WAV, and the boxes behind it."""
        utterance = spoken.utterance
        record = {
            "t_ms": utterance.timestamp_ms,
            "frame": utterance.frame,
            "kind": utterance.kind,
            "priority": utterance.priority,
            "interrupted": spoken.interrupted,
            "cut": spoken.cut,
            "wait_ms": round((spoken.started_s - spoken.queued_s) * 1000, 1),
            "speak_ms": round((spoken.ended_s - spoken.started_s) * 1000, 1),
            "text": utterance.text,
            "wav": str(spoken.wav) if spoken.wav else None,
            "objects": [s.to_json() for s in utterance.objects],
        }
        with self._lock:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_transcript(path: Path) -> list[dict]:
    """The records of a transcript file, in order."""
    with path.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def static_repeats(records: list[dict], cooldown_s: Callable[[str], float]) -> int:
    """How often an object was announced again inside its class's cooldown with nothing new to say.

    The same object means the same track id, or (to catch a tracker losing it) the same class
    on the same side. Only "new" and "repeat" count: a change, approach, description or
    requested repeat has a reason.
    """
    last_said: dict[object, int] = {}
    count = 0
    for record in records:
        for obj in record["objects"]:
            side = obj["direction"].removeprefix("slightly ")
            keys = [("id", obj["track_id"]), ("place", obj["label"], side)]
            cooldown_ms = cooldown_s(obj["label"]) * 1000
            unprompted = record["kind"] == "new" or (record["kind"] == "repeat" and record["priority"] == ROUTINE)
            if unprompted and any(record["t_ms"] - last_said.get(k, -10**12) < cooldown_ms for k in keys):
                count += 1
            for key in keys:
                last_said[key] = record["t_ms"]
    return count
