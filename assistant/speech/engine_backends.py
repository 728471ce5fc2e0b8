"""The fallback backends: speech engines that play their own audio, used where no PortAudio or
output device is found. `EspeakBackend` runs espeak-ng as a child process (stopped by ending it);
`Pyttsx3Backend` uses the platform's voice through pyttsx3 (which cannot be cut off on Linux).
Neither places speech in stereo nor plays earcons.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading

from ..core import Utterance
from .backends import Backend, BackendUnavailable, VoiceSettings
from .devices import audio_output_available
from .synthesis import espeak_options, use_voice


class EspeakBackend:
    """espeak-ng as a child process playing to the sound device; stopping it terminates the process."""

    interruptible = True

    def __init__(self, settings: VoiceSettings):
        self.settings = settings
        self._process: subprocess.Popen | None = None
        self._stop_pending = False
        self._lock = threading.Lock()

    def open(self) -> None:
        if shutil.which("espeak-ng") is None:
            raise BackendUnavailable("espeak-ng is not installed")
        if not audio_output_available():
            raise BackendUnavailable("No audio output device was found")

    def arm(self) -> None:
        with self._lock:
            self._stop_pending = False

    def configure(self, settings: VoiceSettings) -> None:
        self.settings = settings

    def speak(self, utterance: Utterance, number: int) -> None:
        with self._lock:
            if self._stop_pending:
                return  # cut off before it began
            process = self._process = subprocess.Popen(
                ["espeak-ng", *espeak_options(self.settings), "--", utterance.text],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        _, error = process.communicate()
        if process.returncode > 0:
            raise RuntimeError(error.decode(errors="replace").strip() or f"espeak-ng exited {process.returncode}")

    def stop(self) -> None:
        with self._lock:
            self._stop_pending = True
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()

    def close(self) -> None:
        self.stop()

    def fresh(self) -> Backend:
        return EspeakBackend(self.settings)


class Pyttsx3Backend:
    """The platform's voice through pyttsx3. The engine is created on the worker thread.

    On Linux pyttsx3 plays through `aplay`, which `stop()` cannot cut off, so it is not
    interruptible there; SAPI5 (Windows) and NSSpeechSynthesizer (macOS) honour `stop()`.
    """

    interruptible = not sys.platform.startswith("linux")

    def __init__(self, settings: VoiceSettings):
        self.settings = settings
        self._engine = None
        self._voice_for: str | None = None

    def open(self) -> None:
        if not audio_output_available():
            raise BackendUnavailable("No audio output device was found")
        try:
            import pyttsx3

            self._engine = pyttsx3.init()
        except Exception as exc:  # pyttsx3 raises many types when a driver or library is missing
            raise BackendUnavailable(f"No text-to-speech engine could start ({exc})") from exc
        self.configure(self.settings)

    def arm(self) -> None:
        pass

    def configure(self, settings: VoiceSettings) -> None:
        self.settings = settings
        if self._engine is not None:
            self._engine.setProperty("rate", settings.rate_wpm)
            self._engine.setProperty("volume", settings.volume)
            self._voice_for = use_voice(self._engine, settings.voice_name, self._voice_for)

    def speak(self, utterance: Utterance, number: int) -> None:
        self._engine.say(utterance.text)
        self._engine.runAndWait()

    def stop(self) -> None:
        if self._engine is not None and self.interruptible:
            self._engine.stop()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.stop()

    def fresh(self) -> Backend:
        return Pyttsx3Backend(self.settings)
