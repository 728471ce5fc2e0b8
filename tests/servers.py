"""Helper servers for tests and benchmarks: a silent PulseAudio, and any server that makes a socket."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def server(command: list[str], ready: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    """Run a helper server until the with-block ends, once `ready` exists (its socket)."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not ready.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"{command[0]} did not start")
        time.sleep(0.05)
    try:
        yield
    finally:
        process.terminate()
        process.wait(5)


@contextlib.contextmanager
def null_sink_server(runtime: Path) -> Iterator[dict[str, str]]:
    """A PulseAudio server whose only output is a null sink named 'silent': audio plays in real
    time, silently. Yields the environment variables that point programs at it."""
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)
    env = {"XDG_RUNTIME_DIR": str(runtime), "PULSE_SERVER": f"unix:{runtime}/pulse/native"}
    command = ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
               "--load=module-null-sink sink_name=silent", "--load=module-native-protocol-unix"]
    with server(command, runtime / "pulse" / "native", {**os.environ, **env}):
        yield env
