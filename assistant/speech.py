"""Speaking without blocking the camera: one worker thread owns the text-to-speech backend.

`Speaker.say()` only queues; which sentence comes next, and which are dropped or cut off, is the
pure policy of `speech_queue`. Here is the thread that voices them: a watchdog stops an utterance
that runs far past its length, and a failing backend is restarted. A sentence that fails
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

from .core import Utterance
from .run_context import StandardOutput
from .shown import excerpt
from .speech_engines import MAX_RATE_WPM, MIN_RATE_WPM
from .speech_queue import Pending, SpeechQueue
from .voices import Backend, OutputClosed, PrintBackend, VoiceSettings


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


class Speaker:
    """A single worker thread that voices queued utterances, most urgent first, dropping stale ones.

    `on_spoken(Spoken)` is called on the worker thread after each utterance is voiced;
    `warn(sentence)` hears once of a sentence the engine cannot say, and once if the worker
    has to fall back to printing; whatever it prints goes to `stdout` (the run's standard output).
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
        self.max_failures = max_failures
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
        self._wake = threading.Condition()
        self._closing = False
        self._ready = threading.Event()
        self._current: Pending | None = None
        self._cut = False
        self._configured: VoiceSettings | None = None
        self._generation = 0
        self._failures = 0  # failed attempts in a row
        self._failed_sentences: set[str] = set()  # sentences given up since the engine last spoke
        self._unsayable_texts: set[str] = set()  # sentences this engine cannot say: printed instead
        self._restart_due = False
        self._thread = self._start_worker()

    @property
    def busy(self) -> bool:
        """True while a phrase is being voiced."""
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
        with self._wake:
            current = self._current
            if self._queue.push(utterance, time.monotonic(), current.utterance if current else None,
                                self.backend.interruptible, self._cut):
                self._cut = True
                self.backend.stop()
            self._wake.notify()

    def clear(self) -> None:
        """Drop every phrase still waiting (the one being spoken finishes)."""
        with self._wake:
            self._queue.clear()

    def seconds_for(self, text: str) -> float:
        """About how long the text takes to say at the current rate."""
        with self._wake:
            return self.settings.seconds_for(text)

    def wait_idle(self, timeout_s: float = 60.0, stop: threading.Event | None = None) -> None:
        """Block until nothing is being said or waiting to be said (or `timeout_s` passes, or `stop` is set)."""
        deadline = time.monotonic() + timeout_s
        while (self.busy or self.queued) and time.monotonic() < deadline and not (stop and stop.is_set()):
            time.sleep(0.005)

    def adjust(self, settings: VoiceSettings | None = None, max_age_s: float | None = None,
               rate_step_wpm: int = 0) -> VoiceSettings:
        """The one way to change live settings, from the next phrase on: new voice settings and
        freshness limit (a reloaded profile), or a rate step (clamped). Returns the settings now.
        Under the lock, because the worker thread reads them."""
        with self._wake:
            if settings is not None:
                self.settings = settings
            if max_age_s is not None:
                self._queue.max_age_s = max_age_s
            if rate_step_wpm:
                rate = max(MIN_RATE_WPM, min(MAX_RATE_WPM, self.settings.rate_wpm + rate_step_wpm))
                self.settings = replace(self.settings, rate_wpm=rate)
            return self.settings

    def close(self, drain: bool = True, timeout_s: float = 30.0) -> None:
        """Stop the worker; with `drain`, first voice what is queued and still fresh."""
        with self._wake:
            if not drain:
                self._queue.clear()
                if self._current is not None:
                    self.backend.stop()  # quitting: do not finish the sentence either
            self._closing = True
            self._wake.notify_all()
        self._thread.join(timeout_s)

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        """Block until the backend has started (or fallen back to printing)."""
        self._ready.wait(timeout_s)

    def _start_worker(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, args=(self._generation,), name="speech", daemon=True)
        thread.start()
        return thread

    def _run(self, generation: int) -> None:
        self._start_backend()
        self._ready.set()
        while generation == self._generation:
            with self._wake:
                while not self._queue and not self._closing:
                    self._wake.wait()
                item = self._queue.pop(time.monotonic())  # under the lock: say() pushes from the camera thread
                if item is None:
                    if self._closing:
                        break
                    continue
                settings = self.settings
                self.backend.arm()  # before the phrase is current, so any stop() from now on counts
                self._current, self._cut = item, False
            self._voice(item, settings, generation)
        if generation == self._generation:
            self.backend.close()

    def _start_backend(self) -> None:
        try:
            self.backend.open()
        except Exception as exc:
            self._fall_back(str(exc))

    def _fall_back(self, reason: str) -> None:
        self.warn(f"{reason.rstrip('.')}; printing what would be said instead.")
        self.backend = PrintBackend(self.stdout)
        self.printing = True

    def _voice(self, item: Pending, settings: VoiceSettings, generation: int) -> None:
        """Speak one item under the watchdog; a failure restarts the backend and retries while fresh."""
        self._number += 1
        self.last_spoken = item.utterance.text  # what the listener is hearing now, or heard last
        if self._restart_due and not self.printing:
            self._restart()
        started = time.monotonic()
        finished = threading.Event()
        limit_s = self.watchdog_s + 2 * settings.seconds_for(item.utterance.text)
        watchdog = threading.Timer(limit_s, self._on_hang, args=(item, finished, generation))
        watchdog.daemon = True
        watchdog.start()
        failure, wav, closed = None, None, False
        try:
            if self._configured != settings:
                self._configured = settings
                self.backend.configure(settings)
            if item.utterance.text in self._unsayable_texts:  # given up before: not tried again
                PrintBackend(self.stdout).speak(item.utterance, self._number)
            else:
                wav = self.backend.speak(item.utterance, self._number)
        except OutputClosed:
            closed = True
        except Exception as exc:
            failure = f"Speech failed ({str(exc) or type(exc).__name__})"
        finally:
            finished.set()
            watchdog.cancel()
        with self._wake:
            if generation != self._generation:
                return  # the watchdog gave up on this thread; a new worker owns the speaker now
            cut, self._current = self._cut, None
        if closed:
            self._output_closed()
            return
        if failure is None and time.monotonic() - started >= limit_s:
            failure = f"Speech took over {limit_s:.0f} s and was stopped"
        if failure is not None:
            if self._retry(item, failure):
                return
            if not self._print(item.utterance):
                return
        elif not self.printing and item.utterance.text not in self._unsayable_texts:
            self._failures = 0
            self._failed_sentences.clear()
        self.spoken += 1
        if self.on_spoken is not None:
            record = Spoken(item.utterance, wav, item.queued_s, started, time.monotonic(), item.interrupted, cut)
            try:
                self.on_spoken(record)
            except Exception as exc:  # e.g. the transcript's disk is full: keep speaking, say so once
                self.on_spoken = None
                self.warn(f"Could not record what was said ({exc}); speaking on without recording.")

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

    def _requeue(self, item: Pending) -> None:
        """Put a phrase back to try again; it is still dropped if it has gone stale meanwhile."""
        with self._wake:
            self._queue.requeue(item)
            self._wake.notify()

    def _retry(self, item: Pending, reason: str) -> bool:
        """After a failed attempt: True if the phrase was put back to try on a fresh engine; else it
        is given up, and the caller prints it."""
        self._failures += 1
        self._restart_due = True
        if self._may_retry() and not self.printing:
            self._requeue(item)
            return True
        if not self.printing:
            self._give_up(item.utterance.text, reason)
        return False

    def _may_retry(self) -> bool:
        """Whether a phrase that just failed is tried again: up to `max_failures` times, but only
        once while the engine has not spoken since it last gave a sentence up."""
        return self._failures < (1 if self._failed_sentences else self.max_failures)

    def _give_up(self, text: str, reason: str) -> None:
        """A sentence failed `max_failures` times: this engine cannot say it, and it is printed from
        now on; when `max_failures` different sentences fail in a row, the engine is broken."""
        if self._failures > 1:
            reason = f"{reason}, {self._failures} times in a row"
        self._failures = 0
        self._failed_sentences.add(text)
        if len(self._failed_sentences) >= self.max_failures:
            n = len(self._failed_sentences)
            self._fall_back(reason + (f", on {n} different sentences" if n > 1 else ""))
            return
        if not self._unsayable_texts:
            self.warn(f"{reason} on one sentence ({excerpt(text)}); speech goes on, and that sentence is "
                      "printed instead.")
        self._unsayable_texts.add(text)

    def _restart(self) -> None:
        """A fresh engine in place of one that failed."""
        self._restart_due = False
        self.restarts += 1
        with contextlib.suppress(Exception):  # a broken engine may fail to close too; it is replaced anyway
            self.backend.close()
        self.backend = self.backend.fresh()
        self._configured = None
        self._start_backend()

    def _on_hang(self, item: Pending, finished: threading.Event, generation: int) -> None:
        """The watchdog: stop a phrase that ran too long; if the backend ignores that, replace the worker."""
        self.backend.stop()
        if finished.wait(2.0):
            return
        with self._wake:  # the worker checks the generation under this lock too: one side recovers
            if finished.is_set() or generation != self._generation:
                return
            self._generation += 1
            self._current = None
            self._configured = None
            self._failures += 1
            if not self._may_retry():
                self._give_up(item.utterance.text, "Speech stopped responding")
            if not self.printing:
                self.backend = self.backend.fresh()  # the stuck one is abandoned, not closed
                self.restarts += 1
        self._requeue(item)  # tried again, or printed when given up
        self._thread = self._start_worker()
