"""The backends that render each sentence to panned stereo samples themselves (`synthesis.py`),
so it can be placed at its objects, led by an earcon and cut off at once: `SoundBackend` plays it
through PortAudio (sounddevice), the main path on every OS; `WavBackend` writes it to one WAV file
per sentence and waits its length, as a sound card would.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np

from ..core import Utterance
from ..process import outputs
from . import audio
from .backends import Backend, BackendUnavailable, VoiceSettings
from .devices import output_device
from .synthesis import EspeakSynthesizer, Pyttsx3Synthesizer, render


class _Rendered:
    """What the backends that render a sentence to stereo samples share: their settings, the
    synthesizer that makes the samples, and a stop that ends the playback (or its wait) early."""

    interruptible = True

    def __init__(self, settings: VoiceSettings, synthesizer: EspeakSynthesizer | Pyttsx3Synthesizer):
        self.settings = settings
        self._synthesizer = synthesizer
        self._stopped = threading.Event()

    def arm(self) -> None:
        self._stopped.clear()

    def configure(self, settings: VoiceSettings) -> None:
        self.settings = self._synthesizer.settings = settings

    def render(self, utterance: Utterance) -> tuple[np.ndarray, int]:
        return render(utterance, self.settings, self._synthesizer.synthesize)

    def stop(self) -> None:
        self._stopped.set()


class WavBackend(_Rendered):
    """Writes the stereo, panned audio that would have been played, one WAV per utterance. `paced`,
    it then waits its length as a sound card would, and `stop` ends the wait early, like cutting off
    playback: what a live run drops as stale or cuts off is what it would be aloud. A file or photo
    run says one sentence at a time on the media's clock, so it writes them unpaced, at once."""

    def __init__(self, directory: Path, settings: VoiceSettings, output: outputs.Output | None = None,
                 paced: bool = True):
        super().__init__(settings, EspeakSynthesizer(settings))
        self.directory = directory
        self.output = output or outputs.Output(f"Writing WAV files in {directory}")
        self.paced = paced

    def open(self) -> None:
        if shutil.which("espeak-ng") is None:
            raise BackendUnavailable("espeak-ng is not installed, so no WAV files can be written")
        self.directory.mkdir(parents=True, exist_ok=True)

    def speak(self, utterance: Utterance, number: int) -> Path | None:
        """The WAV written, or None once a full disk has stopped them (the wait goes on, as speech would)."""
        path = self.directory / f"utterance_{number:05d}.wav"
        stereo, rate = self.render(utterance)
        if len(stereo) == 0:
            raise RuntimeError(f"espeak-ng exited 0 but wrote an empty WAV for {utterance.text!r}")
        written = self.output.replace(path, audio.wav_bytes(stereo, rate))
        if self.paced:
            self._stopped.wait(len(stereo) / rate)
        return path if written else None

    def close(self) -> None:
        pass

    def fresh(self) -> Backend:
        return WavBackend(self.directory, self.settings, self.output, self.paced)


class SoundBackend(_Rendered):
    """Synthesized, panned speech played through PortAudio (sounddevice); `stop` aborts playback at once."""

    def __init__(self, settings: VoiceSettings, device: str | int | None = None):
        super().__init__(settings, EspeakSynthesizer(settings) if shutil.which("espeak-ng")
                         else Pyttsx3Synthesizer(settings))
        self.device = device

    def open(self) -> None:
        self.device = self.device if self.device is not None else output_device()

    def speak(self, utterance: Utterance, number: int) -> None:
        import sounddevice

        stereo, rate = self.render(utterance)
        if self._stopped.is_set():
            return  # cut off before it began
        sounddevice.play(stereo, rate, device=self.device, latency="high")  # fewer underruns; stop() still aborts at once
        if self._stopped.wait(len(stereo) / rate):
            sounddevice.stop()  # cut off: abort, dropping what is buffered
        else:
            sounddevice.wait()

    def close(self) -> None:
        self.stop()

    def fresh(self) -> Backend:
        return SoundBackend(self.settings, self.device)
