"""The checks `assistant run` makes on its options before anything starts, each failing with one
sentence for the person at the command line (an AssistantError, exit 2): numbers in range,
outputs that would replace an input or each other, and a voice for the profile's language in the
engine that will speak.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
from pathlib import Path

from ..config import calibration
from ..config.profile import MAX_FPS
from ..config.profile_files import profile_files
from ..errors import AssistantError
from ..language import catalog as language
from ..process import outputs
from ..speech.backends import BackendUnavailable, VoiceSettings
from ..speech.factory import writable_folder
from ..speech.engine_names import (
    AUTO,
    ESPEAK,
    PYTTSX3,
    SOUND,
    WAV,
    WAV_PREFIX,
    wav_folder,
)
from ..speech.synthesis import pyttsx3_voice


def check_run_numbers(args: argparse.Namespace) -> None:
    """Refuse a time, rate or frame count of `run` that is out of range."""
    check_number("--give-up-s", args.give_up_s, unit=" seconds")
    check_number("--half-life", args.half_life, unit=" seconds")
    check_number("--max-fps", args.max_fps, most=MAX_FPS)
    if args.max_frames is not None and args.max_frames < 1:
        raise AssistantError(f"--max-frames must be 1 or more, not {args.max_frames}.")


def check_number(option: str, value: float | None, most: float = math.inf, unit: str = "") -> None:
    """AssistantError unless `value` (None: not given) is a finite number more than 0 and at most `most`."""
    if value is not None and not (math.isfinite(value) and 0 < value <= most):
        below = f" and at most {most:g}" if math.isfinite(most) else ""
        raise AssistantError(f"{option} must be more than 0{below}{unit}, not {value:g}.")


def check_run_outputs(args: argparse.Namespace, model_path: Path, speech: str) -> None:
    """Refuse any output of `run` (speaking through `speech`) that would replace one of its inputs
    or another of its outputs."""
    from ..sources.source import is_camera_index, is_url

    source = args.source or "0"
    reads = model_inputs(args.profile, model_path)
    if not is_camera_index(source) and not is_url(source):
        from ..sources.imaging import images_in

        reads += images_in(Path(source).expanduser())
    targets = [outputs.Target(option, Path(path), streamed=option == "--transcript")
               for option, path in (("--transcript", args.transcript), ("--record", args.record)) if path]
    if args.snapshots:
        targets.append(outputs.Target("--snapshots", Path(args.snapshots), outputs.SNAPSHOT_NAMES))
    wav = wav_folder(speech)
    if wav is not None:
        targets.append(outputs.Target("--speech wav:", wav, outputs.WAV_NAMES))
    outputs.check(reads, targets)
    if wav is not None:
        writable_folder(wav)  # refused now, not after the source has been opened
    if args.record:
        from ..sources.imaging import opencv_path

        opencv_path(args.record)  # refused now, not after the run has begun


def model_inputs(profile_spec: str | None, model_path: Path) -> list[Path]:
    """The files a command reads besides its media: the profile and every file it extends, the model
    and its calibration."""
    found = calibration.find(model_path)
    return [*profile_files(profile_spec), model_path, *([found] if found else [])]


def require_voice(spec: str, settings: VoiceSettings) -> None:
    """AssistantError, in one English sentence, when the engine `spec` will speak through has no
    voice for the profile's language (or its named voice); checked once, at start."""
    linux = sys.platform.startswith("linux")
    name = language.load(settings.language).locale.english_name
    whose = f"voice named {settings.voice!r}" if settings.voice else f"voice for {name} ({settings.language})"
    if spec in (ESPEAK, WAV) or spec.startswith(WAV_PREFIX) or (spec in (AUTO, SOUND) and linux):
        if shutil.which("espeak-ng") is None:
            return  # nothing to ask: the fallback, or the backend as it opens, says so
        result = subprocess.run(["espeak-ng", "-q", "-v", settings.voice_name, "."], capture_output=True, timeout=30)
        if result.returncode != 0:
            raise AssistantError(f"espeak-ng has no {whose}; install it (espeak-ng-data) or change the profile's "
                                 "language or voice.")
    elif spec in (PYTTSX3, AUTO, SOUND):
        try:
            import pyttsx3

            engine = pyttsx3.init()
        except Exception:  # no engine at all: the backend's own fallback says so as it opens
            return
        try:
            pyttsx3_voice(engine, settings.voice_name)
        except BackendUnavailable:
            raise AssistantError(f"The system's text-to-speech has no {whose}; install one (on Windows: Settings, "
                                 "Time & language, Speech) or change the profile's language or voice.") from None
