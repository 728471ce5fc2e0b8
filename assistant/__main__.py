"""`python -m assistant` and the `assistant` command. A signal at any moment, even while the
program is still loading, ends it quietly: Ctrl-C with exit code 130, as shells expect, and
SIGTERM or SIGHUP (a stopped service, a closed terminal) with 0."""

import contextlib
import os
import sys

from .signals import EXIT_INTERRUPTED, EXIT_OK, Stopped, stop_at_once


def entry() -> int:
    stop_at_once()  # before the slow imports: a service stopped while loading still exits cleanly
    try:
        from .cli import main

        code = main()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except Stopped:
        code = EXIT_OK
    return leave(code)


def leave(code: int) -> int:
    """The exit code, or exit at once with it while a capture thread is still inside an OpenCV call
    (a stream that stalled or is still opening): finalizing Python under that thread ends the
    process with glibc's "FATAL: exception not rethrown" and SIGABRT instead of `code`."""
    capture = sys.modules.get("assistant.capture")  # never imported: no capture thread to wait for
    if capture is not None and capture.still_running():
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed pipe has nothing left to flush to
                stream.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(entry())
