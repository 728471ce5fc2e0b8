"""Live reload: notice a saved profile file by its modification time and load it again."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..config.calibration import Calibration
from ..config.rules import Rules, load_rules

MISSING_GRACE_S = 1.0  # an editor that saves by delete-then-write leaves no file for less than this


class ProfileWatcher:
    """`poll()` returns the new profile's Rules (under the model's `calibration`) after the file changes
    and None otherwise; an invalid edit raises ProfileError. It stats the file at most every
    `interval_s` and never reads an unchanged file. A file gone for `grace_s` is told to `warn`
    once (the settings in use are kept) until it is back.
    """

    def __init__(self, path: Path, known_labels: Iterable[str] | None = None, interval_s: float = 0.25,
                 calibration: Calibration | None = None, warn: Callable[[str], None] = lambda message: None,
                 grace_s: float = MISSING_GRACE_S):
        self.path = path
        self.known_labels = tuple(known_labels) if known_labels is not None else None
        self.calibration = calibration
        self.interval_s = interval_s
        self.warn = warn
        self.grace_s = grace_s
        self._stamp = self._stat()
        self._next_check = time.monotonic() + interval_s
        self._missing_since: float | None = None  # when the file was first found gone
        self._told = False

    def _stat(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def poll(self) -> Rules | None:
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + self.interval_s
        stamp = self._stat()
        if stamp is None:  # mid-save (the editor replaced the file), or deleted
            self._missing(now)
            return None
        self._missing_since, self._told = None, False
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        return load_rules(str(self.path), self.known_labels, calibration=self.calibration)

    def _missing(self, now: float) -> None:
        """Warn once when the file has been gone longer than a save takes."""
        if self._missing_since is None:
            self._missing_since = now
        if not self._told and now - self._missing_since >= self.grace_s:
            self._told = True
            self.warn(f"The profile {self.path} was deleted; the settings it gave are kept until it is back.")
