"""Where sound can go: whether this machine has a sound card or a desktop sound server, and which
PortAudio output the stereo speech plays through.

Checked when a backend opens, not at import, so a machine without PortAudio still runs (it
prints instead). `output_device` raises `BackendUnavailable` in one sentence when there is
nowhere to play; the one use of a private sounddevice API (a re-scan of the devices) is kept
alone in `_devices_now`.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .backends import BackendUnavailable


def output_device() -> str | int:
    """PortAudio's output for speech: the desktop sound server ('pulse', which PipeWire also serves)
    where PortAudio offers it, else its default output. BackendUnavailable when there is none."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when the PortAudio library is missing
        raise BackendUnavailable(f"PortAudio is not installed ({exc})") from None
    except ImportError as exc:
        raise BackendUnavailable(f"sounddevice cannot be imported ({exc})") from None
    card, server = linux_audio()
    if not (card or server):  # ALSA lists its virtual devices even where nothing can play them
        raise BackendUnavailable("No audio output device was found")
    try:
        devices = _devices_now(sounddevice)
    except Exception as exc:  # PortAudio errors when the host has no audio system at all
        raise BackendUnavailable(f"PortAudio found no audio system ({exc})") from None
    outputs = [(i, d["name"]) for i, d in enumerate(devices) if d["max_output_channels"] >= 2]
    if not outputs:
        raise BackendUnavailable("PortAudio found no stereo output device")
    named = [i for i, name in outputs if name == "pulse"]
    if server and named:
        return named[0]
    default = sounddevice.default.device[1]
    if default is None or default < 0 or default not in [i for i, _ in outputs]:
        return outputs[0][0]
    return default


def _devices_now(sounddevice) -> list[dict]:
    """PortAudio's devices as they are now. PortAudio lists devices once, when it starts, and a
    sound server or headphones may have appeared since; sounddevice has no public re-scan, so this
    restarts PortAudio through its private `_terminate` and `_initialize` (sounddevice's advice)."""
    sounddevice._terminate()
    sounddevice._initialize()
    return list(sounddevice.query_devices())


def linux_audio() -> tuple[bool, bool]:
    """Whether there is a sound card, and a PulseAudio/PipeWire server; both True off Linux, where
    the system's audio is always there."""
    if not sys.platform.startswith("linux"):
        return True, True
    snd = Path("/dev/snd")
    card = snd.is_dir() and any(p.name.startswith("pcm") for p in snd.iterdir())
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    server = bool(os.environ.get("PULSE_SERVER")) or bool(
        runtime and (Path(runtime, "pulse", "native").exists() or Path(runtime, "pipewire-0").exists())
    )
    return card, server


def audio_output_available() -> bool:
    """A sound card or server, plus (on Linux) aplay for pyttsx3's espeak driver."""
    card, server = linux_audio()
    return (card or server) and (not sys.platform.startswith("linux") or shutil.which("aplay") is not None)
