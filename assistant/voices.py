"""Voices: the text-to-speech backends the speech worker drives, and how to pick one.

Every backend blocks in `speak` until the phrase is said; `stop` (from another thread) cuts it
off where the backend allows it. `make_backend` turns a --speech value into a backend.

The main path (`SoundBackend`) turns each clause into samples (espeak-ng --stdout on Linux,
pyttsx3's save_to_file elsewhere), pans them to their objects (`audio.py`) and plays them with
sounddevice (PortAudio), which can be stopped at once on every OS. Engines that play their own
audio (espeak-ng, pyttsx3) are the fallback where no PortAudio or output device is found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from . import audio, language, outputs
from .core import Utterance
from .errors import AssistantError
from .run_context import StandardOutput
from .shown import shown
from .speech_engines import (
    AUTO,
    ESPEAK,
    NONE,
    PRINT,
    PYTTSX3,
    SOUND,
    SPEECH_CHOICES,
    WAV,
    WAV_PREFIX,
    wav_folder,
)


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
    cue = None
    if utterance.kind == "approach" and settings.earcons in ("hazard", "all"):
        cue = audio.earcon("hazard", rate)
    elif utterance.kind == "new" and settings.earcons == "all":
        cue = audio.earcon("new", rate)
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
    """Writes the stereo, panned audio that would have been played, one WAV per utterance, then
    waits its length as a sound card would. `stop` ends the wait early, like cutting off playback."""

    def __init__(self, directory: Path, settings: VoiceSettings, output: outputs.Output | None = None):
        super().__init__(settings, EspeakSynthesizer(settings))
        self.directory = directory
        self.output = output or outputs.Output(f"Writing WAV files in {directory}")

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
        self._stopped.wait(len(stereo) / rate)
        return path if written else None

    def close(self) -> None:
        pass

    def fresh(self) -> Backend:
        return WavBackend(self.directory, self.settings, self.output)


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
        sounddevice._terminate()  # re-scan: PortAudio lists devices once, when it starts, and a
        sounddevice._initialize()  # sound server or headphones may have appeared since (sounddevice's advice)
        devices = sounddevice.query_devices()
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


def wav_seconds(path: Path) -> float:
    """A WAV file's length in seconds."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


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


def make_backend(spec: str, settings: VoiceSettings, note: Callable[[str], None] = lambda message: None,
                 warn: Callable[[str], None] = lambda message: None, stdout: StandardOutput | None = None) -> Backend:
    """A backend from a --speech value: one of SPEECH_CHOICES (`speech_engines.py`).

    `auto` plays panned speech through PortAudio (`sound`) where it finds an output device; else
    an engine that plays its own audio: espeak-ng on Linux when it is installed (it can be cut
    off for a hazard), pyttsx3 elsewhere. `note` hears once which path is in use (where nothing can
    play at all, the speaker's own fallback to printing is the one sentence said); `warn` hears
    once if the WAV files of `wav:DIR` stop (a full disk). `print` prints to the run's `stdout`.
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
        return WavBackend(folder, settings, outputs.Output(f"Writing WAV files in {folder}", warn))
    raise AssistantError(f"Unknown speech output {spec!r}; use {SPEECH_CHOICES}.")
