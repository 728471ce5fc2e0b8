"""Text to samples: the synthesizers behind the backends that place speech in stereo, and
`render`, which turns a sentence into its panned stereo audio (an earcon first where
`audio.earcon_for` says so).

`EspeakSynthesizer` runs `espeak-ng --stdout` (Linux); `Pyttsx3Synthesizer` saves each phrase
with pyttsx3 (SAPI5 on Windows, the system voices on macOS) and reads it back. The flags and the
voice lookup the engine backends share (`espeak_options`, `pyttsx3_voice`) are here too.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..core import Utterance
from . import audio
from .backends import BackendUnavailable, VoiceSettings

Synthesize = Callable[[str], tuple[np.ndarray, int]]


def render(utterance: Utterance, settings: VoiceSettings, synthesize: Synthesize) -> tuple[np.ndarray, int]:
    """The stereo audio of a sentence: an earcon where the settings ask, then each clause panned."""
    if settings.spatial:
        parts = [(clause.text, audio.pan_of(clause.sighting, settings.hfov_deg, settings.pan_strength))
                 for clause in audio.clauses(utterance)]
    else:
        parts = [(utterance.text, 0.0)]
    voiced, rate = [], 22050
    for text, pan in parts:
        samples, rate = synthesize(text)
        voiced.append((samples, pan))
    name = audio.earcon_for(utterance.kind, settings.earcons)
    cue = audio.earcon(name, rate) if name else None
    return audio.assemble(voiced, rate, cue, voiced[0][1] if voiced else 0.0), rate


class EspeakSynthesizer:
    """Text to samples with `espeak-ng --stdout`."""

    def __init__(self, settings: VoiceSettings):
        self.settings = settings

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        result = subprocess.run(["espeak-ng", *espeak_options(self.settings), "--stdout", "--", text],
                                capture_output=True, timeout=30)
        if result.returncode != 0:
            reason = result.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"espeak-ng exited {result.returncode}" + (f": {reason}" if reason else ""))
        try:
            samples, rate = audio.read_wav(result.stdout)
        except (EOFError, ValueError, wave.Error) as exc:
            raise RuntimeError(f"espeak-ng wrote no readable audio ({exc or type(exc).__name__})") from exc
        if len(samples) == 0:
            raise RuntimeError("espeak-ng exited 0 but wrote an empty WAV")
        return samples, rate


class Pyttsx3Synthesizer:
    """Text to samples with pyttsx3's save_to_file (SAPI5 on Windows, the system voices on macOS),
    read back with soundfile. The engine is made on the speech worker thread."""

    def __init__(self, settings: VoiceSettings):
        self.settings = settings
        self._engine = None
        self._voice_for: str | None = None  # the voice or language the engine's voice was chosen for

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        import soundfile

        if self._engine is None:
            import pyttsx3

            self._engine = pyttsx3.init()
        self._voice_for = use_voice(self._engine, self.settings.voice_name, self._voice_for)
        self._engine.setProperty("rate", self.settings.rate_wpm)
        self._engine.setProperty("volume", self.settings.volume)
        suffix = ".aiff" if sys.platform == "darwin" else ".wav"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"phrase{suffix}"
            self._engine.save_to_file(text, str(path))
            self._engine.runAndWait()
            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return samples.mean(axis=1), int(rate)


def use_voice(engine: object, wanted: str, chosen_for: str | None) -> str:
    """Give a pyttsx3 engine the voice for `wanted` unless its voice was already chosen for it (first
    use, or a reloaded profile that speaks another language); returns what it is now chosen for."""
    if wanted != chosen_for:
        engine.setProperty("voice", pyttsx3_voice(engine, wanted))
    return wanted


def pyttsx3_voice(engine: object, wanted: str) -> str:
    """A pyttsx3 voice by exact id, else one for the language tag ('pt-br', then 'pt'): the engine's
    default voice if it fits, else the first that does. BackendUnavailable when none does."""
    voices = engine.getProperty("voices")
    for voice in voices:
        if voice.id == wanted:
            return voice.id

    def tags(voice: object) -> list[str]:
        languages = [lang.decode(errors="ignore") if isinstance(lang, bytes) else str(lang)
                     for lang in (voice.languages or [])]
        return [lang.lstrip("\x05").lower().replace("_", "-") for lang in languages]

    default = engine.getProperty("voice")
    tag = wanted.lower().replace("_", "-")
    for code in dict.fromkeys((tag, tag.split("-")[0])):
        for voice in sorted(voices, key=lambda v: v.id != default):
            if any(t == code or t.startswith(code + "-") for t in tags(voice)) or voice.id.lower().endswith("/" + code):
                return voice.id
    raise BackendUnavailable(f"No installed voice speaks {wanted!r}")


def espeak_options(settings: VoiceSettings) -> list[str]:
    """espeak-ng's voice, rate and amplitude flags (its default amplitude is 100)."""
    return ["-v", settings.voice_name, "-s", str(settings.rate_wpm), "-a", str(round(settings.volume * 100))]
