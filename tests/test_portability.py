"""It starts where Unix's terminal modules do not exist (Windows): the real commands run in a Python
whose `termios`, `tty` and `fcntl` cannot be imported, and keys come from the console there."""

import fcntl
import os
import pty
import subprocess
import sys
import termios
import threading
import time

import pytest

from assistant.runtime.controls import Command, TerminalKeys

from .conftest import IMAGES, ROOT, VIDEOS

BLOCKER = '''import sys
class _AsOnWindows:
    def find_spec(self, name, path=None, target=None):
        if name in ("termios", "tty", "fcntl"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _AsOnWindows())
'''


@pytest.fixture(scope="module")
def no_unix_terminal(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose Python fails to import termios, tty and fcntl, through a sitecustomize."""
    folder = tmp_path_factory.mktemp("as-on-windows")
    (folder / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(folder)}
    check = subprocess.run([sys.executable, "-c", "import termios"], capture_output=True, text=True, env=env)
    assert check.returncode != 0 and "No module named 'termios'" in check.stderr  # the blocker works
    return env


@pytest.mark.parametrize("args", [
    ["--help"],
    ["describe", str(IMAGES / "darknet_dog.jpg")],
    ["run", "--speech", "print", "--source", str(VIDEOS / "face-demographics-walking.gif"), "--max-frames", "5"],
    ["profiles", "check", str(ROOT / "profiles" / "default.yaml")],
])
def test_commands_run_without_unix_terminal_modules(no_unix_terminal: dict[str, str], args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=120,
                            cwd=ROOT, env=no_unix_terminal, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "No module named" not in result.stderr and "Traceback" not in result.stderr


def test_a_run_at_a_real_terminal_without_termios_goes_on_without_keys(no_unix_terminal: dict[str, str]) -> None:
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--speech", "print", "--source",
         str(VIDEOS / "face-demographics-walking.gif"), "--max-frames", "5"],
        stdin=slave, stdout=slave, stderr=subprocess.PIPE, cwd=ROOT, env=no_unix_terminal,
        start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    try:
        assert process.wait(120) == 0
        assert "frames in" in process.stderr.read().decode()
    finally:
        process.kill()
        os.close(master)


class _Console:
    """msvcrt's two calls, fed from a string: the console as Windows hands it to a program."""

    def __init__(self, keys: str):
        self.keys = list(keys)

    def kbhit(self) -> bool:
        return bool(self.keys)

    def getwch(self) -> str:
        return self.keys.pop(0)


def test_windows_keys_come_from_the_console(monkeypatch: pytest.MonkeyPatch) -> None:
    master, slave = pty.openpty()  # a terminal for isatty(); msvcrt supplies the keys
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "msvcrt", _Console("dxq"))
    heard: list[Command] = []
    done = threading.Event()

    def on_command(command: Command) -> None:
        heard.append(command)
        if command is Command.QUIT:
            done.set()

    stream = os.fdopen(os.dup(slave), "r")
    try:
        with TerminalKeys(on_command, stream):
            assert done.wait(5)
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline and len(heard) < 2:
            time.sleep(0.01)
        assert heard == [Command.DESCRIBE, Command.QUIT]
    finally:
        stream.close()
        os.close(master)
        os.close(slave)
