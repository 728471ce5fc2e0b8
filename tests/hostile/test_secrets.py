"""Nothing leaks, nothing injects, one bad sentence never silences: stream passwords, the contents
of files a profile points at and control characters never reach a message or a terminal, and a
sentence the speech engine cannot say is printed instead while the engine speaks on."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant.core import ROUTINE, Utterance
from assistant.view.draw import drawable
from assistant.speech.rendered_backends import WavBackend
from assistant.process.shown import excerpt, redact_url, shown
from assistant.speech.speaker import Speaker
from assistant.speech.backends import PrintBackend, VoiceSettings

from ..conftest import IMAGES, MODEL, ROOT, VIDEOS, Cli
from .common import one_error

IMAGE = IMAGES / "darknet_dog.jpg"
SECRET = "s3cretPass"
# what /etc/shadow looks like where passwords are set: every line a hash a message must never show
SHADOW = "".join(f"{user}:$6$Salt{SECRET}$HashHashHash{i}:19700:0:99999:7:::\n"
                 for i, user in enumerate(["root", "daemon", "alice"]))
CONTROLS = ("\x1b", "\x00", "\x07", "\u202e")


def _output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


# --- Credentials in URLs: redacted in every message -------------------------------------------

@pytest.mark.parametrize("url", [
    f"rtsp://user:{SECRET}@127.0.0.1:1/x",
    f"http://admin:{SECRET}@127.0.0.1:1/video.mjpg",
    f"rtsp://user:p@ss{SECRET}@127.0.0.1:1/x",  # an unencoded '@' in the password
    f"rtsp://{SECRET}@127.0.0.1:1/x",  # a token as the user name
    f"http://127.0.0.1:1/video.mjpg?user=admin&password={SECRET}",  # a password as a query parameter
])
def test_a_stream_password_is_never_printed(cli: Cli, url: str) -> None:
    result = cli("run", "--source", url, "--speech", "none", "--model", str(MODEL))
    assert result.returncode == 2, result.stderr
    assert SECRET not in _output(result)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Cannot open stream ") and "***" in last


@pytest.mark.parametrize(("text", "expected"), [
    (f"Connecting to rtsp://u:{SECRET}@cam.local/x", "Connecting to rtsp://***@cam.local/x"),
    (f"'rtsps://u:{SECRET}@h:322/s' and http://v:{SECRET}@h/", "'rtsps://***@h:322/s' and http://***@h/"),
    ("rtsp://cam.local/x?user=a", "rtsp://cam.local/x?user=a"),  # nothing to redact
    (f"http://cam/v.mjpg?user=a&pwd={SECRET}&x=1", "http://cam/v.mjpg?user=a&pwd=***&x=1"),  # a query secret
    (f"rtsp://h/s?channel=1;password={SECRET}", "rtsp://h/s?channel=1;password=***"),
    (f"https://h/v?X-Amz-Signature={SECRET}&access_token={SECRET}", "https://h/v?X-Amz-Signature=***&access_token=***"),
    ("http://h/v?keyframe=3&passes=2", "http://h/v?keyframe=3&passes=2"),  # named like, but not, a secret
    ("mail me at someone@example.com", "mail me at someone@example.com"),  # not a URL
])
def test_redact_url(text: str, expected: str) -> None:
    assert redact_url(text) == expected


# --- File contents and huge values: never quoted, at most a short escaped excerpt -------------

def _shadow(tmp_path: Path) -> Path:
    path = tmp_path / "shadow"
    path.write_text(SHADOW)
    return path


@pytest.mark.parametrize("profile_text", [
    lambda shadow: f"name: x\nextends: {shadow}\nobjects: [dog]\n",  # extends a secret file
    lambda shadow: f"name: x\nextends: ../{shadow.parent.name}/{shadow.name}\nobjects: [dog]\n",
    lambda shadow: None,  # the secret file given as the profile itself
])
@pytest.mark.parametrize("command", ["check", "run"])
def test_a_secret_file_is_never_quoted(cli: Cli, tmp_path: Path, profile_text, command: str) -> None:
    shadow = _shadow(tmp_path)
    text = profile_text(shadow)
    profile = shadow if text is None else tmp_path / "p.yaml"
    if text is not None:
        profile.write_text(text)
    args = (["profiles", "check", str(profile)] if command == "check"
            else ["run", "--source", str(IMAGE), "--profile", str(profile), "--speech", "none"])
    result = cli(*args, "--model", str(MODEL))
    assert result.returncode == 2, result.stderr
    assert SECRET not in _output(result) and "$6$" not in _output(result)
    assert "is not a profile" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("setting", "fragment"), [
    ("name: x\nobjects:\n  dog: {spoken_name: '" + "A" * 10_000 + "'}\n", "(10000 characters): must be at most 40"),
    ("name: '" + "N" * 10_000 + "'\nobjects: [dog]\n", "(10000 characters): must be at most 80"),
    ("name: x\nobjects:\n  dog: {priority: '" + "seven" * 2_000 + "'}\n", "must be a whole number"),
    ("name: x\n" + "k" * 1_000 + ": 1\nobjects: [dog]\n", "is not a setting here"),  # YAML's longest key
    ("name: x\nobjects: [" + "d" * 10_000 + "]\n", "is not a class this model knows"),
])
def test_a_huge_value_is_quoted_as_an_excerpt(cli: Cli, tmp_path: Path, setting: str, fragment: str) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(setting)
    result = cli("profiles", "check", str(profile), "--model", str(MODEL))
    assert result.returncode == 2 and fragment in result.stderr, result.stderr
    assert all(len(line) < 600 for line in result.stderr.splitlines()), result.stderr  # not 10 KB


def test_a_profile_swapped_for_a_secret_file_mid_run_is_not_quoted(tmp_path: Path) -> None:
    """The live reload reads a link swapped to point at a secret file: refused, never quoted."""
    good = tmp_path / "good.yaml"
    good.write_text("name: live\nobjects: [car]\n")
    link = tmp_path / "live.yaml"
    link.symlink_to(good)
    transcript = tmp_path / "t.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--source", str(VIDEOS / "car-detection.mp4"), "--realtime",
         "--speech", "print", "--profile", str(link), "--transcript", str(transcript), "--model", str(MODEL)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        _until(transcript.exists)  # opened once the profile is loaded
        swap = tmp_path / "swap"
        swap.symlink_to(_shadow(tmp_path))
        os.replace(swap, link)
        _until(lambda: "Profile has an error" in transcript.read_text())
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=60)
    assert SECRET not in stdout + stderr and "$6$" not in stdout + stderr
    assert "is not a profile" in stderr, stderr


def _until(condition, timeout_s: float = 60) -> None:
    deadline = threading.Event()
    timer = threading.Timer(timeout_s, deadline.set)
    timer.start()
    try:
        while not condition():
            assert not deadline.wait(0.05), "the run never got there"
    finally:
        timer.cancel()


# --- Terminal injection: control characters never printed, never accepted as words ------------

@pytest.mark.parametrize("profile_text", [
    'name: x\nobjects:\n  dog: {spoken_name: "\\e[2J\\e[Hdog"}\n',  # clears the screen
    'name: x\nobjects:\n  dog: {spoken_name: "dog\\nFAKE LINE: all clear"}\n',  # forges a line
    'name: x\nobjects:\n  dog: {spoken_name: "bi\\0ke"}\n',  # NUL: no engine can say it
    'name: x\nobjects:\n  dog: {spoken_name: "dog\\u202egod"}\n',  # reverses what follows
    'name: x\nobjects:\n  dog: {spoken_name: "   "}\n',
    'name: "\\e]0;owned\\adefault"\nobjects: [dog]\n',  # retitles the terminal
])
@pytest.mark.parametrize("command", ["check", "run"])
def test_control_characters_in_words_are_refused_and_never_printed(cli: Cli, tmp_path: Path, profile_text: str,
                                                                 command: str) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(profile_text)
    args = (["profiles", "check", str(profile)] if command == "check"
            else ["run", "--source", str(IMAGE), "--profile", str(profile), "--speech", "print"])
    result = cli(*args, "--model", str(MODEL))
    assert result.returncode == 2, result.stderr
    assert "FAKE LINE" not in result.stderr.replace("\\nFAKE LINE", "")  # only ever escaped, never a line
    assert not any(c in _output(result) for c in CONTROLS), repr(_output(result))
    assert len(result.stderr.strip().splitlines()) == 1 and ": must " in result.stderr


@pytest.mark.parametrize("name", ["a\x1b[2Jb.jpg", "a\nFAKE LINE: all clear.jpg", "a\u202egpj.exe"])
def test_a_hostile_file_name_is_printed_escaped(cli: Cli, tmp_path: Path, name: str) -> None:
    result = cli("run", "--source", str(tmp_path / name), "--speech", "none", "--model", str(MODEL))
    one_error(result, "does not exist")
    assert not any(c in result.stderr for c in CONTROLS)


@pytest.mark.parametrize(("text", "expected"), [
    ("a cup\x1b[2J ahead", "a cup\\x1b[2J ahead"),
    ("a cup\nFAKE LINE: all clear", "a cup\\nFAKE LINE: all clear"),
    ("a bi\x00ke", "a bi\\x00ke"),
    ("left \u202ethgir", "left \\u202ethgir"),
    ("à votre gauche, 2 m", "à votre gauche, 2 m"),  # words in any language are left alone
])
def test_what_is_printed_and_drawn_has_no_control_characters(text: str, expected: str,
                                                            capsys: pytest.CaptureFixture) -> None:
    assert shown(text) == expected
    PrintBackend().speak(Utterance(text, 0, 0), 1)  # the print speech output
    assert capsys.readouterr().out == expected + "\n"
    assert not any(c in drawable(text) for c in "\x1b\n\x00\u202e")  # the HUD


@pytest.mark.parametrize(("value", "expected"), [
    ("dog", "'dog'"),
    ("A" * 100, "'" + "A" * 40 + "'... (100 characters)"),
    ("\x1b[2J", "'\\x1b[2J'"),
    (7, "7"),
])
def test_excerpt(value: object, expected: str) -> None:
    assert excerpt(value) == expected


# --- One bad sentence never switches speech off; a broken engine is still found ---------------

def _speak(backend, texts: list[str], settings: VoiceSettings | None = None) -> tuple[Speaker, list[str], list]:
    warnings, voiced = [], []
    speaker = Speaker(backend, settings=settings or VoiceSettings(), warn=warnings.append, max_queue=len(texts),
                      max_age_s=60, on_spoken=lambda record: voiced.append(record))
    speaker.wait_ready()
    for text in texts:
        speaker.say(Utterance(text, 0, 0, priority=ROUTINE))
        speaker.wait_idle()
    speaker.close()
    return speaker, warnings, voiced


@pytest.mark.parametrize(("texts", "printed"), [
    (["a bi\x00ke ahead", "a person ahead"], ["a bi\\x00ke ahead"]),
    (["a bi\x00ke ahead", "a bi\x00ke ahead", "a bi\x00ke ahead", "a person ahead"], ["a bi\\x00ke ahead"] * 3),
    (["a person ahead", "a bi\x00ke ahead", "a dog ahead"], ["a bi\\x00ke ahead"]),
])
def test_a_sentence_the_engine_cannot_say_is_printed_and_speech_goes_on(
        tmp_path: Path, texts: list[str], printed: list[str], capsys: pytest.CaptureFixture) -> None:
    speaker, warnings, voiced = _speak(WavBackend(tmp_path, VoiceSettings()), texts)
    assert not speaker.printing
    assert capsys.readouterr().out.splitlines() == printed  # nothing lost, nothing injected
    good = [t for t in texts if "\x00" not in t]
    assert [r.utterance.text for r in voiced if r.wav] == good  # the real engine spoke every other sentence
    assert len(warnings) == 1 and "'a bi\\x00ke ahead'" in warnings[0] and "speech goes on" in warnings[0]


def test_a_broken_engine_is_still_found_and_printing_takes_over(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    """espeak-ng is there but fails every sentence (its voice is gone): the engine is broken.
    (A full or read-only WAV folder is not a broken engine: that output stops, see test_outputs.)"""
    texts = ["a cup ahead", "a dog on your left", "a car on your right", "a chair ahead"]
    gone = VoiceSettings(voice="zz-no-such-voice")
    speaker, warnings, _ = _speak(WavBackend(tmp_path, gone), texts, gone)
    assert speaker.printing
    assert capsys.readouterr().out.splitlines() == texts  # every sentence printed, none lost
    assert warnings[-1].endswith("on 3 different sentences; printing what would be said instead."), warnings
    assert len(warnings) == 2  # the first sentence given up, then the engine
