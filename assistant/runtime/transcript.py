"""The JSONL record of what was said, when, and which boxes caused it; written line by line.

The file is locked while a run writes it (a second run is refused), never opened through a
link, and every line in it is whole. When a write fails (a full disk, `/dev/full`), the file is cut
back to the end of the last whole line, the transcript stops, and `warn` hears why, once;
speech goes on, and the run ends normally (exit 0).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

from ..core import ROUTINE, side_of_direction
from ..process import outputs
from ..speech.speaker import Spoken


class Transcript:
    """Appends one JSON line per spoken utterance. Safe to call from the speech thread."""

    def __init__(self, path: Path, warn: Callable[[str], None] = lambda message: None):
        self.path, self.warn = path, warn
        self._fd: int | None = outputs.open_appending(path, "--transcript")
        self._whole = 0  # bytes up to the end of the last whole line
        self._lock = threading.Lock()

    def write(self, spoken: Spoken) -> None:
        """One line: frame time and index, why it was said, its priority, whether it cut
        another phrase off (`interrupted`) or was cut off itself (`cut`), the frame's age when
        it was decided, how long it waited in the queue and how long it took to say, its text,
        its language and WAV, the photo it is about, and the boxes behind it."""
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
            "language": utterance.language,
            "wav": str(spoken.wav) if spoken.wav else None,
            "photo": utterance.photo or None,
            "objects": [s.to_json() for s in utterance.objects],
        }
        line = (json.dumps(record) + "\n").encode()
        with self._lock:
            if self._fd is None:
                return
            try:
                written = 0
                while written < len(line):
                    written += os.write(self._fd, line[written:])
                self._whole += written
            except OSError as exc:
                with contextlib.suppress(OSError):  # a device such as /dev/full cannot be cut back
                    os.ftruncate(self._fd, self._whole)
                self._close()
                self.warn(f"The transcript {self.path} stopped ({exc.strerror or exc}); its lines so far are whole, "
                          "and speech goes on.")

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._close()


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
            side = side_of_direction(obj["direction"])
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
