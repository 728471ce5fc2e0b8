"""The signals that stop the assistant: Ctrl-C (exit 130), and SIGTERM or SIGHUP (a stopped
service, a closed terminal), which end it like a finished run (exit 0)."""

from __future__ import annotations

import signal

EXIT_OK, EXIT_INTERRUPTED = 0, 130


class Stopped(BaseException):
    """SIGTERM or SIGHUP before a command took the signals over for a clean stop of its own."""


# The signals raised as exceptions so far. Python swallows an exception raised where it cannot
# propagate (a weakref callback inside an import, a __del__: "Exception ignored in ..."), so a
# signal that landed there would be lost; the command's own handler is given it instead.
_raised: list[int] = []


def stop_signals() -> tuple[int, ...]:
    """SIGTERM and SIGHUP where the platform has them (Windows has no SIGHUP)."""
    return tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


def _raise(signum: int, _frame: object) -> None:
    _raised.append(signum)
    raise KeyboardInterrupt if signum == signal.SIGINT else Stopped


def stop_at_once() -> None:
    """SIGTERM and SIGHUP raise Stopped from now on, and Ctrl-C KeyboardInterrupt (unless it is
    ignored, as in a background job), save while a command has handlers of its own (which its
    RunContext then puts back). For `python -m assistant`, which owns the process."""
    for signum in stop_signals():
        signal.signal(signum, _raise)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise)


def raised_before(signums: tuple[int, ...]) -> list[int]:
    """Those of `signums` raised so far, forgotten once asked for: a handler taking them over is
    given them, in case their exception was swallowed."""
    taken = [s for s in _raised if s in signums]
    _raised[:] = [s for s in _raised if s not in signums]
    return taken


def stopped_by(exc: BaseException) -> BaseException | None:
    """The KeyboardInterrupt or Stopped that `exc` was raised from or during, if any: a signal that
    lands inside an extension module's initialisation comes back as its ImportError."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, (KeyboardInterrupt, Stopped)):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None
