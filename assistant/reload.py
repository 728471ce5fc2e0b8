"""Live reload: notice a saved profile file by its modification time and load it again."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from .calibration import Calibration
from .profile import Profile, load_profile


class ProfileWatcher:
    """`poll()` returns a new Profile after the file changes and None otherwise; an invalid edit raises
    ProfileError. It stats the file at most every `interval_s` and never reads an unchanged file.
    """

    def __init__(self, path: Path, known_labels: Iterable[str] | None = None, interval_s: float = 0.25,
                 calibration: Calibration | None = None):
        self.path = path
        self.known_labels = tuple(known_labels) if known_labels is not None else None
        self.calibration = calibration
        self.interval_s = interval_s
        self._stamp = self._stat()
        self._next_check = time.monotonic() + interval_s

    def _stat(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def poll(self) -> Profile | None:
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + self.interval_s
        stamp = self._stat()
        if stamp == self._stamp or stamp is None:  # unchanged, or mid-save (the editor replaced the file)
            return None
        self._stamp = stamp
        return load_profile(str(self.path), self.known_labels, calibration=self.calibration)
