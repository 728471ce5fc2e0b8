"""The newest-frame buffer, the capture thread on a real video, and the lost/covered policies."""

import threading
import time

import cv2
import numpy as np
import pytest

from assistant.camera_watch import COVER_HOLD_MS, UNCOVER_HOLD_MS, CoverWatch, LossWatch, looks_covered, luminance
from assistant.capture import Capture, NewestFrame, open_file
from assistant.errors import SourceError
from assistant.sources import open_source

from .conftest import IMAGES, VIDEOS

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


@pytest.mark.parametrize(("steps", "events"), [
    # (seconds, fresh frame?) -> what is said
    ([(0, True), (1, False), (1.9, False)], [None, None, None]),
    ([(0, True), (1, False), (2.0, False), (3, False), (4, True), (4.1, True)], [None, None, "lost", None, "back", None]),
    ([(0, False), (2.5, False)], [None, "lost"]),  # a source that never gave a frame is lost too
    ([(0, True), (2, False), (2.1, True), (4.2, False)], [None, "lost", "back", "lost"]),
])
def test_camera_loss_is_said_once_and_its_return(steps: list, events: list) -> None:
    watch = LossWatch(timeout_s=2.0)
    assert [watch.update(t, fresh) for t, fresh in steps] == events


def test_loss_counts_silence_since_the_last_frame() -> None:
    watch = LossWatch(timeout_s=2.0)
    watch.update(10.0, True)
    watch.update(13.0, False)
    assert watch.lost and watch.silent_s(15.5) == 5.5 and watch.losses == 1


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
