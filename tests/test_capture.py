"""The newest-frame buffer, the capture thread on a real video, and the lost/covered policies."""

import threading
import time

import cv2
import numpy as np
import pytest

from assistant.sources.camera_watch import COVER_HOLD_MS, UNCOVER_HOLD_MS, CoverWatch, LossWatch, looks_covered, luminance
from assistant.sources.capture import Capture, NewestFrame, open_file
from assistant.errors import SourceError
from assistant.sources.source import open_source

from .conftest import IMAGES, REALTIME, VIDEOS

pytestmark = REALTIME  # frame periods measured in real time

CAR_VIDEO = VIDEOS / "car-detection.mp4"  # 377 frames at 12.5 fps


def test_the_consumer_gets_only_the_newest_and_never_the_same_twice() -> None:
    box: NewestFrame[int] = NewestFrame()
    for i in range(3):
        box.put(i)
    assert box.take(0) == 2
    assert box.take(0) is None  # already seen: never handed out again
    box.put(3)
    assert box.take(0) == 3
    assert box.dropped == 2  # 0 and 1 were never taken


def test_a_slow_consumer_never_gets_an_old_frame() -> None:
    box: NewestFrame[int] = NewestFrame()
    total = 600

    def produce() -> None:
        for i in range(total):
            box.put(i)
            time.sleep(0.0005)
        box.close()

    producer = threading.Thread(target=produce)
    producer.start()
    taken = []
    while (item := box.take(1.0)) is not None:
        taken.append(item)
        time.sleep(0.01)  # a slow detector
    producer.join()
    assert taken == sorted(set(taken))  # strictly newer every time
    assert taken[-1] == total - 1  # the last frame is still delivered after close
    assert len(taken) + box.dropped == total  # every frame is either taken or counted as dropped
    assert box.dropped > total / 2


def test_close_wakes_a_waiting_consumer_at_once() -> None:
    box: NewestFrame[int] = NewestFrame()
    threading.Timer(0.1, box.close).start()
    started = time.monotonic()
    assert box.take(10) is None
    assert time.monotonic() - started < 1
    assert box.finished


def test_a_paced_file_drops_what_a_slow_reader_misses_and_closes_cleanly() -> None:
    capture = open_file(str(CAR_VIDEO), "car video")
    paced = Capture(lambda: capture, "car video", pace_fps=12.5)
    time.sleep(0.3)
    assert paced.frames.take(0) is None  # a file waits for the loop to be ready
    paced.play()
    taken = []
    while len(taken) < 8:
        item = paced.frames.take(2.0)
        assert item is not None
        taken.append(item)
        time.sleep(0.25)  # about three frame periods
    paced.stop()
    indices = [item.index for item in taken]
    assert indices == sorted(set(indices))
    assert paced.frames.dropped >= 8  # two or three frames skipped per step
    assert all(item.timestamp_ms == round(item.index * 80) for item in taken)  # media time
    assert not paced._thread.is_alive()  # it ended and released the file


def test_a_failed_first_open_is_kept_for_the_reader() -> None:
    def refuse() -> cv2.VideoCapture:
        raise SourceError("No camera found at index 7; connect one.")

    capture = Capture(refuse, "camera 7")
    assert capture.opened.wait(2)
    assert isinstance(capture.error, SourceError) and capture.frames.finished


def test_realtime_file_source_yields_new_frames_in_order() -> None:
    with open_source(str(CAR_VIDEO), realtime=True) as source:
        frames = []
        for frame in source:
            if frame is not None:
                frames.append(frame)
                time.sleep(0.2)
            if len(frames) == 5:
                break
    assert [f.index for f in frames] == sorted({f.index for f in frames})
    assert all(f.captured_s > 0 and f.image.shape == (432, 768, 3) for f in frames)


def frames_between(start_s: float, end_s: float, fps: float = 10) -> list[float]:
    return [start_s + i / fps for i in range(round((end_s - start_s) * fps))]


def watch(steps: list[tuple[float, list[float]]], timeout_s: float = 2.0) -> tuple[LossWatch, list[str | None]]:
    """Feed a LossWatch one loop step at a time: (now, the times frames arrived since the last step)."""
    loss, read, newest, events = LossWatch(timeout_s), 0, None, []
    for now_s, arrivals in steps:
        read, newest = read + len(arrivals), arrivals[-1] if arrivals else newest
        events.append(loss.update(now_s, read, newest))
    return loss, events


def every_tenth(until_s: float, arrivals: list[float]) -> list[tuple[float, list[float]]]:
    """A loop stepping every 0.1 s, each step given the frames that arrived since the one before."""
    return [(round(t * 0.1, 1), [a for a in arrivals if (t - 1) * 0.1 < a <= t * 0.1 + 1e-9])
            for t in range(round(until_s * 10) + 1)]


def said(events: list[str | None], steps: list) -> list[tuple[float, str]]:
    return [(now, event) for (now, _), event in zip(steps, events) if event]


@pytest.mark.parametrize(("arrivals", "until_s", "expected"), [
    (frames_between(0, 1), 2.8, []),  # silent 1.9 s: not yet lost
    (frames_between(0, 1) + frames_between(5, 6), 6, [(2.9, "lost"), (5.5, "back")]),  # back once frames flow
    ([], 2.5, [(2.0, "lost")]),  # a source that never gave a frame is lost too
    # a dead stream hands over a burst of buffered frames when it times out: that is not the camera back
    (frames_between(0, 1) + [5.05, 5.051, 5.052] + frames_between(20, 21), 21, [(2.9, "lost"), (20.5, "back")]),
    # and neither is such a burst each time the stream is reopened
    (frames_between(0, 1) + [5.05, 5.051, 5.052, 10.1, 10.101, 10.102, 15.15, 15.151], 18, [(2.9, "lost")]),
    (frames_between(0, 1) + [5.0, 5.6, 6.2], 7, [(2.9, "lost"), (6.2, "back")]),  # a slow stream flows too
])
def test_camera_loss_is_said_once_and_back_only_when_frames_flow(arrivals: list, until_s: float,
                                                                  expected: list) -> None:
    steps = every_tenth(until_s, arrivals)
    _, events = watch(steps)
    assert said(events, steps) == expected


def test_a_loop_that_takes_few_frames_is_not_a_lost_camera() -> None:
    # frames arrive 30 times a second, but the loop steps once every 2.5 s (a cap of 0.4 fps, or a slow detector)
    arrivals = frames_between(0, 20, fps=30)
    steps = [(t, [a for a in arrivals if t - 2.5 < a <= t]) for t in (0, 2.5, 5, 7.5, 10, 12.5, 15, 17.5, 20)]
    assert watch(steps)[1] == [None] * len(steps)


def test_loss_counts_silence_since_the_last_frame() -> None:
    loss, _ = watch([(10.0, [10.0]), (13.0, [])])
    assert loss.lost and loss.silent_s(15.5) == 5.5 and loss.losses == 1


def test_cover_needs_a_second_of_dark_and_a_moment_of_light() -> None:
    watch = CoverWatch()
    said = {}
    for t in range(0, 4000, 100):
        dark = 500 <= t < 2500  # dark for 2 s
        event = watch.update(dark, t)
        if event:
            said[event] = t
    assert said == {"covered": 500 + COVER_HOLD_MS, "uncovered": 2500 + UNCOVER_HOLD_MS}


def test_a_short_dark_moment_does_not_pause() -> None:
    watch = CoverWatch()
    assert [watch.update(dark, t) for t, dark in [(0, True), (500, True), (900, True), (1000, False), (1100, True)]] \
        == [None] * 5


def _dimmed(name: str, factor: float, noise: float = 2.0) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(IMAGES / name)), cv2.COLOR_BGR2RGB).astype(np.float32)
    noisy = rgb * factor + np.random.default_rng(0).normal(0, noise, rgb.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("name", "factor", "covered"), [
    ("pytorchyolov3_street.jpg", 1.0, False),
    ("pytorchyolov3_street.jpg", 0.3, False),  # a dim street at night is not a covered camera
    ("coco_train2017_000000000094.jpg", 0.3, False),
    ("empty_road.jpg", 0.3, False),
    ("pytorchyolov3_street.jpg", 0.03, True),  # a hand over the lens lets a little light through
    ("yolov5_bus.jpg", 0.05, True),
])
def test_covered_means_dark_and_uniform_on_real_photos(name: str, factor: float, covered: bool) -> None:
    assert looks_covered(*luminance(_dimmed(name, factor))) is covered
