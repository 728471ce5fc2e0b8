"""The speech worker and the voices: never blocks the caller, most urgent first, drops stale phrases,
interrupts only for hazards, restarts and falls back to print; real espeak-ng WAVs and real-time audio."""

import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.speech import engine_backends
from assistant.speech.factory import make_backend
from assistant.core import HAZARD, REQUESTED, ROUTINE, URGENT, Utterance
from assistant.speech.engine_backends import EspeakBackend, Pyttsx3Backend
from assistant.errors import AssistantError
from assistant.speech.rendered_backends import WavBackend
from assistant.speech.speaker import Speaker
from assistant.speech.backends import PrintBackend, VoiceSettings
from assistant.speech.engine_names import ENGINES, SPEECH_CHOICES, speech_spec

from .conftest import wav_seconds


class SlowBackend(PrintBackend):
    """Takes `seconds` per phrase unless stopped, recording what it said (a fake for queue policy only)."""

    def __init__(self, seconds: float, interruptible: bool = True):
        self.seconds, self.said, self.interruptible = seconds, [], interruptible
        self._stopped = threading.Event()

    def arm(self) -> None:
        self._stopped.clear()

    def speak(self, utterance: Utterance, number: int) -> None:
        self._stopped.wait(self.seconds)
        self.said.append(utterance.text)

    def stop(self) -> None:
        self._stopped.set()


def utt(text: str, priority: int = ROUTINE, interrupt: bool = False) -> Utterance:
    return Utterance(text, 0, 0, priority=priority, interrupt=interrupt)


def wait_until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


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


def test_a_stale_phrase_is_dropped_not_spoken_late() -> None:
    backend = SlowBackend(0.6)
    speaker = Speaker(backend, max_age_s=0.3)
    speaker.say(utt("a cup ahead"))
    wait_until(lambda: speaker.busy)
    speaker.say(utt("a chair on your left"))  # waits 0.6 s behind the cup: stale by then
    speaker.close()
    assert backend.said == ["a cup ahead"] and speaker.dropped == 1


def test_close_drains_fresh_phrases_in_order() -> None:
    backend = SlowBackend(0.0)
    spoken = []
    speaker = Speaker(backend, on_spoken=lambda record: spoken.append(record.utterance.text), max_queue=5)
    for text in ("one", "two", "three"):
        speaker.say(utt(text))
    speaker.close()
    assert spoken == backend.said == ["one", "two", "three"]


@pytest.mark.parametrize(("max_queue", "queued", "said", "dropped"), [
    # more urgent phrases go first, then the user's requests, then routine ones
    (5, [("a chair on your right", ROUTINE), ("what you asked for", REQUESTED), ("a bicycle on your left", HAZARD)],
     ["a bicycle on your left", "what you asked for", "a chair on your right"], 0),
    # a full queue drops the least urgent first
    (2, [("routine", ROUTINE), ("hazard one", HAZARD), ("hazard two", HAZARD)], ["hazard one", "hazard two"], 1),
])
def test_queue_order_and_overflow_by_priority(max_queue: int, queued: list, said: list, dropped: int) -> None:
    backend = SlowBackend(0.3)
    speaker = Speaker(backend, max_queue=max_queue)
    speaker.say(utt("speaking"))
    wait_until(lambda: speaker.busy)
    for text, priority in queued:
        speaker.say(utt(text, priority=priority))
    speaker.close()
    assert backend.said == ["speaking", *said] and speaker.dropped == dropped


@pytest.mark.parametrize(("priority", "interrupt", "interruptible", "cut"), [
    (URGENT, True, True, True),  # a hazard cuts off a routine sentence
    (ROUTINE, False, True, False),  # nothing else does
    (URGENT, True, False, False),  # and nothing can when the backend cannot stop
])
def test_only_hazards_interrupt_and_only_stoppable_backends(priority: int, interrupt: bool, interruptible: bool,
                                                            cut: bool) -> None:
    backend = SlowBackend(1.0, interruptible=interruptible)
    records = []
    speaker = Speaker(backend, on_spoken=records.append, max_age_s=5)
    speaker.say(utt("a chair on your right, about three metres"))
    wait_until(lambda: speaker.busy)
    speaker.say(utt("car approaching on your left", priority=priority, interrupt=interrupt))
    speaker.close()
    chair, car = records
    assert (chair.cut, car.interrupted) == (cut, cut)
    assert (chair.ended_s - chair.started_s < 0.6) == cut


def test_a_hazard_cuts_off_real_speech_about_a_chair(tmp_path: Path) -> None:
    records = []
    speaker = Speaker(WavBackend(tmp_path, VoiceSettings()), on_spoken=records.append)
    speaker.say(utt("a chair on your right, about three metres, next to a table and a cup"))
    wait_until(lambda: speaker.busy)
    time.sleep(0.8)  # synthesis takes a moment; then the chair is half said
    speaker.say(utt("car approaching on your left", priority=URGENT, interrupt=True))
    speaker.close()
    chair, car = records
    assert chair.cut and not car.cut and car.interrupted
    assert chair.ended_s - chair.started_s < wav_seconds(chair.wav) - 1.0
    assert car.ended_s - car.started_s >= wav_seconds(car.wav)  # the warning itself is said in full
    assert car.started_s - chair.ended_s < 0.5


class Stuck(PrintBackend):
    """Never finishes a phrase until stopped, or at all when `deaf` (a fake engine fault)."""

    def __init__(self, deaf: bool = False):
        self.deaf, self.opened = deaf, 0
        self._stopped = threading.Event()

    def open(self) -> None:
        self.opened += 1

    def arm(self) -> None:
        self._stopped.clear()

    def speak(self, utterance: Utterance, number: int) -> None:
        if self.deaf:
            time.sleep(30)
        else:
            self._stopped.wait(30)

    def stop(self) -> None:
        self._stopped.set()

    def fresh(self) -> "Stuck":
        return Stuck(self.deaf)


def test_watchdog_restarts_the_engine_then_falls_back_to_text(capsys: pytest.CaptureFixture) -> None:
    warnings = []
    speaker = Speaker(Stuck(), warn=warnings.append, watchdog_s=0.2, max_age_s=30)
    speaker.say(utt("chair"))
    speaker.close()
    assert speaker.restarts == 2
    assert len(warnings) == 1 and "3 times in a row" in warnings[0] and warnings[0].endswith("instead.")
    assert capsys.readouterr().out == "chair\n"  # nothing is lost
    assert speaker.spoken == 1


def test_an_engine_that_ignores_stop_is_abandoned(capsys: pytest.CaptureFixture) -> None:
    warnings = []
    speaker = Speaker(Stuck(deaf=True), warn=warnings.append, watchdog_s=0.2, max_failures=1, max_age_s=30)
    speaker.say(utt("dog"))
    wait_until(lambda: warnings, timeout_s=5)
    speaker.close()
    assert warnings == ["Speech stopped responding; printing what would be said instead."]
    assert capsys.readouterr().out == "dog\n"


def test_no_audio_device_warns_once_and_prints(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(engine_backends, "audio_output_available", lambda: False)
    warnings = []
    speaker = Speaker(Pyttsx3Backend(VoiceSettings()), warn=warnings.append)
    speaker.say(utt("a cup ahead"))
    speaker.say(utt("a dog on your left"))
    speaker.close()
    assert warnings == ["No audio output device was found; printing what would be said instead."]
    assert capsys.readouterr().out.splitlines() == ["a cup ahead", "a dog on your left"]


def test_failing_backend_falls_back_to_print(capsys: pytest.CaptureFixture) -> None:
    class Broken(PrintBackend):
        def speak(self, utterance: Utterance, number: int) -> None:
            raise RuntimeError("device busy")

    warnings = []
    speaker = Speaker(Broken(), warn=warnings.append)
    speaker.say(utt("a chair ahead"))
    speaker.close()
    assert len(warnings) == 1 and "device busy" in warnings[0]
    assert speaker.restarts == 2  # restarted twice, then the third failure falls back
    assert capsys.readouterr().out == "a chair ahead\n"


@pytest.mark.parametrize("paced", [True, False])
def test_wav_backend_writes_real_speech_and_waits_its_length_if_paced(tmp_path: Path, paced: bool) -> None:
    done = threading.Event()
    paths = []
    speaker = Speaker(WavBackend(tmp_path, VoiceSettings(), paced=paced),
                      on_spoken=lambda r: (paths.append(r.wav), done.set()))
    start = time.perf_counter()
    speaker.say(utt("a car on your left, about five metres"))
    assert done.wait(20)
    elapsed = time.perf_counter() - start
    speaker.close()
    (path,) = paths
    seconds = wav_seconds(path)
    assert 1.0 < seconds < 5.0
    if paced:
        assert elapsed >= seconds  # the worker waited out the audio, as a sound card would
    else:
        assert elapsed < seconds / 2  # written, not waited out: a file's run goes on at once
    with wave.open(str(path)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert np.sqrt(np.mean(samples.astype(float) ** 2)) > 300  # not silence


@pytest.mark.parametrize("spec", ["auto", "espeak", "pyttsx3", "print", "none", "wav:/tmp/x"])
def test_speech_specs(spec: str) -> None:
    make_backend(spec, VoiceSettings())


def test_auto_picks_the_interruptible_espeak_on_linux() -> None:
    assert isinstance(make_backend("auto", VoiceSettings()), EspeakBackend)


def test_rate_changes_apply_to_the_next_phrase(tmp_path: Path) -> None:
    records = []
    speaker = Speaker(WavBackend(tmp_path, VoiceSettings()), on_spoken=records.append, max_queue=5, max_age_s=30)
    text = "a person ahead, about two metres"
    assert speaker.adjust(rate_step_wpm=-55).rate_wpm == 120  # from the default 175
    speaker.say(utt(text))
    wait_until(lambda: records, timeout_s=20)
    assert speaker.adjust(rate_step_wpm=1000).rate_wpm == 450  # clamped to what engines accept
    speaker.say(utt(text))
    speaker.close()
    slow, fast = (wav_seconds(r.wav) for r in records)
    assert fast < slow * 0.5


def test_espeak_plays_in_real_time_and_stops_at_once(sound_server: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in sound_server.items():
        monkeypatch.setenv(key, value)
    backend = EspeakBackend(VoiceSettings())
    backend.open()
    text = "a chair on your right, about three metres, next to a table with two cups on it"
    start = time.monotonic()
    backend.speak(utt(text), 1)
    full_s = time.monotonic() - start
    assert full_s > 2.5  # played at speaking pace through the sound server, not skipped
    threading.Timer(0.5, backend.stop).start()
    start = time.monotonic()
    backend.speak(utt(text), 2)
    assert time.monotonic() - start < 1.0  # cut off, as a hazard does


@pytest.mark.parametrize("spec", ["wav:", "loud", "", "wav", "Espeak", " none"])
def test_bad_speech_spec(spec: str) -> None:
    with pytest.raises(AssistantError, match=f"Unknown speech output .*; use {SPEECH_CHOICES}.$"):
        make_backend(spec, VoiceSettings())


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_a_profile_can_name_makes_a_backend(engine: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # a profile's `wav` writes into ./speech-wav
    spec = speech_spec(engine)
    assert make_backend(spec, VoiceSettings()) is not None
    assert engine in SPEECH_CHOICES.replace(":DIR", "").replace(" or ", ", ").split(", ")


def test_a_failing_record_keeper_never_stops_speech() -> None:
    warnings = []

    def full_disk(record) -> None:
        raise OSError(28, "No space left on device")

    backend = SlowBackend(0.0)
    speaker = Speaker(backend, on_spoken=full_disk, warn=warnings.append, max_queue=5)
    speaker.say(utt("a cup ahead"))
    speaker.say(utt("a dog on your left"))
    speaker.close()
    assert backend.said == ["a cup ahead", "a dog on your left"]
    assert warnings == ["Could not record what was said ([Errno 28] No space left on device); "
                        "speaking on without recording."]


def test_a_stop_before_the_sound_starts_still_cuts_it(tmp_path: Path) -> None:
    backend = WavBackend(tmp_path, VoiceSettings())
    backend.open()
    backend.arm()
    backend.stop()  # the hazard arrives while the phrase is still being synthesised
    start = time.monotonic()
    path = backend.speak(utt("a chair on your right, about three metres"), 1)
    assert time.monotonic() - start < wav_seconds(path) / 2
    backend.arm()  # the next phrase is not affected
    start = time.monotonic()
    path = backend.speak(utt("a cup"), 2)
    assert time.monotonic() - start >= wav_seconds(path)


def test_quitting_cuts_the_sentence_being_said() -> None:
    backend = SlowBackend(5.0)
    speaker = Speaker(backend)
    speaker.say(utt("a long sentence"))
    wait_until(lambda: speaker.busy)
    start = time.monotonic()
    speaker.close(drain=False)
    assert time.monotonic() - start < 1.0
