"""The signals that stop the assistant: Ctrl-C (exit 130), and SIGTERM or SIGHUP (a stopped
service, a closed terminal), which end it like a finished run (exit 0)."""

from __future__ import annotations

import signal

EXIT_OK, EXIT_INTERRUPTED = 0, 130


class Stopped(BaseException):
    """SIGTERM or SIGHUP before a command took the signals over for a clean stop of its own."""


def stop_signals() -> tuple[int, ...]:
    """SIGTERM and SIGHUP where the platform has them (Windows has no SIGHUP)."""
    return tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


def _raise_stopped(_signum: int, _frame: object) -> None:
    raise Stopped


def stop_at_once() -> None:
    """SIGTERM and SIGHUP raise Stopped from now on, save while a command has handlers of its own
    (which its RunContext then puts back). For `python -m assistant`, which owns the process."""
    for signum in stop_signals():
        signal.signal(signum, _raise_stopped)
