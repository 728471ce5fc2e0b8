"""Table tests of the pure geometry: direction, clock hour, pinhole distance, edge boxes."""

import math

import pytest

from assistant.core import Box
from assistant.vision.position import (
    TYPICAL_HEIGHT_M, bearing_deg, clock_hour, direction_of, distance_m, focal_px, locate, time_to_contact_s,
    touches_edge,
)


@pytest.mark.parametrize(
    ("bearing", "direction"),
    [(0, "ahead"), (7.5, "ahead"), (-7.5, "ahead"), (8, "slightly right"), (-8, "slightly left"),
     (18, "slightly right"), (-18, "slightly left"), (19, "right"), (-29, "left"), (-90, "left")],
)
def test_direction_bands(bearing: float, direction: str) -> None:
    assert direction_of(bearing) == direction


@pytest.mark.parametrize(
    ("bearing", "hour"),
    [(0, 12), (14, 12), (16, 1), (-16, 11), (30, 1), (-30, 11), (45, 2), (90, 3), (-90, 9), (180, 6), (-60, 10)],
)
def test_clock_hours(bearing: float, hour: int) -> None:
    assert clock_hour(bearing) == hour


@pytest.mark.parametrize(
    ("x1", "x2", "expected"),
    [(300, 340, 0.0), (0, 0, -30.0), (640, 640, 30.0), (480, 480, math.degrees(math.atan(0.5 * math.tan(math.radians(30)))))],
)
def test_bearing_from_box_centre(x1: float, x2: float, expected: float) -> None:
    assert bearing_deg(Box(x1, 100, x2, 200), 640, 60) == pytest.approx(expected, abs=1e-6)


def test_pinhole_distance_halves_when_box_doubles() -> None:
    near = distance_m("person", Box(0, 10, 50, 410), 640, 60)
    far = distance_m("person", Box(0, 10, 50, 210), 640, 60)
    assert far == pytest.approx(2 * near, abs=0.15)
    # 1.7 m tall, 400 px high, focal 554 px: 2.35 m
    assert near == pytest.approx(1.7 * focal_px(640, 60) / 400, abs=0.05)  # rounded to 0.1 m


def test_unknown_class_has_no_distance() -> None:
    assert "kite" not in TYPICAL_HEIGHT_M
    assert distance_m("kite", Box(0, 10, 50, 210), 640, 60) is None


@pytest.mark.parametrize(("label", "low", "high"), [
    ("person", 1.5, 1.9), ("car", 1.3, 1.9), ("bus", 2.5, 4.0), ("dog", 0.3, 1.0), ("cup", 0.05, 0.2),
    ("chair", 0.7, 1.1), ("refrigerator", 1.4, 2.1), ("traffic light", 0.5, 1.3), ("cell phone", 0.1, 0.2),
])
def test_height_table_is_plausible(label: str, low: float, high: float) -> None:
    assert low <= TYPICAL_HEIGHT_M[label] <= high


def test_every_height_is_physical() -> None:
    assert all(0.05 <= h <= 5 for h in TYPICAL_HEIGHT_M.values())


@pytest.mark.parametrize(
    ("y1", "y2", "partial", "close"),
    [(0, 100, True, False), (50, 480, True, True), (1, 479, True, True), (10, 400, False, False)],
)
def test_edge_boxes_are_partial_not_a_distance(y1: float, y2: float, partial: bool, close: bool) -> None:
    box = Box(100, y1, 200, y2)
    position = locate("car", box, 640, 480)  # a class without a typical width
    assert touches_edge(box, 480) is partial
    assert position.partial is partial and position.close is close
    assert (position.distance_m is None) is partial


@pytest.mark.parametrize(("closing_m_per_s", "remaining_s"), [(2.0, 9.0), (5.0, 3.0), (10.0, 1.0)])
def test_time_to_contact_of_a_car_closing_at_constant_speed(closing_m_per_s: float, remaining_s: float) -> None:
    """A 1.5 m car 20 m away closing at constant speed, seen 10 times a second for 1 s (focal length 500 px)."""
    samples = [(t * 100, 1.5 * 500 / (20 - closing_m_per_s * t / 10)) for t in range(11)]
    assert time_to_contact_s(samples) == pytest.approx(remaining_s, rel=0.15)


@pytest.mark.parametrize(("fps", "frames"), [(2, 2), (3, 3)])
def test_time_to_contact_from_the_few_frames_a_slow_device_has(fps: int, frames: int) -> None:
    """The same car closing at 5 m/s, 3 s away at the last frame, seen only in the last 0.5 to 0.7 s."""
    last = (frames - 1) / fps
    samples = [(t * 1000 / fps, 1.5 * 500 / (15 + 5 * last - 5 * t / fps)) for t in range(frames)]
    assert time_to_contact_s(samples) == pytest.approx(3.0, rel=0.15)


@pytest.mark.parametrize("samples", [
    [(0, 100), (100, 101)],  # too short a span for two
    [(0, 100), (100, 104), (200, 108)],  # too short a span
    [(t * 100, 100 - t) for t in range(10)],  # shrinking: moving away
    [(t * 100, 100) for t in range(10)],  # still
])
def test_no_time_to_contact_without_a_clear_approach(samples: list) -> None:
    assert time_to_contact_s(samples) is None


@pytest.mark.parametrize(("width", "close", "distance"), [(300, True, None), (100, False, 4.2), (60, False, 6.9)])
def test_a_cut_person_is_placed_by_its_width(width: float, close: bool, distance: float | None) -> None:
    position = locate("person", Box(200, 100, 200 + width, 480), 640, 480)
    assert position.partial and position.close is close and position.distance_m == distance


def test_a_box_cut_at_the_side_too_has_no_width_to_trust() -> None:
    position = locate("person", Box(0, 100, 60, 480), 640, 480)
    assert position.close and position.distance_m is None
