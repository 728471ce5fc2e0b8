"""What a speech backend is: the `Backend` protocol the speech worker drives, the `VoiceSettings`
it is configured with, the two exceptions backends raise, and the two that make no sound
(`NullBackend`, `PrintBackend`, which is also the speaker's last resort).

Every backend blocks in `speak` until the phrase is said; `stop` (from another thread) cuts it
off where the backend allows it. The backends that make sound are in `rendered_backends.py`
(panned speech, played or written to WAV) and `engine_backends.py` (engines that play their own
audio); `backend_factory.py` picks one from a --speech value.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..core import Utterance
from ..language import catalog as language
from ..process.run_context import StandardOutput
from ..process.shown import shown


class BackendUnavailable(Exception):
    """A backend cannot run here; the message says why in one sentence."""


class OutputClosed(Exception):
    """Standard output was closed by its reader (`| head -1`): there is no one left to print to."""


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How to speak: words per minute, a voice id or language code, and volume from 0 to 1; and
    where the sound is placed: `spatial` panning of `pan_strength` (0 to 1) over a camera of
    `hfov_deg`, and `earcons` ('hazard', 'all' or 'off'). `language` picks the voice when `voice`
    does not name one."""

    rate_wpm: int = 175
    voice: str | None = None
    volume: float = 1.0
    spatial: bool = True
    pan_strength: float = 1.0
    earcons: str = "hazard"
    hfov_deg: float = 60.0
    language: str = language.ENGLISH

    @property
    def voice_name(self) -> str:
        """The voice to ask for: the profile's own, else the one its language's files name (an
        espeak-ng voice name, which is also the language tag a system voice is matched by)."""
        return self.voice or language.load(self.language).voice

    def seconds_for(self, text: str) -> float:
        """About how long the text takes to say at this rate."""
        return len(text.split()) * 60 / self.rate_wpm


class Backend(Protocol):
    """A way to voice text. All but `stop` run on the speech worker thread; `speak` blocks until done.

    `stop` is called from other threads to cut off the current phrase; `interruptible` says
    whether it really can. `arm` clears a stop before the next phrase becomes current, so a stop
    that arrives before `speak` has started its sound still cuts it. `fresh` returns a new, unopened backend with the same settings.
    """

    interruptible: bool

    def open(self) -> None: ...

    def arm(self) -> None: ...

    def configure(self, settings: VoiceSettings) -> None: ...

    def speak(self, utterance: Utterance, number: int) -> Path | None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...

    def fresh(self) -> Backend: ...


class NullBackend:
    """Says nothing (for benchmarks and transcripts only)."""

    interruptible = True

    def open(self) -> None:
        pass

    def arm(self) -> None:
        pass

    def configure(self, settings: VoiceSettings) -> None:
        pass

    def speak(self, utterance: Utterance, number: int) -> Path | None:
        return None

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass

    def fresh(self) -> Backend:
        return type(self)()


class PrintBackend(NullBackend):
    """Prints each sentence on its own line, after the name of the photo it is about if any: for
    terminals and screen readers.

    When the reader closes stdout, it marks the run's `stdout` closed (its own, if not given one),
    which points it at the null device, and raises OutputClosed, now and for every sentence after.
    """

    def __init__(self, stdout: StandardOutput | None = None) -> None:
        self.stdout = stdout or StandardOutput()

    def speak(self, utterance: Utterance, number: int) -> None:
        if not self.stdout.closed:
            try:
                text = f"{utterance.photo}: {utterance.text}" if utterance.photo else utterance.text
                print(shown(text), file=sys.stdout, flush=True)
                return
            except BrokenPipeError:
                self.stdout.close()
        raise OutputClosed

    def fresh(self) -> Backend:
        return type(self)(self.stdout)
