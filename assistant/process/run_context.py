"""The process-wide state one run of the `assistant` command changes, held in one place and given back.

A `RunContext` is entered around one command (`assistant.cli.main`, or `python -m assistant`).
For its length it owns, and on exit restores:
- the handlers of the signals the command takes over (`handle_signals`);
- the environment values it sets for native libraries (`set_default_env`): OpenCV's and FFmpeg's
  log levels, and FFmpeg's options for streams;
- whether standard output was closed by its reader (`stdout`), and the null device put in its place;
- the capture threads it started (`captures`), so the end of a process can tell whether one is
  still inside an OpenCV call.
So the command can run twice in one process, or under a host (the tests, a server), and leave it as
it found it.

Some state is the process's and stays so, because it cannot be given back meaningfully:
- GLOG_minloglevel, TF_CPP_MIN_LOG_LEVEL and MPLCONFIGDIR (detector.py) are import-time defaults:
  MediaPipe's native logging and Matplotlib read them once, when they are first imported;
- OpenCV reads OPENCV_LOG_LEVEL and FFmpeg's log level once, when it first logs: the values are
  restored in os.environ, but a later run in the same process keeps the level the first one set;
- the SIGTERM and SIGHUP handlers `python -m assistant` sets before its slow imports, and the
  /dev/null it puts in place of a closed standard stream (__main__.py), last as long as the process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from types import FrameType, TracebackType

from . import signals

Handler = Callable[[int, FrameType | None], object]


class StandardOutput:
    """Standard output as one run sees it: open, until its reader goes away (`| head -1`).
    Then it is `closed` for the rest of the run, and its descriptor points at the null device, so
    nothing later fails on it either, until `restore` points it back."""

    def __init__(self) -> None:
        self.closed = False
        self._saved: int | None = None

    def close(self) -> None:
        """The reader went away: drop what is still buffered for it, and print nowhere from now on."""
        if self.closed:
            return
        self.closed = True
        fd = sys.stdout.fileno()
        self._saved = os.dup(fd)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
        with contextlib.suppress(OSError, ValueError):  # the unsent lines go to the null device, not to exit
            sys.stdout.flush()

    def restore(self) -> None:
        """Point the descriptor back where it was before `close`."""
        if self._saved is not None:
            os.dup2(self._saved, sys.stdout.fileno())
            os.close(self._saved)
            self._saved = None


class CaptureThreads:
    """The capture threads a run started; one may be left stuck in a stalled stream's read."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def add(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.append(thread)

    def running(self) -> bool:
        """Whether any of them is still alive."""
        with self._lock:
            return any(thread.is_alive() for thread in self._threads)


class RunContext:
    """The state one run changes, restored when the `with` block ends."""

    def __init__(self) -> None:
        self.stdout = StandardOutput()
        self.captures = CaptureThreads()
        self._handlers: dict[int, Handler | int] = {}
        self._added_env: list[str] = []

    def __enter__(self) -> RunContext:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.restore()

    def handle_signals(self, signums: Iterable[int], handler: Handler) -> bool:
        """Send these signals to `handler` until the run ends. Only the main thread may set handlers:
        elsewhere (a server's worker) the host keeps its own, and this returns False."""
        if threading.current_thread() is not threading.main_thread():
            return False
        signums = tuple(signums)
        for signum in signums:
            previous = signal.signal(signum, handler)
            if previous is not None:  # None: set outside Python, so it cannot be set back from here
                self._handlers.setdefault(signum, previous)
        for signum in signals.raised_before(signums):  # its exception may have been swallowed while loading
            handler(signum, None)
        return True

    def set_default_env(self, name: str, value: str) -> None:
        """As `os.environ.setdefault`, for this run only: a value the caller set is kept."""
        if name not in os.environ:
            os.environ[name] = value
            self._added_env.append(name)

    def restore(self) -> None:
        """Give back the signal handlers, the environment and standard output as they were."""
        for signum, handler in self._handlers.items():
            signal.signal(signum, handler)
        self._handlers.clear()
        for name in self._added_env:
            os.environ.pop(name, None)
        self._added_env.clear()
        self.stdout.restore()


class _Silence:
    """Who is silencing file descriptor 2 now. The first to come saves it and the last to leave puts
    it back: two threads that overlap (the loop loading a model, the page decoding a photo) must not
    each save the other's /dev/null and leave stderr silenced for good."""

    lock = threading.Lock()
    depth = 0
    saved: int | None = None


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Hide what native code (TFLite starting a graph, libjpeg on a cut-off file) writes to file descriptor 2."""
    with _Silence.lock:
        if _Silence.depth == 0:
            sys.stderr.flush()
            _Silence.saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        _Silence.depth += 1
    try:
        yield
    finally:
        with _Silence.lock:
            _Silence.depth -= 1
            if _Silence.depth == 0 and _Silence.saved is not None:
                os.dup2(_Silence.saved, 2)
                os.close(_Silence.saved)
                _Silence.saved = None
