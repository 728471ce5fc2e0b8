"""`python -m assistant` and the `assistant` command: the process around one run. A signal at any
moment, even while the program is still loading, ends it quietly: Ctrl-C with exit code 130, as
shells expect, and SIGTERM or SIGHUP (a stopped service, a closed terminal) with 0.
What a run changes is held by its RunContext; what is set here is the process's, for its whole life."""

import contextlib
import os
import sys

from .process.run_context import RunContext
from .process.signals import EXIT_INTERRUPTED, EXIT_OK, Stopped, stop_at_once, stopped_by


def entry() -> int:
    standard_streams()
    try:
        stop_at_once()  # before the slow imports: a service stopped while loading still exits cleanly
        with RunContext() as context:
            try:
                from .cli import run_command

                code = run_command(sys.argv[1:], context)
            except KeyboardInterrupt:
                code = EXIT_INTERRUPTED
            except Stopped:
                code = EXIT_OK
            except ImportError as exc:  # a signal inside an extension module's initialisation
                stop = stopped_by(exc)
                if stop is None:
                    raise
                code = EXIT_INTERRUPTED if isinstance(stop, KeyboardInterrupt) else EXIT_OK
            return leave(code, context)
    except KeyboardInterrupt:  # while the handlers are first set, or once the run's own are given back
        return EXIT_INTERRUPTED
    except Stopped:
        return EXIT_OK


def standard_streams() -> None:
    """Make stdin, stdout and stderr usable whatever the caller left: one closed (`2>&-`, a bare
    service) becomes /dev/null, for Python leaves its stream None and the next file opened would take
    its descriptor, where native code (OpenCV, TFLite) would then write its logs. And a character the
    terminal cannot encode (a file name that is not UTF-8) is printed escaped instead of ending the run."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: `fd` itself
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115 - it lives as long as the process
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):  # not a TextIOWrapper: nothing to reconfigure
            stream.reconfigure(errors="backslashreplace")


def leave(code: int, context: RunContext) -> int:
    """The exit code, or exit at once with it while a capture thread of the run is still inside an
    OpenCV call (a stream that stalled or is still opening), or after a Ctrl-C, which may have cut an
    extension module's import short: finalizing Python under either ends the process with SIGABRT
    ("FATAL: exception not rethrown", "Fatal Python error") instead of `code`."""
    if code == EXIT_INTERRUPTED or context.captures.running():
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed pipe has nothing left to flush to
                stream.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(entry())
