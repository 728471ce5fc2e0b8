"""Sound that points the way: clauses panned to their objects, earcons, and cutting off, measured
in what a real sound server plays (a PulseAudio null sink, recorded from its monitor)."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.speech import audio
from assistant.core import (
    HAZARD,
    ROUTINE,
    URGENT,
    Box,
    Clause,
    Detection,
    Frame,
    Utterance,
)
from assistant.errors import ProfileError
from assistant.vision.position import place
from assistant.config.profile import Profile
from assistant.config.profile_files import load_profile
from assistant.config.rules import Rules
from assistant.speech.rendered_backends import SoundBackend
from assistant.speech.speaker import Speaker
from assistant.speech.backends import VoiceSettings
from assistant.speech.synthesis import EspeakSynthesizer, render
from assistant.narration.wording import Sentence, compose, gone_words, warning

from .conftest import ROOT, VIDEOS
from .sink import RATE, SinkRecorder, level_difference_db, loud

PROFILE = Rules(load_profile("default")).style
FRAME = Frame(np.zeros((480, 640, 3), np.uint8), 0, 0)


def utterance_of(said: Sentence, kind: str = "new", priority: int = ROUTINE) -> Utterance:
    return Utterance(said.text, 0, 0, said.objects, kind, priority, priority >= HAZARD, clauses=said.clauses)


def scene(kind: str = "new") -> Utterance:
    """A car ahead, a person on the left and a dog on the right, in the order they are said."""
    boxes = {"person": Box(20, 150, 80, 300), "car": Box(300, 150, 360, 300), "dog": Box(560, 200, 620, 300)}
    sightings = [place(Detection(label, 0.9, box), FRAME, 60.0) for label, box in boxes.items()]
    return utterance_of(compose(sightings, PROFILE), kind)


def approach() -> Utterance:
    car = place(Detection("car", 0.9, Box(40, 150, 200, 300)), FRAME, 60.0)
    return utterance_of(warning([car], PROFILE), "approach", URGENT)


def clause_windows(utterance: Utterance, settings: VoiceSettings, onset: int) -> list[tuple[int, int]]:
    """Where each clause lies in a recording whose sound starts at frame `onset`."""
    synthesizer = EspeakSynthesizer(settings)
    windows, start = [], onset
    for clause in audio.clauses(utterance):
        length = len(synthesizer.synthesize(clause.text)[0])
        windows.append((start, start + length))
        start += length + round(audio.GAP_S * RATE)
    return windows


class TestPlacing:
    def test_each_clause_goes_with_the_object_it_names(self) -> None:
        parts = audio.clauses(scene())
        assert [(c.text.split()[1], c.sighting.detection.label) for c in parts] == [
            ("car", "car"), ("person", "person"), ("dog", "dog")]
        pans = [audio.pan_of(c.sighting, 60.0, 1.0) for c in parts]
        assert pans[0] == 0 and -audio.MAX_PAN <= pans[1] < -0.5 and 0.5 < pans[2] <= audio.MAX_PAN

    @pytest.mark.parametrize(("make", "expected"), [
        (scene, ["A car ahead, about 6 metres", "a person on your left, about 6 metres",
                 "a dog on your right, about 3 metres"]),
        (approach, ["Car approaching on your left"]),
        (lambda: utterance_of(warning(scene().objects[1:], PROFILE), "approach", URGENT),
         ["Person approaching on your left", "Dog approaching on your right"]),
    ])
    def test_the_text_is_its_clauses_joined(self, make, expected: list[str]) -> None:
        utterance = make()
        assert [c.text for c in utterance.clauses] == expected and utterance.text == "; ".join(expected)
        assert all(c.sighting in utterance.objects for c in utterance.clauses)

    def test_a_semicolon_in_a_spoken_name_does_not_move_a_clause(self) -> None:
        style = Rules(Profile(name="t", objects={"cup": {"spoken_name": "cup; saucer"}, "dog": {}})).style
        sightings = [place(Detection("cup", 0.9, Box(20, 150, 80, 300)), FRAME, 60.0),
                     place(Detection("dog", 0.9, Box(560, 200, 620, 300)), FRAME, 60.0)]
        utterance = utterance_of(compose(sightings, style))
        assert utterance.text.count("; ") == 2
        assert [c.sighting.detection.label for c in audio.clauses(utterance)] == ["cup", "dog"]

    def test_a_sentence_of_parts_about_no_object_is_one_centred_clause(self) -> None:
        gone = gone_words(["dog", "cup"], PROFILE)
        assert gone == "The dog has gone; the cup has gone"
        assert audio.clauses(Utterance(gone, 0, 0, kind="gone")) == (Clause(gone),)

    def test_pans_keep_loudness_and_both_ears(self) -> None:
        for pan in np.linspace(-audio.MAX_PAN, audio.MAX_PAN, 9):
            left, right = audio.gains(pan)
            assert left ** 2 + right ** 2 == pytest.approx(1.0) and min(left, right) > 0.15

    def test_a_sentence_about_nothing_in_particular_stays_centred(self) -> None:
        assert audio.clauses(Utterance("Paused", 0, 0, kind="status")) == (Clause("Paused"),)
        assert audio.pan_of(None, 60.0, 1.0) == 0.0

    def test_earcons_are_short_and_under_the_words(self) -> None:
        hazard, new = audio.earcon("hazard", RATE), audio.earcon("new", RATE)
        assert len(hazard) <= 0.12 * RATE and len(new) <= 0.12 * RATE
        assert np.abs(hazard).max() <= 0.5 and np.abs(new).max() <= 0.25

    @pytest.mark.parametrize(("kind", "earcons", "cue"), [
        ("approach", "hazard", "hazard"), ("approach", "all", "hazard"), ("approach", "off", None),
        ("new", "hazard", None), ("new", "all", "new"), ("new", "off", None),
        ("change", "all", None), ("gone", "all", None), ("describe", "all", None),
    ])
    def test_which_sentences_get_an_earcon(self, kind: str, earcons: str, cue: str | None) -> None:
        assert audio.earcon_for(kind, earcons) == cue


class TestRendering:
    def test_clauses_are_panned_in_the_rendered_audio(self) -> None:
        settings = VoiceSettings()
        utterance = scene()
        stereo, rate = render(utterance, settings, EspeakSynthesizer(settings).synthesize)
        ahead, left, right = (level_difference_db(stereo[a:b]) for a, b in clause_windows(utterance, settings, 0))
        assert abs(ahead) <= 1.5 and left <= -6 and right >= 6

    def test_spatial_off_and_pan_strength(self) -> None:
        utterance = scene()
        flat = VoiceSettings(spatial=False)
        stereo, _ = render(utterance, flat, EspeakSynthesizer(flat).synthesize)
        assert abs(level_difference_db(stereo)) < 0.1
        half = VoiceSettings(pan_strength=0.5)
        stereo, _ = render(utterance, half, EspeakSynthesizer(half).synthesize)
        _, left, _ = (level_difference_db(stereo[a:b]) for a, b in clause_windows(utterance, half, 0))
        assert -6 < left < -1.5

    def test_an_approach_warning_starts_with_the_hazard_earcon(self) -> None:
        settings = VoiceSettings()
        stereo, rate = render(approach(), settings, EspeakSynthesizer(settings).synthesize)
        cue = audio.earcon("hazard", rate)
        pan = audio.pan_of(approach().objects[0], 60.0, 1.0)  # the earcon comes from where the car is
        assert pan < -0.5 and np.allclose(stereo[:len(cue)], audio.place(cue, pan), atol=1e-4)
        quiet, _ = render(approach(), VoiceSettings(earcons="off"), EspeakSynthesizer(settings).synthesize)
        assert len(stereo) - len(quiet) == len(cue) + round(audio.EARCON_GAP_S * rate)


def test_a_bad_pan_strength_is_a_line_numbered_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nvoice:\n  pan_strength: 2\n  earcons: loud\nobjects: [car]\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert f"{path}:3: voice -> pan_strength = 2: must be at most 1.0." in str(caught.value)
    assert f"{path}:4: voice -> earcons = 'loud': must be one of: 'hazard', 'all' or 'off'." in str(caught.value)


@pytest.fixture
def sound(sound_server: dict, monkeypatch: pytest.MonkeyPatch) -> dict:
    for key, value in sound_server.items():
        monkeypatch.setenv(key, value)
    return sound_server


def test_at_the_sink_left_right_and_ahead_are_heard_where_they_are(sound: dict) -> None:
    settings = VoiceSettings()
    backend = SoundBackend(settings)
    backend.open()
    utterance = scene()
    with SinkRecorder(sound) as recording:
        backend.arm()
        backend.speak(utterance, 1)
        time.sleep(0.2)
    frames, _ = recording.samples()
    onset = loud(frames)[0]
    ahead, left, right = (level_difference_db(frames[a:b]) for a, b in clause_windows(utterance, settings, onset))
    assert abs(ahead) <= 1.5 and left <= -6 and right >= 6


def test_at_the_sink_the_approach_earcon_comes_before_the_warning(sound: dict) -> None:
    backend = SoundBackend(VoiceSettings())
    backend.open()
    with SinkRecorder(sound) as recording:
        backend.arm()
        backend.speak(approach(), 1)
        time.sleep(0.2)
    frames, _ = recording.samples()
    onset = loud(frames)[0]
    first = frames[onset:onset + round(audio.HAZARD_TONE_S * RATE)].sum(axis=1)
    second = frames[onset + round(audio.HAZARD_TONE_S * RATE):onset + round(2 * audio.HAZARD_TONE_S * RATE)].sum(axis=1)
    peak = [np.fft.rfftfreq(len(part), 1 / RATE)[np.argmax(np.abs(np.fft.rfft(part)))] for part in (first, second)]
    assert peak[0] == pytest.approx(880, abs=40) and peak[1] == pytest.approx(1320, abs=40)
    words = loud(frames[onset + round((2 * audio.HAZARD_TONE_S + audio.EARCON_GAP_S) * RATE):])
    assert len(words) > 0.5 * RATE  # then the warning itself


def test_at_the_sink_a_hazard_cuts_a_routine_sentence_off_at_once(sound: dict) -> None:
    settings = VoiceSettings()
    speaker = Speaker(SoundBackend(settings), settings=settings, max_age_s=10)
    speaker.wait_ready()
    with SinkRecorder(sound) as recording:
        speaker.say(Utterance("a chair on your right about three metres next to a table with two cups", 0, 0,
                              priority=ROUTINE))
        time.sleep(1.0)
        arrived = time.monotonic()
        speaker.say(approach())
        time.sleep(1.5)
    speaker.close()
    frames, times = recording.samples()
    mono = frames.sum(axis=1)
    cue = audio.earcon("hazard", RATE)
    start = int(np.argmax(np.correlate(mono, cue, mode="valid")))  # where the earcon begins
    before = loud(frames[:start])
    cut_ms = (times[before[-1]] - arrived) * 1000
    assert -50 < cut_ms < 150, cut_ms  # the routine sentence fell silent within the bound
    assert len(before) > 0.5 * RATE  # it had been playing


def test_without_portaudio_speech_falls_back_and_says_so_once(sound: dict, tmp_path: Path) -> None:
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\n"
                       "class _NoPortAudio:\n"
                       "    def find_spec(self, name, path=None, target=None):\n"
                       "        if name == 'sounddevice':\n"
                       "            raise OSError('PortAudio library not found')\n"
                       "sys.meta_path.insert(0, _NoPortAudio())\n")
    transcript = tmp_path / "said.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "run", "--source", str(VIDEOS / "face-demographics-walking.gif"),
         "--profile", "home", "--transcript", str(transcript)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, **sound, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("PortAudio is not installed") == 1
    assert "speaking through espeak, not in stereo" in result.stderr
    assert transcript.read_text().strip() and result.stdout == ""  # spoken, not printed


def test_spoken_in_stereo_by_default_when_there_is_a_sound_server(sound: dict, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "run", "--source", str(VIDEOS / "face-demographics-walking.gif"),
         "--profile", "home", "--max-frames", "10"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, **sound})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Speaking in stereo through PortAudio.") == 1


def test_speaking_never_slows_the_caller(sound: dict) -> None:
    settings = VoiceSettings()
    speaker = Speaker(SoundBackend(settings), settings=settings)
    speaker.wait_ready()
    start = time.perf_counter()
    for i in range(20):
        speaker.say(Utterance(f"a cup ahead number {i}", 0, i, priority=HAZARD if i % 5 == 0 else ROUTINE))
    assert time.perf_counter() - start < 0.05
    done = threading.Event()
    threading.Thread(target=lambda: (speaker.close(drain=False), done.set())).start()
    assert done.wait(5)
