"""Keys while running: single key presses from the terminal (no Enter, no window needed)."""

from __future__ import annotations

import enum
import os
import select
import sys
import threading
from collections.abc import Callable
from typing import TextIO


class Command(enum.Enum):
    REPEAT = "repeat the last sentence"
    DESCRIBE = "describe everything in view now"
    PAUSE = "pause or resume speech"
    FASTER = "speak faster"
    SLOWER = "speak slower"
    QUIT = "quit"


KEYS = {" ": Command.REPEAT, "d": Command.DESCRIBE, "p": Command.PAUSE, "+": Command.FASTER, "=": Command.FASTER,
        "-": Command.SLOWER, "q": Command.QUIT}
# Plain sentences that a screen reader reads well, for --help and the README.
KEY_HELP = ("Keys while running: space repeats the last sentence. d describes everything in view now. "
            "p pauses and resumes. Plus and minus make speech faster and slower. q quits.")
VIEW_KEY_HELP = ("In the debug view's window: h shows or hides the heatmap. b shows or hides the boxes. "
                 "s saves a snapshot. The keys above work there too.")
RATE_STEP_WPM = 25


def command_for(key: str) -> Command | None:
    """The command for one key press, ignoring case; None for any other key."""
    return KEYS.get(key.lower())


class TerminalKeys:
    """Turns key presses on a terminal into commands, on a background thread.

    On Linux and macOS, inside `with`, the terminal is in cbreak mode (keys arrive without Enter,
    Ctrl+C still works) and is restored on exit. On Windows, keys come from the console through
    `msvcrt`, which needs no mode. When there is no stdin, it is not a terminal, it is not the
    process's controlling terminal (a service, or `setsid`), or the process runs in the
    background, nothing is read and nothing is said: the assistant runs without keys.
    """

    def __init__(self, on_command: Callable[[Command], None], stream: TextIO = sys.stdin):
        self.on_command = on_command
        self.stream = stream
        self._saved: list | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> TerminalKeys:
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return self
        if sys.platform == "win32":
            if os.isatty(fd):
                self._start(self._read_console)
            return self
        if not _foreground_terminal(fd):
            return self
        try:
            import termios  # Unix only: imported here so that the rest of the program starts anywhere
            import tty
        except ImportError:
            return self
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._start(lambda: self._read(fd))
        return self

    def _start(self, reader: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=reader, name="keys", daemon=True)
        self._thread.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)

    def _read(self, fd: int) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            data = os.read(fd, 32)
            if not data:
                return
            for key in data.decode(errors="ignore"):
                self._press(key)

    def _read_console(self) -> None:
        """Windows: poll the console for key presses (msvcrt has no blocking read with a timeout)."""
        import msvcrt

        while not self._stop.wait(0.05):
            while msvcrt.kbhit():
                self._press(msvcrt.getwch())

    def _press(self, key: str) -> None:
        command = command_for(key)
        if command is not None:
            self.on_command(command)


def _foreground_terminal(fd: int) -> bool:
    """Whether `fd` is our controlling terminal and we are in its foreground (reading it in the
    background would stop the process)."""
    try:
        return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
    except (OSError, AttributeError):  # no controlling terminal (ENOTTY), or no job control (Windows)
        return False
