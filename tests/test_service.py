"""Running with no terminal: as a systemd service, or started with setsid on a wearable computer."""

import os
import pty
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import REALTIME, ROOT, VIDEOS, as_from_a_terminal

pytestmark = REALTIME  # signals timed against a running process

UNIT = ROOT / "docs" / "assistant.service"
CAR_VIDEO = VIDEOS / "car-detection.mp4"


def unit_settings() -> dict[str, str]:
    settings = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings[key] = value
    return settings


def test_the_unit_runs_the_assistant_with_no_stdin_and_stops_on_sigterm() -> None:
    unit = unit_settings()
    assert unit["StandardInput"] == "null" and unit["KillSignal"] == "SIGTERM"
    command = shlex.split(unit["ExecStart"])
    assert command[0].endswith("/.venv/bin/assistant") and command[1] == "run"
    # The unit's own command, with this machine's paths: no terminal, stdin from /dev/null, its own session.
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--source", str(CAR_VIDEO), "--realtime", "--speech", "print"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        start_new_session=True,
    )
    assert process.stdout.readline(), process.stderr.read()  # its first sentence: the run is under way
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "error" not in stderr and "frames in" in stderr.strip().splitlines()[-1]


def test_setsid_with_a_terminal_that_is_not_ours_runs_without_keys(tmp_path: Path) -> None:
    """`setsid assistant run` from a terminal: stdin is a tty, but not the controlling terminal."""
    master, slave = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "assistant", "run", "--source", str(CAR_VIDEO), "--speech", "none",
             "--max-frames", "5"],
            stdin=slave, capture_output=True, text=True, cwd=ROOT, start_new_session=True, timeout=120,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert result.returncode == 0, result.stderr
    assert "Inappropriate ioctl" not in result.stderr and "5 frames" in result.stderr


def test_ctrl_c_at_any_moment_exits_130_without_a_traceback() -> None:
    for delay_s in (0.2, 0.5, 1.0, 2.0, 6.0):  # while Python loads, while the model loads, while running
        process = subprocess.Popen(
            [sys.executable, "-m", "assistant", "run", "--source", str(CAR_VIDEO), "--realtime", "--speech", "none"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            preexec_fn=as_from_a_terminal,
        )
        time.sleep(delay_s)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
        # Before Python has even installed its handler, the signal ends the process the default
        # way (-SIGINT here), which a shell reports as 130 as well; either way, no traceback.
        assert process.returncode in (130, -signal.SIGINT), (delay_s, stderr)
        assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, (delay_s, stderr)
