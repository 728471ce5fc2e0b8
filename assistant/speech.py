"""Speaking without blocking the camera: one worker thread owns the text-to-speech backend.

`Speaker.say()` only queues. The queue is short and phrases older than `max_age_s` are dropped
rather than spoken late. If a backend cannot start or fails, the worker warns once and prints instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .core import Utterance
from .errors import AssistantError

SPEECH_CHOICES = "pyttsx3, print, wav:DIR or none"


class BackendUnavailable(Exception):
    """A backend cannot run here; the message says why in one sentence."""


class Backend(Protocol):
    """A way to voice text. `open` and `speak` run on the worker thread; `speak` blocks until done."""

    def open(self) -> None: ...

    def speak(self, text: str, number: int) -> Path | None: ...

    def close(self) -> None: ...


class NullBackend:
    """Says nothing (for benchmarks and transcripts only)."""

    def open(self) -> None:
        pass

    def speak(self, text: str, number: int) -> None:
        return None

    def close(self) -> None:
        pass


class PrintBackend(NullBackend):
    """Prints each sentence on its own line: for terminals and screen readers."""

    def speak(self, text: str, number: int) -> None:
        print(text, file=sys.stdout, flush=True)


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How to speak: words per minute, a voice id or language code, and volume from 0 to 1."""

    rate_wpm: int = 175
    voice: str | None = None
    volume: float = 1.0


class WavBackend:
    """Writes one WAV per utterance with espeak-ng, then waits its length as a sound card would."""

    def __init__(self, directory: Path, settings: VoiceSettings):
        self.directory = directory
        self.settings = settings

    def open(self) -> None:
        if shutil.which("espeak-ng") is None:
            raise BackendUnavailable("espeak-ng is not installed, so no WAV files can be written")
        self.directory.mkdir(parents=True, exist_ok=True)

    def speak(self, text: str, number: int) -> Path:
        path = self.directory / f"utterance_{number:05d}.wav"
        voice = ["-v", self.settings.voice] if self.settings.voice else []
        amplitude = str(round(self.settings.volume * 100))  # espeak-ng's default amplitude is 100
        subprocess.run(
            ["espeak-ng", *voice, "-s", str(self.settings.rate_wpm), "-a", amplitude, "-w", str(path), "--", text],
            check=True, capture_output=True, timeout=30,
        )
        time.sleep(wav_seconds(path))
        return path

    def close(self) -> None:
        pass


class Pyttsx3Backend:
    """The platform's voice through pyttsx3. The engine is created on the worker thread."""

    def __init__(self, settings: VoiceSettings):
        self.settings = settings
        self._engine = None

    def open(self) -> None:
        if not audio_output_available():
            raise BackendUnavailable("No audio output device was found")
        try:
            import pyttsx3

            self._engine = pyttsx3.init()
        except Exception as exc:  # pyttsx3 raises many types when a driver or library is missing
            raise BackendUnavailable(f"No text-to-speech engine could start ({exc})") from exc
        self._engine.setProperty("rate", self.settings.rate_wpm)
        self._engine.setProperty("volume", self.settings.volume)
        if self.settings.voice:
            self._engine.setProperty("voice", self._voice_id(self.settings.voice))

    def _voice_id(self, wanted: str) -> str:
        """A voice by exact id, else the first whose language or id starts with the code (e.g. 'de')."""
        voices = self._engine.getProperty("voices")
        for voice in voices:
            if voice.id == wanted:
                return voice.id
        for voice in voices:
            languages = [lang.decode(errors="ignore") if isinstance(lang, bytes) else str(lang)
                         for lang in (voice.languages or [])]
            if any(lang.lstrip("\x05").startswith(wanted) for lang in languages) or wanted in voice.id:
                return voice.id
        raise BackendUnavailable(f"No installed voice matches {wanted!r}")

    def speak(self, text: str, number: int) -> None:
        self._engine.say(text)
        self._engine.runAndWait()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.stop()


def audio_output_available() -> bool:
    """On Linux, a sound card, or a PulseAudio/PipeWire server, plus aplay for pyttsx3's espeak driver."""
    if not sys.platform.startswith("linux"):
        return True
    snd = Path("/dev/snd")
    card = snd.is_dir() and any(p.name.startswith("pcm") for p in snd.iterdir())
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    server = bool(os.environ.get("PULSE_SERVER")) or bool(
        runtime and (Path(runtime, "pulse", "native").exists() or Path(runtime, "pipewire-0").exists())
    )
    return (card or server) and shutil.which("aplay") is not None


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def make_backend(spec: str, settings: VoiceSettings) -> Backend:
    """A backend from --speech: pyttsx3 | print | wav:DIR | none."""
    if spec == "pyttsx3":
        return Pyttsx3Backend(settings)
    if spec == "print":
        return PrintBackend()
    if spec == "none":
        return NullBackend()
    if spec.startswith("wav:") and len(spec) > 4:
        return WavBackend(Path(spec[4:]).expanduser(), settings)
    raise AssistantError(f"Unknown speech output {spec!r}; use {SPEECH_CHOICES}.")


class Speaker:
    """A single worker thread that voices queued utterances in order, dropping stale ones.

    `on_spoken(utterance, wav_path)` is called on the worker thread after each utterance is voiced;
    `warn(sentence)` is called once when the backend has to fall back to printing.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        on_spoken: Callable[[Utterance, Path | None], None] | None = None,
        warn: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
        max_queue: int = 2,
        max_age_s: float = 2.0,
    ):
        self.backend = backend
        self.on_spoken = on_spoken
        self.warn = warn
        self.max_age_s = max_age_s
        self.spoken = 0
        self.dropped = 0
        self._queue: deque[tuple[Utterance, float]] = deque()
        self._max_queue = max_queue
        self._wake = threading.Condition()
        self._closing = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
        self._thread.start()

    def say(self, utterance: Utterance) -> None:
        """Queue an utterance and return at once; the oldest waiting one is dropped if the queue is full."""
        with self._wake:
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append((utterance, time.monotonic()))
            self._wake.notify()

    def close(self, drain: bool = True, timeout_s: float = 30.0) -> None:
        """Stop the worker; with `drain`, first voice what is queued and still fresh."""
        with self._wake:
            if not drain:
                self.dropped += len(self._queue)
                self._queue.clear()
            self._closing = True
            self._wake.notify()
        self._thread.join(timeout_s)

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        """Block until the backend has started (or fallen back to printing)."""
        self._ready.wait(timeout_s)

    def _run(self) -> None:
        self._start_backend()
        self._ready.set()
        while True:
            with self._wake:
                while not self._queue and not self._closing:
                    self._wake.wait()
                if not self._queue:
                    break
                utterance, queued_at = self._queue.popleft()
                if time.monotonic() - queued_at > self.max_age_s:
                    self.dropped += 1  # under the lock: say() counts drops from the camera thread
                    continue
            self._voice(utterance)
        self.backend.close()

    def _start_backend(self) -> None:
        try:
            self.backend.open()
        except Exception as exc:
            self._fall_back(str(exc))

    def _fall_back(self, reason: str) -> None:
        self.warn(f"{reason.rstrip('.')}; printing what would be said instead.")
        self.backend = PrintBackend()

    def _voice(self, utterance: Utterance) -> None:
        self.spoken += 1
        try:
            wav = self.backend.speak(utterance.text, self.spoken)
        except Exception as exc:
            self._fall_back(f"Speech failed ({exc})")
            wav = self.backend.speak(utterance.text, self.spoken)
        if self.on_spoken is not None:
            self.on_spoken(utterance, wav)
