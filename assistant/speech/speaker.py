"""Speaking without blocking the camera: one worker thread owns the text-to-speech backend.

`Speaker.say()` only queues; which sentence comes next, and which are dropped or cut off, is the
pure policy of `speech_queue`. Here is the thread that voices them, and one watchdog thread that
stops an utterance running far past its length (and replaces a backend that ignores the stop); a
failing backend is restarted. Both threads and `say()` share one lock: the backend is swapped and
stopped only under it. A sentence that fails
`max_failures` times in a row is printed instead, once with a warning, and speech goes on: one
bad sentence never switches speech off. Only when `max_failures` different sentences in a row
have failed like that is the engine broken, and the worker prints from then on, saying so once.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..core import Utterance
from ..process.run_context import StandardOutput
from ..process.shown import excerpt
from .backends import Backend, OutputClosed, PrintBackend, VoiceSettings
from .engine_names import MAX_RATE_WPM, MIN_RATE_WPM
from .failures import Failures
from .queue import Pending, SpeechQueue


@dataclass(frozen=True, slots=True)
class Spoken:
    """What became of one voiced utterance; times are `time.monotonic()` seconds."""

    utterance: Utterance
    wav: Path | None
    queued_s: float
    started_s: float
    ended_s: float
    interrupted: bool  # it cut off a less urgent phrase
    cut: bool  # it was itself cut off by a more urgent one


STOP_GRACE_S = 2.0  # how long a backend the watchdog stopped has to return before it is abandoned
STOP_POLL_S = 0.05  # how often `wait_idle` looks at its `stop` event, which it cannot wait on with the lock


@dataclass(slots=True)
class _Attempt:
    """One try at voicing a phrase, armed under the watchdog until the backend returns. Changed
    only under the speaker's lock."""

    item: Pending
    backend: Backend
    settings: VoiceSettings
    started_s: float
    limit_s: float  # the watchdog stops the backend once this has passed
    speaking: bool = True  # until the backend returns; then its outcome is being recorded
    cut: bool = False  # a more urgent phrase stopped it
    stopped: bool = False  # the watchdog stopped it

    @property
    def deadline_s(self) -> float:
        """When the watchdog acts next: stop the backend, or, once stopped, abandon it."""
        return self.started_s + self.limit_s + (STOP_GRACE_S if self.stopped else 0.0)


class Speaker:
    """A single worker thread that voices queued utterances, most urgent first, dropping stale ones.

    `on_spoken(Spoken)` is called on the worker thread after each utterance is voiced;
    `warn(sentence)` hears once of a sentence the engine cannot say, and once if the worker
    has to fall back to printing; whatever it prints goes to `stdout` (the run's standard output).

    Threads: `say()` and the other public methods run on the caller's thread; one worker voices;
    one watchdog watches the phrase being voiced. They share `_changed` (one lock; every change of
    the queue, the current phrase or the backend is made under it and notifies all). Only the
    worker voices and keeps the failure counts; the backend is swapped, and stopped, under the lock.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        settings: VoiceSettings = VoiceSettings(),
        on_spoken: Callable[[Spoken], None] | None = None,
        warn: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
        max_queue: int = 3,
        max_age_s: float = 2.0,
        max_failures: int = 3,
        watchdog_s: float = 5.0,
        on_output_closed: Callable[[], None] = lambda: None,
        stdout: StandardOutput | None = None,
    ):
        self.backend = backend
        self.stdout = stdout or StandardOutput()  # where printing goes, and whether its reader left
        self.settings = settings
        self.on_spoken = on_spoken
        self.warn = warn
        self.watchdog_s = watchdog_s
        self.spoken = 0
        self.unheard = 0  # decided but not printed, because stdout was closed by its reader
        self.on_output_closed = on_output_closed
        self._number = 0  # numbers each attempt, e.g. for WAV file names
        self.restarts = 0
        self.printing = False  # True once the worker has fallen back to printing
        self.last_spoken = ""
        self._queue = SpeechQueue(max_queue, max_age_s)
        self._unsayable = 0  # sentences that even printing could not say
        self._changed = threading.Condition(threading.Lock())
        self._closing = False
        self._ready = threading.Event()
        self._current: _Attempt | None = None  # the phrase the worker holds, from queue to record
        self._configured: VoiceSettings | None = None
        self._failures = Failures(max_failures)  # kept by the worker only
        self._restart_due = False
        self._thread = self._start_worker(hung=None)
        self._watchdog = threading.Thread(target=self._watch, name="speech-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def busy(self) -> bool:
        """True while a phrase is being voiced, or what became of it recorded."""
        return self._current is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def dropped(self) -> int:
        """Sentences never said: dropped by the queue, or unsayable even by printing."""
        return self._queue.dropped + self._unsayable

    def say(self, utterance: Utterance) -> None:
        """Queue an utterance and return at once; cut off the phrase being spoken if the queue says so."""
        with self._changed:
            current = self._current if self._current is not None and self._current.speaking else None
            if self._queue.push(utterance, time.monotonic(), current.item.utterance if current else None,
                                self.backend.interruptible, current.cut if current else False):
                current.cut = True
                self.backend.stop()
            self._changed.notify_all()

    def clear(self) -> None:
        """Drop every phrase still waiting (the one being spoken finishes)."""
        with self._changed:
            self._queue.clear()
            self._changed.notify_all()

    def seconds_for(self, text: str) -> float:
        """About how long the text takes to say at the current rate."""
        with self._changed:
            return self.settings.seconds_for(text)

    def wait_idle(self, timeout_s: float = 60.0, stop: threading.Event | None = None) -> None:
        """Block until nothing is being said or waiting to be said (or `timeout_s` passes, or `stop` is set)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._current is not None or self._queue:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (stop is not None and stop.is_set()):
                    return
                self._changed.wait(remaining if stop is None else min(remaining, STOP_POLL_S))

    def adjust(self, settings: VoiceSettings | None = None, max_age_s: float | None = None,
               rate_step_wpm: int = 0) -> VoiceSettings:
        """The one way to change live settings, from the next phrase on: new voice settings and
        freshness limit (a reloaded profile), or a rate step (clamped). Returns the settings now.
        Under the lock, because the worker thread reads them."""
        with self._changed:
            if settings is not None:
                self.settings = settings
            if max_age_s is not None:
                self._queue.max_age_s = max_age_s
            if rate_step_wpm:
                rate = max(MIN_RATE_WPM, min(MAX_RATE_WPM, self.settings.rate_wpm + rate_step_wpm))
                self.settings = replace(self.settings, rate_wpm=rate)
            return self.settings

    def close(self, drain: bool = True, timeout_s: float = 30.0) -> None:
        """Stop the worker and the watchdog; with `drain`, first voice what is queued and still fresh."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            if not drain:
                self._queue.clear()
                if self._current is not None and self._current.speaking:
                    self.backend.stop()  # quitting: do not finish the sentence either
            self._closing = True
            self._changed.notify_all()
        while True:  # the watchdog may hand the speaker to a new worker meanwhile: join that one too
            with self._changed:
                worker = self._thread
            worker.join(max(0.0, deadline - time.monotonic()))
            with self._changed:
                if self._thread is worker or time.monotonic() >= deadline:
                    break
        self._watchdog.join(max(0.0, deadline - time.monotonic()))

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        """Block until the backend has started (or fallen back to printing)."""
        self._ready.wait(timeout_s)

    def _start_worker(self, hung: Pending | None) -> threading.Thread:
        thread = threading.Thread(target=self._run, args=(hung,), name="speech", daemon=True)
        thread.start()
        return thread

    def _run(self, hung: Pending | None) -> None:
        """The worker: voice phrase after phrase until closed. `hung` is the phrase a backend
        stopped responding on, when this worker replaces the one left stuck with it."""
        if hung is not None:
            self._count_hang(hung)
        self._start_backend()
        self._ready.set()
        while (attempt := self._next()) is not None:
            if not self._voice(attempt):
                return  # the watchdog gave up on this thread; a new worker owns the speaker now
        with self._changed:
            backend = self.backend
        backend.close()

    def _next(self) -> _Attempt | None:
        """Wait for the next fresh phrase and make it current, under the watchdog; None once
        closing with nothing left to say. A due restart comes first, outside the lock."""
        while True:
            with self._changed:
                while not self._queue and not self._closing:
                    self._changed.wait()
                if not self._queue:
                    return None
                if not self._restart_due or self.printing:
                    now = time.monotonic()
                    item = self._queue.pop(now)
                    self._changed.notify_all()  # stale phrases dropped, or the next one current
                    if item is None:
                        continue
                    settings = self.settings
                    limit_s = self.watchdog_s + 2 * settings.seconds_for(item.utterance.text)
                    self.backend.arm()  # before the phrase is current, so any stop() from now on counts
                    self._current = _Attempt(item, self.backend, settings, now, limit_s)
                    return self._current
            self._restart()  # the queue is not empty meanwhile, so the speaker does not look idle

    def _start_backend(self) -> None:
        self._configured = None
        with self._changed:
            backend = self.backend
        try:
            backend.open()
        except Exception as exc:
            self._fall_back(str(exc))

    def _fall_back(self, reason: str) -> None:
        self.warn(f"{reason.rstrip('.')}; printing what would be said instead.")
        with self._changed:
            self.backend = PrintBackend(self.stdout)
            self.printing = True

    def _voice(self, attempt: _Attempt) -> bool:
        """Speak one phrase; a failure restarts the backend and retries while fresh. False when the
        watchdog abandoned this worker (with its stuck backend) meanwhile."""
        self._number += 1
        item, settings = attempt.item, attempt.settings
        self.last_spoken = item.utterance.text  # what the listener is hearing now, or heard last
        failure, wav, closed = None, None, False
        try:
            if self._configured != settings:
                self._configured = settings
                attempt.backend.configure(settings)
            if item.utterance.text in self._failures.unsayable:  # given up before: not tried again
                PrintBackend(self.stdout).speak(item.utterance, self._number)
            else:
                wav = attempt.backend.speak(item.utterance, self._number)
        except OutputClosed:
            closed = True
        except Exception as exc:
            failure = f"Speech failed ({str(exc) or type(exc).__name__})"
        with self._changed:
            if self._current is not attempt:
                return False
            attempt.speaking = False  # the watchdog is disarmed
            self._changed.notify_all()
        retry = False
        try:
            retry = self._record(attempt, failure, wav, closed)
        finally:
            with self._changed:
                if retry:
                    self._queue.requeue(item)  # tried again while fresh, on a restarted engine
                self._current = None
                self._changed.notify_all()
        return True

    def _record(self, attempt: _Attempt, failure: str | None, wav: Path | None, closed: bool) -> bool:
        """Count what became of a phrase, print it if it failed for good, and tell `on_spoken`.
        True if it should be tried again."""
        item = attempt.item
        if closed:
            self._output_closed()
            return False
        if failure is None and time.monotonic() - attempt.started_s >= attempt.limit_s:
            failure = f"Speech took over {attempt.limit_s:.0f} s and was stopped"
        if failure is not None:
            if self._retry(item, failure):
                return True
            if not self._print(item.utterance):
                return False
        elif not self.printing and item.utterance.text not in self._failures.unsayable:
            self._failures.spoke()
        self.spoken += 1
        if self.on_spoken is not None:
            record = Spoken(item.utterance, wav, item.queued_s, attempt.started_s, time.monotonic(),
                            item.interrupted, attempt.cut)
            try:
                self.on_spoken(record)
            except Exception as exc:  # e.g. the transcript's disk is full: keep speaking, say so once
                self.on_spoken = None
                self.warn(f"Could not record what was said ({exc}); speaking on without recording.")
        return False

    def _print(self, utterance: Utterance) -> bool:
        """The last resort. If even printing fails, the phrase is dropped and counted: there is
        nowhere left to say it."""
        try:
            PrintBackend(self.stdout).speak(utterance, self._number)
            return True
        except OutputClosed:
            self._output_closed()
            return False
        except Exception:  # noqa: BLE001 - any failure here leaves nothing else to try
            self._unsayable += 1
            return False

    def _output_closed(self) -> None:
        """Printing found stdout closed: count the sentence as unheard, no warning, and tell the owner once."""
        self.unheard += 1
        if self.unheard == 1:
            self.on_output_closed()

    def _retry(self, item: Pending, reason: str) -> bool:
        """After a failed attempt: True if the phrase is to be tried again on a fresh engine; else
        it is given up, and the caller prints it."""
        self._failures.failed()
        self._restart_due = True
        if self._failures.may_retry() and not self.printing:
            return True
        if not self.printing:
            self._give_up(item.utterance.text, reason)
        return False

    def _give_up(self, text: str, reason: str) -> None:
        """A sentence failed `max_failures` times: printed from now on, saying so for the first one;
        or, when it is the `max_failures`th different one in a row, the engine is broken."""
        first = not self._failures.unsayable
        tries = self._failures.give_up(text)
        if tries > 1:
            reason = f"{reason}, {tries} times in a row"
        if self._failures.broken:
            n = len(self._failures.given_up)
            self._fall_back(reason + (f", on {n} different sentences" if n > 1 else ""))
        elif first:
            self.warn(f"{reason} on one sentence ({excerpt(text)}); speech goes on, and that sentence is "
                      "printed instead.")

    def _restart(self) -> None:
        """A fresh engine in place of one that failed."""
        self._restart_due = False
        self.restarts += 1
        with self._changed:
            old = self.backend
        with contextlib.suppress(Exception):  # a broken engine may fail to close too; it is replaced anyway
            old.close()
        with self._changed:
            self.backend = old.fresh()
        self._start_backend()

    def _watch(self) -> None:
        """The watchdog thread: stop a phrase that runs too long; if the backend ignores that,
        abandon it (and the worker stuck in it) to a new worker. Ends once closed and idle."""
        with self._changed:
            while not (self._closing and self._current is None and not self._queue):
                attempt = self._current
                if attempt is None or not attempt.speaking:
                    self._changed.wait()
                elif (remaining := attempt.deadline_s - time.monotonic()) > 0:
                    self._changed.wait(remaining)
                elif not attempt.stopped:
                    attempt.stopped = True
                    self.backend.stop()
                else:
                    self._abandon(attempt)

    def _abandon(self, attempt: _Attempt) -> None:
        """Under the lock: the backend ignored the stop. It is left, not closed, to the worker stuck
        in it; a new worker with a fresh backend counts the hang and tries the phrase again (or
        prints it when given up)."""
        self._queue.requeue(attempt.item)
        self._current = None
        self.backend = self.backend.fresh()
        self._thread = self._start_worker(hung=attempt.item)
        self._changed.notify_all()

    def _count_hang(self, item: Pending) -> None:
        """On the new worker, before it voices: the phrase that hung counts as a failed attempt."""
        self._failures.failed()
        if not self._failures.may_retry():
            self._give_up(item.utterance.text, "Speech stopped responding")
        if not self.printing:
            self.restarts += 1
