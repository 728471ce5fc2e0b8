"""Pure geometry, and the one owner of "where": which side an object is on and how far, from its box alone."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..core import Box, Detection, Frame, Position, Sighting

# Typical real heights in metres of COCO classes whose size varies little, for the pinhole
# estimate. A class that is missing here gets no distance rather than an invented one.
TYPICAL_HEIGHT_M: dict[str, float] = {
    "person": 1.70,
    "bicycle": 1.05,
    "car": 1.50,
    "motorcycle": 1.15,
    "bus": 3.10,
    "truck": 3.00,
    "traffic light": 0.90,
    "fire hydrant": 0.75,
    "stop sign": 0.75,
    "parking meter": 1.40,
    "bench": 0.85,
    "dog": 0.60,
    "cat": 0.30,
    "horse": 1.65,
    "sheep": 0.90,
    "cow": 1.45,
    "chair": 0.90,
    "couch": 0.85,
    "bed": 0.60,
    "dining table": 0.75,
    "toilet": 0.75,
    "tv": 0.60,
    "laptop": 0.24,
    "cell phone": 0.15,
    "microwave": 0.30,
    "oven": 0.90,
    "sink": 0.25,
    "refrigerator": 1.75,
    "cup": 0.10,
    "bottle": 0.25,
    "wine glass": 0.20,
}

# Typical widths in metres of a box around classes whose width hardly depends on which way they
# face, for objects whose height the frame cuts. A person's box cut at half to three quarters of
# its height is 0.41 to 0.49 of the full height wide (median of 85 COCO outlines, benchmarks/hearing.py).
TYPICAL_WIDTH_M: dict[str, float] = {"person": 0.75}

AHEAD_DEG = 7.5  # within this bearing, "ahead": about a walking path's width at 4 m
SLIGHTLY_DEG = 18.0  # within this, "slightly left/right"; beyond it, "left/right"
SIDE_MARGIN_DEG = 3.0  # leaving a side takes this much more bearing, so jitter never flips it
EDGE_PX = 2.0  # a box this close to the top or bottom edge is cut off by the frame
CLOSE_M = 2.0  # a cut box is "close" only when its width puts it nearer than this
SIDES = ("left", "ahead", "right")


def focal_px(frame_width: int, hfov_deg: float) -> float:
    """Focal length in pixels of a pinhole camera with this horizontal field of view."""
    return (frame_width / 2) / math.tan(math.radians(hfov_deg) / 2)


def bearing_deg(box: Box, frame_width: int, hfov_deg: float) -> float:
    """Angle of the box centre from straight ahead; negative is to the left."""
    offset_px = box.center_x - frame_width / 2
    return math.degrees(math.atan2(offset_px, focal_px(frame_width, hfov_deg)))


def direction_of(bearing: float) -> str:
    """Five sides: left, slightly left, ahead, slightly right, right."""
    if abs(bearing) <= AHEAD_DEG:
        return "ahead"
    side = "left" if bearing < 0 else "right"
    return f"slightly {side}" if abs(bearing) <= SLIGHTLY_DEG else side


def side_of(bearing: float, previous: str | None = None) -> str:
    """Left, ahead or right; leaving the `previous` side takes SIDE_MARGIN_DEG more, so jitter never flips it."""
    raw = "left" if bearing < -AHEAD_DEG else "right" if bearing > AHEAD_DEG else "ahead"
    if previous is None or raw == previous:
        return raw
    back = -SIDE_MARGIN_DEG if SIDES.index(previous) < SIDES.index(raw) else SIDE_MARGIN_DEG
    return side_of(bearing + back)


def clock_hour(bearing: float) -> int:
    """Clock-face hour of a bearing: 12 is ahead, 3 is right, 9 is left (30 degrees an hour)."""
    hour = round(bearing / 30) % 12
    return 12 if hour == 0 else hour


def touches_edge(box: Box, frame_height: int) -> bool:
    """True when the box is cut by the top or bottom of the frame."""
    return box.y1 <= EDGE_PX or box.y2 >= frame_height - EDGE_PX


def distance_m(label: str, box: Box, frame_width: int, hfov_deg: float) -> float | None:
    """Pinhole distance from the box height and the class's typical height, or None."""
    real_height = TYPICAL_HEIGHT_M.get(label)
    if real_height is None or box.height <= 0:
        return None
    return round(real_height * focal_px(frame_width, hfov_deg) / box.height, 1)


def width_distance_m(label: str, box: Box, frame_width: int, hfov_deg: float) -> float | None:
    """Pinhole distance from the box width and the class's typical width, or None (unknown class,
    or a box also cut by the left or right edge, whose width is then cut too)."""
    real_width = TYPICAL_WIDTH_M.get(label)
    if real_width is None or box.width <= 0 or box.x1 <= EDGE_PX or box.x2 >= frame_width - EDGE_PX:
        return None
    return round(real_width * focal_px(frame_width, hfov_deg) / box.width, 1)


def locate(label: str, box: Box, frame_width: int, frame_height: int, hfov_deg: float = 60.0) -> Position:
    """Direction, clock hour and distance of one box.

    A box cut by the top or bottom edge says nothing of distance by its height. Its width is
    used instead where the class has a typical width: nearer than CLOSE_M is "close", else that
    distance. Without a width, a box cut by the bottom edge is close (the nearest things to a
    forward-facing camera are cut there) and one cut only at the top has no distance.
    """
    bearing = bearing_deg(box, frame_width, hfov_deg)
    partial = touches_edge(box, frame_height)
    close = False
    if not partial:
        distance = distance_m(label, box, frame_width, hfov_deg)
    else:
        distance = width_distance_m(label, box, frame_width, hfov_deg)
        close = box.y2 >= frame_height - EDGE_PX if distance is None else distance < CLOSE_M
        distance = None if close else distance
    return Position(
        direction=direction_of(bearing),
        clock=clock_hour(bearing),
        bearing_deg=round(bearing, 1),
        distance_m=distance,
        partial=partial,
        close=close,
    )


def place(detection: Detection, frame: Frame, hfov_deg: float, track_id: int | None = None) -> Sighting:
    """A detection with its position in this frame: the step between detecting and narrating."""
    return Sighting(detection, locate(detection.label, detection.box, frame.width, frame.height, hfov_deg), track_id)


def time_to_contact_s(samples: Sequence[tuple[float, float]], min_span_ms: float = 400.0) -> float | None:
    """Seconds until contact from (timestamp_ms, box height) samples of one object, or None.

    Under a pinhole camera an object closing at constant speed has height h with
    d(ln h)/dt = 1 / time-to-contact, so the answer is 1 / the least-squares slope of ln h
    against time. That slope is an average over the window, so the answer is moved from the
    window's middle to its last sample. Two samples are enough when that is all a slow device
    has, as long as they span `min_span_ms`. None when the samples span less than that or the
    object is not growing, so a few frames of jitter never make a warning.
    """
    points = [(t, math.log(h)) for t, h in samples if h > 0]
    if len(points) < 2 or points[-1][0] - points[0][0] < min_span_ms:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope_per_ms = sum((t - mean_t) * (y - mean_y) for t, y in points) / spread
    if slope_per_ms <= 0:
        return None
    return max(0.0, 1.0 / (slope_per_ms * 1000) - (points[-1][0] - mean_t) / 1000)
