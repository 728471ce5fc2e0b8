"""A real live stream for tests and benchmarks: frames piped into ffmpeg and sent as MPEG-TS over UDP.

The sender paces the frames itself at the stream's rate and notes the wall-clock time each scene
change was sent, so a test can measure from the moment the world changed to the moment it was said.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

SIZE = (640, 480)
FPS = 30


def photo(path: Path, brightness: float = 1.0) -> np.ndarray:
    """A photo as a BGR frame of the stream's size, optionally dimmed."""
    bgr = cv2.resize(cv2.imread(str(path)), SIZE, interpolation=cv2.INTER_AREA)
    return np.clip(bgr.astype(np.float32) * brightness, 0, 255).astype(np.uint8) if brightness != 1 else bgr


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StreamSender:
    """Streams `scene(seconds)` (a BGR frame for each moment) to udp://127.0.0.1:`port` at `fps`.

    `changes` lists (wall-clock `time.monotonic()`, frame) for every frame that differs from the
    one before, i.e. when each new scene was first sent.
    """

    def __init__(self, port: int, scene: Callable[[float], np.ndarray], fps: int = FPS):
        if shutil.which("ffmpeg") is None:
            raise RuntimeError("ffmpeg is not installed")
        self.url = f"udp://127.0.0.1:{port}"
        self.scene, self.fps = scene, fps
        self.changes: list[tuple[float, np.ndarray]] = []
        self.started_s = 0.0
        self.sent = 0
        self._stop = threading.Event()
        self._process = subprocess.Popen(
            ["ffmpeg", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{SIZE[0]}x{SIZE[1]}",
             "-r", str(fps), "-i", "-", "-c:v", "mpeg2video", "-q:v", "5", "-g", str(fps // 2), "-f", "mpegts",
             f"{self.url}?pkt_size=1316"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self._thread = threading.Thread(target=self._send, name="sender", daemon=True)
        self._thread.start()

    def _send(self) -> None:
        self.started_s = start = time.monotonic()
        previous = None
        index = 0
        while not self._stop.is_set():
            if self._stop.wait(max(0.0, start + index / self.fps - time.monotonic())):
                break
            frame = self.scene(index / self.fps)
            try:
                self._process.stdin.write(frame.tobytes())
                self._process.stdin.flush()
            except (BrokenPipeError, ValueError):
                return
            if frame is not previous:
                self.changes.append((time.monotonic(), frame))
                previous = frame
            index += 1
            self.sent = index

    def stop(self) -> None:
        """Stop sending, as a camera that was switched off."""
        self._stop.set()
        self._thread.join(2)
        with contextlib.suppress(BrokenPipeError, ValueError):
            self._process.stdin.close()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@contextlib.contextmanager
def stream(port: int, scene: Callable[[float], np.ndarray], fps: int = FPS) -> Iterator[StreamSender]:
    sender = StreamSender(port, scene, fps)
    try:
        yield sender
    finally:
        sender.stop()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port on loopback that accepts connections and never answers: a host that hangs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
