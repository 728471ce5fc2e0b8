"""The speech worker: never blocks the caller, drops stale phrases, falls back to print; real espeak-ng WAVs."""

import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant import speech
from assistant.core import Utterance
from assistant.errors import AssistantError
from assistant.speech import (
    PrintBackend, Pyttsx3Backend, Speaker, VoiceSettings, WavBackend, make_backend, wav_seconds,
)


class SlowBackend(PrintBackend):
    """Takes `seconds` per phrase, recording what it said (a fake for the queue policy only)."""

    def __init__(self, seconds: float):
        self.seconds, self.said = seconds, []

    def speak(self, text: str, number: int) -> None:
        time.sleep(self.seconds)
        self.said.append(text)


def utt(text: str) -> Utterance:
    return Utterance(text, 0, 0)


def test_say_never_blocks_and_stale_phrases_are_dropped() -> None:
    backend = SlowBackend(0.5)
    speaker = Speaker(backend, max_queue=2, max_age_s=0.3)
    start = time.perf_counter()
    for i in range(20):
        speaker.say(utt(f"phrase {i}"))
    assert time.perf_counter() - start < 0.05
    speaker.close()
    # The worker may have taken phrase 0 at once; otherwise the queue kept the newest two, and
    # whatever still waits after 0.5 s of speech is too old to say.
    assert 1 <= len(backend.said) <= 2 and set(backend.said) <= {"phrase 0", "phrase 18", "phrase 19"}
    assert speaker.dropped == 20 - len(backend.said)


def test_close_drains_fresh_phrases_in_order() -> None:
    backend = SlowBackend(0.0)
    spoken = []
    speaker = Speaker(backend, on_spoken=lambda u, wav: spoken.append(u.text), max_queue=5)
    for text in ("one", "two", "three"):
        speaker.say(utt(text))
    speaker.close()
    assert spoken == backend.said == ["one", "two", "three"]


def test_no_audio_device_warns_once_and_prints(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(speech, "audio_output_available", lambda: False)
    warnings = []
    speaker = Speaker(Pyttsx3Backend(VoiceSettings()), warn=warnings.append)
    speaker.say(utt("a cup ahead"))
    speaker.say(utt("a dog on your left"))
    speaker.close()
    assert warnings == ["No audio output device was found; printing what would be said instead."]
    assert capsys.readouterr().out.splitlines() == ["a cup ahead", "a dog on your left"]


def test_failing_backend_falls_back_to_print(capsys: pytest.CaptureFixture) -> None:
    class Broken(PrintBackend):
        def speak(self, text: str, number: int) -> None:
            raise RuntimeError("device busy")

    warnings = []
    speaker = Speaker(Broken(), warn=warnings.append)
    speaker.say(utt("a chair ahead"))
    speaker.close()
    assert len(warnings) == 1 and "device busy" in warnings[0]
    assert capsys.readouterr().out == "a chair ahead\n"


def test_wav_backend_writes_real_speech_and_waits_its_length(tmp_path: Path) -> None:
    done = threading.Event()
    paths = []
    speaker = Speaker(WavBackend(tmp_path, VoiceSettings()), on_spoken=lambda u, wav: (paths.append(wav), done.set()))
    start = time.perf_counter()
    speaker.say(utt("a car on your left, about five metres"))
    assert done.wait(20)
    elapsed = time.perf_counter() - start
    speaker.close()
    (path,) = paths
    seconds = wav_seconds(path)
    assert 1.0 < seconds < 5.0
    assert elapsed >= seconds  # the worker waited out the audio, as a sound card would
    with wave.open(str(path)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert np.sqrt(np.mean(samples.astype(float) ** 2)) > 300  # not silence


@pytest.mark.parametrize("spec", ["pyttsx3", "print", "none", "wav:/tmp/x"])
def test_speech_specs(spec: str) -> None:
    make_backend(spec, VoiceSettings())


@pytest.mark.parametrize("spec", ["wav:", "loud", ""])
def test_bad_speech_spec(spec: str) -> None:
    with pytest.raises(AssistantError, match="Unknown speech output"):
        make_backend(spec, VoiceSettings())
