"""Turning a --speech value (one of SPEECH_CHOICES, `speech_engines.py`) into a backend.

`auto` plays panned speech through PortAudio (`sound`) where it finds an output device; else an
engine that plays its own audio: espeak-ng on Linux when it is installed (it can be cut off for
a hazard), pyttsx3 elsewhere. `wav:DIR` is checked for writing here, before the run begins.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import AssistantError
from ..process import outputs
from ..process.run_context import StandardOutput
from .backends import (
    Backend,
    BackendUnavailable,
    NullBackend,
    PrintBackend,
    VoiceSettings,
)
from .devices import audio_output_available, output_device
from .engine_backends import EspeakBackend, Pyttsx3Backend
from .engine_names import (
    AUTO,
    ESPEAK,
    NONE,
    PRINT,
    PYTTSX3,
    SOUND,
    SPEECH_CHOICES,
    wav_folder,
)
from .rendered_backends import SoundBackend, WavBackend


def make_backend(spec: str, settings: VoiceSettings, note: Callable[[str], None] = lambda message: None,
                 warn: Callable[[str], None] = lambda message: None, stdout: StandardOutput | None = None,
                 paced: bool = True) -> Backend:
    """A backend from a --speech value. `note` hears once which path is in use (where nothing can
    play at all, the speaker's own fallback to printing is the one sentence said); `warn` hears
    once if the WAV files of `wav:DIR` stop (a full disk). `print` prints to the run's `stdout`.
    `wav:DIR` waits each sentence's length, as a sound card would, only if `paced` (WavBackend).
    """
    if spec == AUTO:
        try:
            if sys.platform.startswith("linux") and shutil.which("espeak-ng") is None:
                raise BackendUnavailable("espeak-ng is not installed, so speech cannot be made into stereo audio")
            device = output_device()
        except BackendUnavailable as exc:
            spec = ESPEAK if sys.platform.startswith("linux") and shutil.which("espeak-ng") else PYTTSX3
            if audio_output_available():  # else that engine cannot play either: the speaker says it prints instead
                note(f"{str(exc).rstrip('.')}; speaking through {spec}, not in stereo, without earcons.")
        else:
            note("Speaking in stereo through PortAudio" + ("" if settings.spatial else " (spatial speech off)") + ".")
            return SoundBackend(settings, device)
    if spec == SOUND:
        return SoundBackend(settings)
    if spec == ESPEAK:
        return EspeakBackend(settings)
    if spec == PYTTSX3:
        return Pyttsx3Backend(settings)
    if spec == PRINT:
        return PrintBackend(stdout)
    if spec == NONE:
        return NullBackend()
    wanted = wav_folder(spec)
    if wanted is not None:
        folder = writable_folder(wanted)
        return WavBackend(folder, settings, outputs.Output(f"Writing WAV files in {folder}", warn), paced)
    raise AssistantError(f"Unknown speech output {spec!r}; use {SPEECH_CHOICES}.")


def writable_folder(path: Path) -> Path:
    """A folder that WAV files can be written into, made if need be; AssistantError in one sentence if not."""
    if path.exists() and not path.is_dir():
        raise AssistantError(f"--speech wav:{path} is a file; give a folder for the WAV files.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise AssistantError(f"Cannot write WAV files in {path}: {exc.strerror or exc}.") from None
    return path
