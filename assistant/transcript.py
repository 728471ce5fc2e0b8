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
        another phrase off (`interrupted`) or was cut off itself (`cut`), the frame's age when
        it was decided, how long it waited in the queue and how long it took to say, its text
        and WAV, and the boxes behind it."""
        utterance = spoken.utterance
        record = {
            "t_ms": utterance.timestamp_ms,
            "frame": utterance.frame,
            "kind": utterance.kind,
            "priority": utterance.priority,
            "interrupted": spoken.interrupted,
            "cut": spoken.cut,
            "age_ms": utterance.age_ms,
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
    on the same side, said by a track that is not in this sentence too. Only objects said as
    "new", or as a routine "repeat", count: a change, approach, description or requested
    repeat has a reason. Each object's own reason (`why`) decides, else the sentence's kind.
    """
    last_said: dict[tuple, tuple[int, int | None]] = {}  # key -> (when, by which track)
    count = 0
    for record in records:
        here = {obj["track_id"] for obj in record["objects"]}
        for obj in record["objects"]:
            side = obj["direction"].removeprefix("slightly ")
            keys = [("id", obj["track_id"]), ("place", obj["label"], side)]
            cooldown_ms = cooldown_s(obj["label"]) * 1000
            why = obj.get("why") or record["kind"]
            unprompted = why == "new" or (why == "repeat" and record["priority"] == ROUTINE)
            said_lately = [(key, last_said[key]) for key in keys
                           if key in last_said and record["t_ms"] - last_said[key][0] < cooldown_ms]
            if unprompted and any(key[0] == "id" or by not in here for key, (_, by) in said_lately):
                count += 1
            for key in keys:
                last_said[key] = (record["t_ms"], obj["track_id"])
    return count
