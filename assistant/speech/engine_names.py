"""The speech engines by name, and the rates a voice can be set to: one list for the profile's
`voice.engine` and `voice.rate`, the command line's --speech and the backend factory (`backend_factory.py`).

A profile names `wav` and its files go to DEFAULT_WAV_FOLDER; --speech names a folder of its own
(`wav:DIR`).
"""

from __future__ import annotations

from pathlib import Path

ENGINES = ("auto", "sound", "espeak", "pyttsx3", "print", "wav", "none")
AUTO, SOUND, ESPEAK, PYTTSX3, PRINT, WAV, NONE = ENGINES
WAV_PREFIX = WAV + ":"
DEFAULT_WAV_FOLDER = "speech-wav"
MIN_RATE_WPM, MAX_RATE_WPM = 80, 450  # words per minute: a profile's rate, and the keys' faster and slower

_SPOKEN = [f"{WAV_PREFIX}DIR" if engine == WAV else engine for engine in ENGINES]
SPEECH_CHOICES = ", ".join(_SPOKEN[:-1]) + " or " + _SPOKEN[-1]  # for --speech's help and errors


def speech_spec(engine: str) -> str:
    """The --speech value a profile's engine stands for: its `wav` writes to DEFAULT_WAV_FOLDER."""
    return WAV_PREFIX + DEFAULT_WAV_FOLDER if engine == WAV else engine


def wav_folder(spec: str) -> Path | None:
    """The folder a --speech of `wav:DIR` writes into (None for any other value, and for a bare `wav:`)."""
    if not spec.startswith(WAV_PREFIX) or spec == WAV_PREFIX:
        return None
    return Path(spec[len(WAV_PREFIX):]).expanduser()
