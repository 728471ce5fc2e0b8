"""The JSONL record of what was said, when, and which boxes caused it; flushed line by line."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from .core import Utterance
from .errors import AssistantError


class Transcript:
    """Appends one JSON line per spoken utterance. Safe to call from the speech thread."""

    def __init__(self, path: Path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8")
        except OSError as exc:
            raise AssistantError(f"Cannot write the transcript {path}: {exc.strerror or exc}.") from None
        self._lock = threading.Lock()

    def write(self, utterance: Utterance, wav: Path | None) -> None:
        record = {
            "t_ms": utterance.timestamp_ms,
            "frame": utterance.frame,
            "text": utterance.text,
            "wav": str(wav) if wav else None,
            "objects": [s.to_json() for s in utterance.objects],
        }
        with self._lock:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
