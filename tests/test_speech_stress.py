"""The speech worker under load from several threads at once: many phrases, hazards that cut
others off, rate and freshness changes, failures and hangs. Whatever path each phrase takes, it
is accounted for exactly once, one backend speaks at a time, the speaker ends idle and closes,
and the threads it starts do not grow with the number of phrases (only with engines abandoned)."""

import threading
from pathlib import Path

import pytest

from assistant.core import HAZARD, REQUESTED, ROUTINE, URGENT, Utterance
from assistant.speech.rendered_backends import WavBackend
from assistant.speech.speaker import Speaker, Spoken
from assistant.speech.backends import PrintBackend, VoiceSettings


class Stage:
    """What every copy of a fake engine shares (`fresh()` makes copies): who is speaking now."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active = self.most_active = self.calls = 0
        self.attempts: dict[str, int] = {}
        self.release = threading.Event()  # lets go of the phrases that ignore stop()


class Chaos(PrintBackend):
    """A fake engine (this is a test of the worker's concurrency, not of a voice). What it does
    with a phrase is written in its first word: `ok` takes a moment, `flaky` fails its first
    attempt, `bad` always fails, `hang` waits for stop() once (the watchdog's), and `deaf`
    ignores stop() until released."""

    def __init__(self, stage: Stage):
        self.stage = stage
        self._stopped = threading.Event()

    def arm(self) -> None:
        self._stopped.clear()

    def speak(self, utterance: Utterance, number: int) -> None:
        kind = utterance.text.split("-")[0]
        with self.stage.lock:
            attempt = self.stage.attempts[utterance.text] = self.stage.attempts.get(utterance.text, 0) + 1
            self.stage.calls += 1
            self.stage.active += 1
            self.stage.most_active = max(self.stage.most_active, self.stage.active)
        try:
            if kind == "deaf":
                self.stage.release.wait(60)
            elif kind == "bad" or (kind == "flaky" and attempt == 1):
                raise RuntimeError(f"{kind} phrase")
            elif kind == "hang" and attempt == 1:
                self._stopped.wait(60)
            else:
                self._stopped.wait(0.002)
        finally:
            with self.stage.lock:
                self.stage.active -= 1

    def stop(self) -> None:
        self._stopped.set()

    def fresh(self) -> "Chaos":
        return Chaos(self.stage)


def kind_of(i: int) -> str:
    return "hang" if i % 25 == 7 else "flaky" if i % 11 == 3 else "bad" if i == 40 else "ok"


def send(speaker: Speaker, sender: int, count: int, kinds) -> list[str]:
    """Say `count` one-word phrases, every sixth an interrupting hazard and the faulty ones a
    request (so a full queue drops routine ones first); now and then wait a moment for the
    speaker to be idle, as a photo folder does. Return the texts."""
    texts, never = [], threading.Event()
    for i in range(count):
        kind = kinds(i)
        text = f"{kind}-{sender}-{i}"
        hazard = i % 6 == 5
        priority = URGENT if hazard else ROUTINE if kind.endswith("ok") else REQUESTED
        speaker.say(Utterance(text, 0, 0, priority=priority, interrupt=hazard))
        texts.append(text)
        if i % 3 == 2:
            speaker.wait_idle(timeout_s=0.05, stop=never if sender % 2 else None)
    return texts


def adjust_while(speaker: Speaker, sending: threading.Event) -> None:
    """Change the rate and the freshness limit, back and forth, as long as phrases are being sent."""
    step = 0
    while not sending.wait(0.004):
        step += 1
        speaker.adjust(rate_step_wpm=-100 if step % 2 else 100)
        speaker.adjust(max_age_s=0.05 if step % 7 == 0 else 30)
        if step % 5 == 0:
            speaker.adjust(settings=VoiceSettings(rate_wpm=400 + step % 50))


def run_senders(speaker: Speaker, senders: int, each: int, kinds) -> list[str]:
    """Send from `senders` threads at once while another adjusts; every thread must finish."""
    texts: list[list[str]] = [[] for _ in range(senders)]
    done = threading.Event()
    adjuster = threading.Thread(target=adjust_while, args=(speaker, done))
    threads = [threading.Thread(target=lambda n=n: texts[n].extend(send(speaker, n, each, kinds)))
               for n in range(senders)]
    adjuster.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "say() blocked"
    done.set()
    adjuster.join(10)
    return [text for batch in texts for text in batch]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    """The threads started during the test."""
    threads: list[threading.Thread] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        threads.append(thread)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    return threads


def check_accounts(speaker: Speaker, sent: list[str], records: list[Spoken], printed: list[str]) -> None:
    """Every phrase sent is spoken (or printed), dropped, or unheard: exactly once."""
    said = [record.utterance.text for record in records]
    assert len(said) == len(set(said)) == speaker.spoken
    assert set(said) <= set(sent)
    assert speaker.spoken + speaker.dropped + speaker.unheard == len(sent)
    assert len(printed) == len(set(printed)) and set(printed) <= set(said)


def speech_threads(started: list[threading.Thread], alive: bool = False) -> list[str]:
    """The names of the speaker's threads among those started (only those still running, with `alive`)."""
    return sorted(t.name for t in started if t.name.startswith("speech") and (t.is_alive() or not alive))


def test_many_phrases_from_many_threads(started: list[threading.Thread], capsys: pytest.CaptureFixture) -> None:
    stage, records = Stage(), []
    speaker = Speaker(Chaos(stage), settings=VoiceSettings(rate_wpm=450), on_spoken=records.append,
                      warn=lambda message: None, max_queue=4, max_age_s=30, watchdog_s=0.05)
    sent = run_senders(speaker, senders=4, each=50, kinds=kind_of)
    speaker.wait_idle(timeout_s=120)
    assert not speaker.busy and speaker.queued == 0
    speaker.close(timeout_s=60)
    assert speech_threads(started, alive=True) == []  # close() returned with the worker and the watchdog gone

    assert len(sent) == 200
    check_accounts(speaker, sent, records, capsys.readouterr().out.splitlines())
    assert stage.most_active == 1  # one engine speaks at a time, restarts and hangs included
    assert speech_threads(started) == ["speech", "speech-watchdog"]
    assert len(started) == 4 + 1 + 2  # the senders, the adjuster, and the speaker's two: no timer per phrase
    assert speaker.spoken > 0 and stage.attempts


def test_engines_that_ignore_stop_are_abandoned_one_worker_each(started: list[threading.Thread],
                                                                capsys: pytest.CaptureFixture) -> None:
    stage, records = Stage(), []
    speaker = Speaker(Chaos(stage), settings=VoiceSettings(rate_wpm=450), on_spoken=records.append,
                      warn=lambda message: None, max_queue=4, max_age_s=30, watchdog_s=0.05, max_failures=2)
    speaker.say(Utterance("deaf-first", 0, 0, priority=HAZARD))
    sent = ["deaf-first", *run_senders(speaker, senders=2, each=20, kinds=lambda i: "ok")]
    speaker.wait_idle(timeout_s=120)
    deaf_calls = sum(n for text, n in stage.attempts.items() if text.startswith("deaf"))
    stage.release.set()  # the abandoned workers return, find the speaker moved on, and end
    speaker.close(timeout_s=60)
    check_accounts(speaker, sent, records, capsys.readouterr().out.splitlines())
    assert deaf_calls >= 1
    threads = speech_threads(started)  # a new worker per engine left stuck, not per phrase
    assert threads.count("speech") == 1 + deaf_calls and threads.count("speech-watchdog") == 1


def test_real_speech_from_several_threads(tmp_path: Path, started: list[threading.Thread], capsys: pytest.CaptureFixture) -> None:
    records = []
    speaker = Speaker(WavBackend(tmp_path, VoiceSettings(rate_wpm=450)), on_spoken=records.append, max_queue=3)
    sent = run_senders(speaker, senders=3, each=6, kinds=lambda i: "a cup ahead, ok")
    speaker.wait_idle(timeout_s=120)
    speaker.close(timeout_s=60)
    assert speech_threads(started, alive=True) == []
    check_accounts(speaker, sent, records, capsys.readouterr().out.splitlines())
    assert all(record.wav is not None and record.wav.exists() for record in records)
    assert speech_threads(started) == ["speech", "speech-watchdog"]


def test_wait_idle_returns_once_each_phrase_is_accounted_for(capsys: pytest.CaptureFixture) -> None:
    """As a photo folder does: say, wait, say. A failed attempt is retried without the speaker
    looking idle in between, so after each wait the phrase was spoken, printed or dropped."""
    stage, records = Stage(), []
    speaker = Speaker(Chaos(stage), settings=VoiceSettings(rate_wpm=450), on_spoken=records.append,
                      warn=lambda message: None, max_age_s=30, watchdog_s=0.05)
    for i in range(60):
        speaker.say(Utterance(f"{kind_of(i)}-0-{i}", 0, 0))
        speaker.wait_idle(timeout_s=60)
        assert len(records) + speaker.dropped == i + 1
    speaker.close()
    assert speaker.dropped == 0 and stage.attempts.keys() >= {"hang-0-7", "flaky-0-3", "bad-0-40"}
