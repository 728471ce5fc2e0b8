"""The live view: the LiveFeed's rules on real reports, its routes without a camera, and the page in
a real chromium against a real `assistant run --realtime --web` on the car video."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from assistant.config import calibration
from assistant.config.rules import load_rules
from assistant.core import Utterance
from assistant.runtime.controls import Command
from assistant.runtime.frame_report import FrameReport
from assistant.runtime.transcript import read_transcript
from assistant.speech.speaker import Spoken
from assistant.vision.detector import mediapipe_detectors
from assistant.web.context import WebContext
from assistant.web.live import MAX_SENTENCES, LiveFeed
from assistant.web.security import Guard

from .conftest import CAR_VIDEO, IMAGES, MODEL, ROOT, frame_reports
from .web_browser import PHONE, browser, screenshot, serious_violations, wait_until
from .web_serving import Clock, free_port, served, wait_for_port

pytestmark = pytest.mark.xdist_group("realtime")


@pytest.fixture(scope="module")
def reports() -> list[FrameReport]:
    """The real model's reports of the car video's first frames and of a photo of a bus and people,
    every class down to 0.1 as under --web."""
    detectors = mediapipe_detectors(MODEL)
    car = frame_reports(detectors, CAR_VIDEO, "default", 5, candidates=0.1)
    return [*car, *frame_reports(detectors, IMAGES / "yolov5_bus.jpg", "default", candidates=0.1)]


def feed_for(clock: Clock, **options: object) -> LiveFeed:
    return LiveFeed(load_rules(), MODEL.name, "not calibrated", clock=clock, **options)


def said(text: str) -> Spoken:
    return Spoken(Utterance(text, 0, 0, language="en"), None, 0.0, 0.0, 0.0, False, False)


def test_a_frame_is_encoded_once_whatever_the_number_of_viewers(reports: list[FrameReport]) -> None:
    clock = Clock()
    feed = feed_for(clock)
    assert feed.frame_jpeg() is None  # before the first frame
    feed.observe(reports[0])
    views: list[object] = []
    threads = [threading.Thread(target=lambda: views.append(feed.frame_jpeg())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert feed.encodes == 1 and len({id(v) for v in views}) == 1
    image = cv2.imdecode(np.frombuffer(views[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (reports[0].frame.height, reports[0].frame.width)
    assert views[0].index == reports[0].frame.index


def test_the_drawing_rate_is_capped(reports: list[FrameReport]) -> None:
    clock = Clock()
    feed = feed_for(clock, max_jpeg_fps=5)
    feed.observe(reports[0])
    first = feed.frame_jpeg()
    feed.observe(reports[1])
    clock.now += 0.1  # under 1/5 s later: the last drawing, though a newer frame came
    assert feed.frame_jpeg() is first and feed.encodes == 1
    clock.now += 0.15
    assert feed.frame_jpeg().index == reports[1].frame.index and feed.encodes == 2


def test_observe_only_keeps_a_reference(reports: list[FrameReport]) -> None:
    clock = Clock()
    feed = feed_for(clock)
    start = time.perf_counter()
    for _ in range(1000):
        for report in reports:
            feed.observe(report)
    per_call_us = (time.perf_counter() - start) / (1000 * len(reports)) * 1e6
    assert feed.latest() is reports[-1] and feed.encodes == 0
    assert per_call_us < 50, per_call_us


def test_the_sentence_log_is_bounded_and_numbered() -> None:
    feed = feed_for(Clock())
    for n in range(MAX_SENTENCES + 50):
        feed.heard(said(f"sentence {n}"))
    log = feed.sentences()
    assert len(log) == MAX_SENTENCES and log[0].seq == 51 and log[-1].text == f"sentence {MAX_SENTENCES + 49}"
    assert [s.seq for s in feed.sentences(after=MAX_SENTENCES + 48)] == [MAX_SENTENCES + 49, MAX_SENTENCES + 50]


def test_status_says_the_camera_is_lost_when_no_frame_comes(reports: list[FrameReport]) -> None:
    clock = Clock()
    feed = feed_for(clock)
    assert feed.status()["camera"] == "waiting"
    for report in reports:
        feed.observe(report)
        clock.now += 0.1
    status = feed.status()
    assert status["camera"] == "ok" and status["fps"] == 10.0 and status["profile"] == "default"
    assert status["model"] == MODEL.name and not status["paused"]
    assert [item["label"] for item in status["in_view"]] == ["person", "bus"]  # most first, of the newest frame
    clock.now += load_rules().profile.camera_timeout_s
    status = feed.status()
    assert status["camera"] == "lost" and status["fps"] is None
    feed.live = False  # a file read in order, waiting for its voice, is not lost
    assert feed.status()["camera"] == "ok"


@contextmanager
def serving(ctx: WebContext) -> Iterator[str]:
    """The page's app behind a real uvicorn on loopback, as `run --web` serves it; its address."""
    with served(Guard(), ctx) as server:
        yield server.url.rstrip("/")


@pytest.fixture(scope="module")
def no_camera() -> Iterator[str]:
    """The page as `assistant web` serves it: no live feed."""
    with serving(WebContext(None, MODEL, ("person",), calibration.for_model(MODEL))) as url:
        yield url


def test_without_a_camera_the_api_says_so_in_one_sentence(no_camera: str) -> None:
    with httpx.Client(base_url=no_camera) as client:
        assert client.get("/").status_code == 200
        for response in (client.get("/api/frame.jpg"), client.get("/api/live")):
            assert response.status_code == 409 and "no camera" in response.json()["error"]


def test_commands_go_to_the_loop_and_nothing_else_does(reports: list[FrameReport]) -> None:
    commands: queue.SimpleQueue = queue.SimpleQueue()
    feed = feed_for(Clock())
    with serving(WebContext(None, MODEL, ("person",), live=feed, commands=commands)) as url, \
            httpx.Client(base_url=url) as client:
        headers = {"X-CSRF-Token": client.get("/api/session").json()["csrf"]}
        assert client.get("/api/frame.jpg").status_code == 204
        for name in ("repeat", "describe", "pause", "faster", "slower"):
            assert client.post("/api/command", json={"command": name}, headers=headers).status_code == 200
        assert [commands.get_nowait() for _ in range(5)] == [Command.REPEAT, Command.DESCRIBE, Command.PAUSE,
                                                             Command.FASTER, Command.SLOWER]
        for body in ({"command": "quit"}, {"command": 3}, [], "x" * 5000):
            response = client.post("/api/command", json=body, headers=headers)
            assert response.status_code in (400, 413) and response.json()["error"].endswith(".")
        assert client.post("/api/command", content=b"\xff{", headers=headers).status_code == 400
        assert commands.empty()
        assert client.get("/api/live", params={"after": "-1"}).status_code == 400
        feed.observe(reports[0])
        response = client.get("/api/frame.jpg")
        assert response.headers["content-type"] == "image/jpeg" and response.headers["cache-control"] == "no-store"
        assert int(response.headers["x-frame-index"]) == reports[0].frame.index


# The page against a real run.

@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One headless chromium for the module's pages."""
    with browser() as launched:
        yield launched


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real `assistant run` of the car video in real time, serving the page on loopback: its address,
    and its transcript."""
    port = free_port()
    transcript = tmp_path_factory.mktemp("live") / "said.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--source", str(CAR_VIDEO), "--realtime", "--speech", "none",
         "--transcript", str(transcript), "--web", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=dict(os.environ), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_for_port(port, process)
    try:
        yield url, transcript
    finally:
        process.terminate()
        process.wait(10)


def test_the_live_page_in_a_real_browser(running: tuple[str, Path], chromium) -> None:
    """The image updates, sentences arrive in the log (as in the transcript), the status shows the run,
    Pause shows paused; axe finds nothing serious, and a phone's screen needs no sideways scrolling."""
    url, transcript = running
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url + "/")
    wait_until(page, "document.getElementById('view').src.startsWith('blob:')", 20)
    first = page.eval_on_selector("#view", "img => img.src")
    wait_until(page, f"document.getElementById('view').src !== {first!r}", 5)
    wait_until(page, "document.querySelectorAll('#sentences p').length > 0", 20)
    assert page.get_attribute("#sentences", "aria-live") == "polite"
    assert page.get_attribute("#sentences", "role") == "log"
    assert " · new · routine" in page.inner_text("#sentences")
    wait_until(page, "document.getElementById('s-fps').textContent !== '-'")
    assert page.inner_text("#s-profile") == "default" and page.inner_text("#s-model") == MODEL.name
    assert page.inner_text("#s-camera") == "working" and page.inner_text("#s-speech") == "on"
    assert page.get_attribute("#view", "alt").startswith("Camera view:")
    assert serious_violations(page) == []
    screenshot(page, "live-desktop")

    page.get_by_role("button", name="Pause").click()
    wait_until(page, "document.getElementById('s-speech').textContent === 'paused'", 5)
    assert page.get_attribute("button[data-command=pause]", "aria-pressed") == "true"
    assert page.inner_text("#command-result") == "Sent: pause or resume speech."
    wait_until(page, "document.getElementById('sentences').textContent.includes('Paused')")
    page.keyboard.press("Enter")  # the focused Pause button, from the keyboard: resumed
    wait_until(page, "document.getElementById('s-speech').textContent === 'on'", 5)
    screenshot(page, "live-resumed")
    on_page = page.eval_on_selector_all("#sentences p", "ps => ps.map(p => p.lastChild.textContent)")
    assert on_page == [r["text"] for r in read_transcript(transcript)][:len(on_page)]  # the same, in order

    phone = chromium.new_page(viewport=PHONE)
    phone.goto(url + "/")
    wait_until(phone, "document.getElementById('view').src.startsWith('blob:')", 10)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert serious_violations(phone) == []
    screenshot(phone, "live-phone")


def test_the_page_without_a_camera_says_how_to_start_one(no_camera: str, chromium) -> None:
    """Under `assistant web` the page says plainly that there is no camera, and shows no live view."""
    page = chromium.new_page(viewport=PHONE)
    page.goto(no_camera + "/")
    wait_until(page, "!document.getElementById('problem').hidden")
    assert "assistant run --web" in page.inner_text("#problem")
    assert not page.is_visible("#view") and not page.is_visible("button[data-command=repeat]")
    assert serious_violations(page) == []
    screenshot(page, "live-no-camera")
