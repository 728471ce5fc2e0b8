"""The debug view: real renders of shared photos and video, a recording, and a real window under Xvfb."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from assistant.core import Box, Detection, Frame, Track
from assistant.view.draw import COLOURS, HEAT_SCALE, Heatmap, colour_of, frame_heat, legend_rect
from assistant.vision.detector import Detector
from assistant.sources.imaging import read_image
from assistant.config.profile import Profile
from assistant.runtime.frame_report import FrameReport
from assistant.config.rules import Rules
from assistant.vision.speaking import judge, settle
from assistant.view.viewer import Viewer, annotate

from .conftest import IMAGES, MODEL, ROOT, VIDEOS, Cli, run_cli

BUS = IMAGES / "yolov5_bus.jpg"
CAR_VIDEO = VIDEOS / "car-detection.mp4"


@pytest.fixture(scope="module")
def bus_render(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, dict]:
    out = tmp_path_factory.mktemp("render") / "bus.png"
    result = run_cli("describe", "--model", str(MODEL), "--json", "--debug-out", str(out), str(BUS))
    assert result.returncode == 0, result.stderr
    return cv2.imread(str(out)), json.loads(result.stdout)


def test_render_has_the_input_size(bus_render: tuple[np.ndarray, dict]) -> None:
    png, record = bus_render
    assert png.shape == (record["height"], record["width"], 3) == cv2.imread(str(BUS)).shape


def inside_and_outside(values: np.ndarray, boxes: list[list[float]], scale: float = 1.0) -> tuple[float, float]:
    """Mean of `values` inside any of the boxes (their middle half) and outside all of them."""
    mask = np.zeros(values.shape[:2], bool)
    for x1, y1, x2, y2 in boxes:
        w, h = x2 - x1, y2 - y1
        mask[int((y1 + h / 4) / scale):int((y2 - h / 4) / scale), int((x1 + w / 4) / scale):int((x2 - w / 4) / scale)] = True
    outer = np.ones(values.shape[:2], bool)
    for x1, y1, x2, y2 in boxes:
        outer[int(y1 / scale):int(y2 / scale) + 1, int(x1 / scale):int(x2 / scale) + 1] = False
    return float(values[mask].mean()), float(values[outer].mean())


def test_heat_is_where_the_bus_and_people_are(bus_render: tuple[np.ndarray, dict]) -> None:
    png, record = bus_render
    boxes = [o["box"] for o in record["objects"]]
    assert {o["label"] for o in record["objects"]} == {"bus", "person"}
    image = read_image(BUS)
    with Detector(MODEL, video=False, score_threshold=0.1, max_results=100) as detector:
        candidates = detector.detect(Frame(image, 0, 0, still=True))
    heat = frame_heat(candidates, image.shape[1], image.shape[0])
    inside, outside = inside_and_outside(heat, boxes, HEAT_SCALE)
    assert inside > 0.3 and inside > 5 * outside
    # and the render shows it: the picture changed far more inside those boxes than outside them
    change = np.abs(png.astype(int) - cv2.cvtColor(image, cv2.COLOR_RGB2BGR).astype(int)).sum(axis=2)
    h, w = change.shape
    change[:h // 10, :] = 0  # the HUD
    x1, y1, x2, y2 = legend_rect(w, h)
    change[:, x1 - 30:] = 0  # the legend
    inside, outside = inside_and_outside(change, boxes)
    assert inside > 4 * outside


def test_box_and_legend_pixels_are_where_they_should_be(bus_render: tuple[np.ndarray, dict]) -> None:
    png, record = bus_render
    h, w = png.shape[:2]
    (bus,) = [o["box"] for o in record["objects"] if o["label"] == "bus"]
    lx1, ly1, lx2, ly2 = legend_rect(w, h)
    x1, y1, x2, _ = (round(v) for v in bus)
    top_edge = png[y1, x1:min(x2, lx1 - 30)]
    green = np.all(np.abs(top_edge.astype(int) - COLOURS["spoken"]) <= 1, axis=1)
    assert green.mean() > 0.8  # the spoken bus is framed in green
    middle = (lx1 + lx2) // 2
    assert np.abs(png[ly1, middle].astype(int) - colour_of(1.0)).max() <= 3
    assert np.abs(png[ly2 - 1, middle].astype(int) - colour_of(0.0)).max() <= 3
    assert np.abs(png[(ly1 + ly2) // 2, middle].astype(int) - colour_of(0.5)).max() <= 12


def det(label: str, score: float, x: float, h: float = 100) -> Detection:
    return Detection(label, score, Box(x, 100, x + 60, 100 + h))


def test_heatmap_glows_steadily_and_leaves_a_halving_trail() -> None:
    heatmap = Heatmap(half_life_s=1.0)
    still = det("cup", 0.8, 200)
    for t in range(0, 3000, 100):
        heat = heatmap.update([still], 640, 480, t)
    peak = heat.max()
    assert peak == pytest.approx(0.8, abs=0.02)  # a still scene glows at its score, not brighter
    heat = heatmap.update([], 640, 480, 3900)  # gone for one second: one half-life
    assert heat.max() == pytest.approx(peak / 2, rel=0.01)
    assert frame_heat([det("cup", 0.9, 200), det("cup", 0.9, 210)], 640, 480).max() <= 0.9  # overlaps never add up


def test_each_candidate_gets_its_status_and_reason() -> None:
    rules = Rules(Profile(name="t", objects={"car": {"hazard": True}, "cup": {"min_score": 0.5, "min_size": 0.3},
                                             "chair": {}}))
    tracks = [Track(4, det("car", 0.7, 10), 3, 0, True)]
    candidates = [tracks[0].detection, det("cup", 0.3, 100), det("cup", 0.9, 200, h=50), det("dog", 0.9, 300),
                  det("chair", 0.8, 400), det("chair", 0.6, 402)]
    track_ids = [4, None, None, None, 7, None]
    fates = settle(judge(candidates, rules, 640, 480), track_ids, None)
    out = {a.detection.label + str(a.detection.score): (a.status, a.text)
           for a in annotate(candidates, fates, track_ids, rules, spoken_ids={7})}
    assert out["car0.7"][0] == "hazard" and "#4" in out["car0.7"][1]
    assert out["cup0.3"] == ("filtered", "cup 0.30 <0.50")
    assert out["cup0.9"] == ("filtered", "cup 0.90 too small")
    assert out["dog0.9"] == ("filtered", "dog 0.90 not in profile")
    assert out["chair0.8"][0] == "spoken"
    assert out["chair0.6"] == ("filtered", "chair 0.60 duplicate")


def test_record_writes_a_playable_video(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "view.mp4"
    result = cli("run", "--source", str(CAR_VIDEO), "--speech", "none", "--max-frames", "60", "--record", str(out))
    assert result.returncode == 0, result.stderr
    capture = cv2.VideoCapture(str(out))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(12.5)  # the video's own rate, from frame times
    frames = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        assert image.shape == (432, 768, 3)
        frames += 1
    assert frames == 60
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                            "stream=nb_read_frames,width,height", "-of", "csv=p=0", str(out)],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "768,432,60"


def test_a_recording_plays_at_the_rate_frames_really_came(tmp_path: Path) -> None:
    """A camera loop that manages 4 frames a second records at 4 fps, whatever the camera claims."""
    out = tmp_path / "slow.mp4"
    viewer = Viewer(record=out)
    rules = Rules(Profile(name="t", objects=["cup"]))
    for i in range(20):
        frame = Frame(np.zeros((120, 160, 3), np.uint8), timestamp_ms=i * 250, index=i)
        viewer.show(FrameReport(frame, (), (), (), (), None, 80.0, rules), 0, "")
    viewer.close()
    capture = cv2.VideoCapture(str(out))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(4.0)
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 20


def test_snapshots_every_n_frames(cli: Cli, tmp_path: Path) -> None:
    result = cli("run", "--source", str(CAR_VIDEO), "--speech", "none", "--max-frames", "25",
                     "--snapshots", str(tmp_path), "--snapshot-every", "10", "--heatmap-only")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame_000000.png", "frame_000010.png", "frame_000020.png"]


def test_debug_without_a_display_says_how_to_get_output(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = cli("run", "--debug", "--source", str(CAR_VIDEO))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--record FILE.mp4" in result.stderr


def xdotool(display: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True,
                          text=True, timeout=30)


def test_window_opens_takes_keys_and_quits_cleanly(x_display: str, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--debug", "--source", str(CAR_VIDEO), "--realtime",
         "--speech", "print", "--snapshots", str(tmp_path), "--snapshot-every", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "DISPLAY": x_display},
    )
    try:
        found = xdotool(x_display, "search", "--sync", "--name", "assistant debug view")
        assert found.returncode == 0 and found.stdout.strip(), found.stderr
        window = found.stdout.split()[0]
        time.sleep(1.0)
        assert xdotool(x_display, "windowfocus", "--sync", window, "key", "s").returncode == 0
        deadline = time.monotonic() + 10
        while not (tmp_path / "snapshot_001.png").exists():
            assert time.monotonic() < deadline, "the s key saved no snapshot"
            time.sleep(0.1)
        xdotool(x_display, "windowfocus", "--sync", window, "key", "d")
        time.sleep(0.5)
        xdotool(x_display, "windowfocus", "--sync", window, "key", "q")
        stdout, stderr = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "frames in" in stderr  # the closing summary: it quit through the normal path
    assert stdout.strip()  # d described the scene ("Nothing in view" or what was there)
    snapshot = cv2.imread(str(tmp_path / "snapshot_001.png"))
    assert snapshot.shape == (432, 768, 3)
