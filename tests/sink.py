"""What a listener would hear: record a PulseAudio null sink's monitor with parec, stamping each
chunk with `time.monotonic()` as it arrives, so sound can be lined up with what the program did."""

from __future__ import annotations

import subprocess
import threading
import time

import numpy as np

RATE = 22050  # espeak-ng's own rate, so recorded and rendered samples line up one to one
CHUNK = 512  # bytes: 128 stereo frames, about 6 ms
QUIET = 0.01  # a sample under this (of full scale) on both channels is silence


class SinkRecorder:
    """`with SinkRecorder(env) as rec:` records the 'silent' sink until the block ends."""

    def __init__(self, env: dict[str, str], sink: str = "silent"):
        self.env, self.sink = env, sink
        self._chunks: list[tuple[float, bytes]] = []
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SinkRecorder:
        self._process = subprocess.Popen(
            ["parec", "-d", f"{self.sink}.monitor", "--format=s16le", f"--rate={RATE}", "--channels=2",
             "--latency-msec=5", "--raw"], stdout=subprocess.PIPE, env=self.env)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self._chunks and time.monotonic() < deadline:  # recording has really begun
            time.sleep(0.01)
        return self

    def _read(self) -> None:
        while True:
            data = self._process.stdout.read1(CHUNK)
            if not data:
                return
            self._chunks.append((time.monotonic(), data))

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.wait(5)
        self._thread.join(5)

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """The recording as (n, 2) floats in -1..1, and each frame's arrival time (monotonic seconds)."""
        raw = b"".join(data for _, data in self._chunks)
        usable = len(raw) // 4 * 4
        frames = np.frombuffer(raw[:usable], "<i2").reshape(-1, 2).astype(np.float32) / 32768
        times = np.empty(len(frames))
        end = 0
        for arrived, data in self._chunks:  # each chunk's last frame arrived when the chunk did
            count = len(data) // 4
            times[end:end + count] = arrived - (count - 1 - np.arange(count)) / RATE
            end += count
            if end >= len(frames):
                break
        return frames, times[:len(frames)]


def loud(frames: np.ndarray) -> np.ndarray:
    """Indices of frames that are not silence."""
    return np.nonzero(np.abs(frames).max(axis=1) > QUIET)[0]


def level_difference_db(frames: np.ndarray) -> float:
    """Right minus left, in dB of RMS: positive when the sound is to the right."""
    left, right = (float(np.sqrt(np.mean(frames[:, c] ** 2))) + 1e-9 for c in (0, 1))
    return 20 * np.log10(right / left)
