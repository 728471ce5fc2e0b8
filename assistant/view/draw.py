"""The debug view: boxes coloured by what became of them, a confidence heatmap and a HUD.

Pure drawing: every function returns a new image and keeps no pipeline state. Images are
RGB uint8 in, BGR uint8 out (what OpenCV windows and video files take).

The heatmap. Each candidate adds its score as an elliptical Gaussian filling its box (peak
at the centre, sigma a quarter of the box size), combined by maximum so overlapping boxes
never exceed 1. Over time the map keeps, per pixel, the larger of this frame's value and the
previous value decayed by its half-life: a still scene glows steadily at its score, and a
passing object leaves a trail that halves every `half_life_s`.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..core import Detection
from ..process.shown import shown

HEAT_SCALE = 4  # the heatmap is kept at a quarter of the frame size; boxes are coarser than that
COLORMAP = cv2.COLORMAP_TURBO
HEAT_ALPHA = 0.6  # opacity of the hottest colour over the image
# Box colours (BGR) for what became of each candidate.
COLOURS = {
    "hazard": (40, 40, 230),  # red
    "spoken": (60, 200, 60),  # green
    "tracked": (0, 200, 255),  # amber: tracked, waiting for confirmation or its cooldown
    "filtered": (190, 190, 190),  # grey, edged in dark: below min_score, not in the profile, or too small
    "truth": (255, 255, 255),  # white: a ground-truth box (dataset plots)
    "predicted": (0, 140, 255),  # orange: a prediction (dataset plots)
}
FONT = cv2.FONT_HERSHEY_SIMPLEX
LEGEND_WIDTH_PX = 14
LEGEND_MARGIN_PX = 12


@dataclass(frozen=True, slots=True)
class Annotation:
    """One candidate box and what the assistant did with it."""

    detection: Detection
    status: str  # a key of COLOURS
    text: str  # "car 0.72 #4 left 6.1 m", "cup 0.31 <0.50"; empty for a box drawn without a label


@dataclass(frozen=True, slots=True)
class Hud:
    """The figures shown in the corner."""

    fps: float | None  # None for a still image
    detector_ms: float
    tracked: int
    queued: int
    last_said: str
    profile: str
    age_ms: float | None = None  # how old the frame was when the detector took it; None for a still image
    dropped: int = 0  # frames the loop was too slow for, so far
    max_fps: float | None = None  # the frame-rate cap, if any


def frame_heat(detections: Sequence[Detection], width: int, height: int) -> np.ndarray:
    """This frame's heat, float32 in [0, 1], at 1/HEAT_SCALE of the frame size."""
    h, w = max(1, height // HEAT_SCALE), max(1, width // HEAT_SCALE)
    heat = np.zeros((h, w), np.float32)
    for d in detections:
        x1, y1 = max(0, int(d.box.x1 / HEAT_SCALE)), max(0, int(d.box.y1 / HEAT_SCALE))
        x2, y2 = min(w, math.ceil(d.box.x2 / HEAT_SCALE)), min(h, math.ceil(d.box.y2 / HEAT_SCALE))
        if x2 <= x1 or y2 <= y1:
            continue
        cx, cy = (d.box.x1 + d.box.x2) / 2 / HEAT_SCALE, (d.box.y1 + d.box.y2) / 2 / HEAT_SCALE
        sx, sy = max(d.box.width / HEAT_SCALE / 4, 0.5), max(d.box.height / HEAT_SCALE / 4, 0.5)
        gx = np.exp(-0.5 * ((np.arange(x1, x2) + 0.5 - cx) / sx) ** 2)
        gy = np.exp(-0.5 * ((np.arange(y1, y2) + 0.5 - cy) / sy) ** 2)
        np.maximum(heat[y1:y2, x1:x2], d.score * np.outer(gy, gx).astype(np.float32), out=heat[y1:y2, x1:x2])
    return heat


class Heatmap:
    """Confidence over time: `update(candidates, timestamp_ms)` returns the decayed map."""

    def __init__(self, half_life_s: float = 1.0):
        self.half_life_s = half_life_s
        self._heat: np.ndarray | None = None
        self._last_ms: float | None = None

    def update(self, detections: Sequence[Detection], width: int, height: int, timestamp_ms: float) -> np.ndarray:
        now = frame_heat(detections, width, height)
        if self._heat is None or self._heat.shape != now.shape or self._last_ms is None:
            self._heat = now
        else:
            dt_s = max(0.0, timestamp_ms - self._last_ms) / 1000
            decay = 0.5 ** (dt_s / self.half_life_s) if self.half_life_s > 0 else 0.0
            self._heat = np.maximum(self._heat * np.float32(decay), now)
        self._last_ms = timestamp_ms
        return self._heat


def colour_of(value: float) -> tuple[int, int, int]:
    """The colormap's BGR colour for a heat value in [0, 1]."""
    pixel = cv2.applyColorMap(np.array([[round(value * 255)]], np.uint8), COLORMAP)
    return tuple(int(c) for c in pixel[0, 0])


def blend_heat(bgr: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The image with the heat colour-mapped over it, more opaque where hotter."""
    h, w = bgr.shape[:2]
    small = np.clip(heat * 255, 0, 255).astype(np.uint8)
    full = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(full, COLORMAP)
    alpha = cv2.LUT(full, _ALPHA_LUT)
    return cv2.blendLinear(colours, bgr, alpha, 1 - alpha)


_ALPHA_LUT = (HEAT_ALPHA * np.sqrt(np.arange(256, dtype=np.float32) / 255)).astype(np.float32)


def text_scale(width: int) -> float:
    """Font scale for a frame this wide: small frames get small, still legible text."""
    return max(0.35, min(0.55, width / 1500))


def legend_rect(width: int, height: int) -> tuple[int, int, int, int]:
    """Where the colour bar is drawn: (x1, y1, x2, y2), at the right edge, the middle half of the height."""
    x2 = width - LEGEND_MARGIN_PX - 16  # room for the "0" and "1" labels to its right
    return x2 - LEGEND_WIDTH_PX, height // 4, x2, height * 3 // 4


def legend_panel(width: int, height: int) -> tuple[int, int, int, int]:
    """The dark panel behind the colour bar and its labels, which box labels keep clear of."""
    x1, y1, x2, y2 = legend_rect(width, height)
    return x1 - 22, y1 - 26, min(width, x2 + 16), min(height, y2 + 10)


def draw_legend(bgr: np.ndarray) -> None:
    """A vertical colour bar from 0 (bottom) to 1 (top), labelled, on a dark panel."""
    h, w = bgr.shape[:2]
    x1, y1, x2, y2 = legend_rect(w, h)
    px1, py1, px2, py2 = legend_panel(w, h)
    panel = bgr[py1:py2, px1:px2]
    panel[:] = (panel * 0.35).astype(np.uint8)
    ramp = np.linspace(255, 0, y2 - y1).astype(np.uint8)[:, None].repeat(x2 - x1, axis=1)
    bgr[y1:y2, x1:x2] = cv2.applyColorMap(ramp, COLORMAP)
    cv2.rectangle(bgr, (x1 - 1, y1 - 1), (x2, y2), (255, 255, 255), 1)
    scale = 0.4
    cv2.putText(bgr, "1", (x2 + 3, y1 + 5), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(bgr, "0", (x2 + 3, y2 + 2), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(bgr, "conf", (x1 - 18, y1 - 10), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


def draw_boxes(bgr: np.ndarray, annotations: Sequence[Annotation],
               keep_clear: Sequence[tuple[int, int, int, int]] = ()) -> None:
    """Each box in its status colour, its label on a filled tab that overlaps no other label
    and none of the `keep_clear` rectangles (the HUD and the legend)."""
    h, w = bgr.shape[:2]
    scale = text_scale(w)
    order = {"filtered": 0, "truth": 1, "predicted": 2, "tracked": 2, "spoken": 3, "hazard": 4}
    ranked = sorted(annotations, key=lambda a: (order[a.status], a.detection.score), reverse=True)
    # Labels are placed most important first, so hazards and spoken objects get the spots
    # nearest their boxes; then drawn least important first, so those end up on top.
    placed = list(keep_clear)
    tabs: dict[int, tuple[int, int, int, int, int]] = {}  # rank -> tab x1, y1, x2, y2, text baseline
    for rank, a in enumerate(ranked):
        if a.text:
            (tw, th), base = cv2.getTextSize(a.text, FONT, scale, 1)
            tab_w, tab_h = tw + 4, th + base + 4
            tx, ty = _label_spot(_pixels(a), tab_w, tab_h, w, h, placed, keep_clear)
            placed.append((tx, ty, tx + tab_w, ty + tab_h))
            tabs[rank] = (tx, ty, tx + tab_w, ty + tab_h, ty + th + 2)
    for a in reversed(ranked):  # all boxes first, so no box line crosses a label
        x1, y1, x2, y2 = _pixels(a)
        if a.status == "filtered":  # a dark edge keeps the grey line visible on light and dark ground
            cv2.rectangle(bgr, (x1, y1), (x2, y2), (40, 40, 40), 4)
        cv2.rectangle(bgr, (x1, y1), (x2, y2), COLOURS[a.status], 2)
    for rank in reversed(range(len(ranked))):
        if rank in tabs:
            tx1, ty1, tx2, ty2, baseline = tabs[rank]
            cv2.rectangle(bgr, (tx1, ty1), (tx2, ty2), COLOURS[ranked[rank].status], -1)
            cv2.putText(bgr, ranked[rank].text, (tx1 + 2, baseline), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)


def _pixels(annotation: Annotation) -> tuple[int, int, int, int]:
    b = annotation.detection.box
    return round(b.x1), round(b.y1), round(b.x2), round(b.y2)


def _label_spot(box: tuple[int, int, int, int], tab_w: int, tab_h: int, w: int, h: int,
                placed: Sequence[tuple[int, int, int, int]],
                keep_clear: Sequence[tuple[int, int, int, int]]) -> tuple[int, int]:
    """Top-left corner for a label tab: above the box, else inside its top, else below it; then
    the same shifted left of the HUD or legend; failing all, stepped down from the top of the box."""
    x1, y1, _, y2 = box
    x = min(max(0, x1), max(0, w - tab_w))
    ys = [y for y in (y1 - tab_h, y1, y2) if 0 <= y <= h - tab_h]
    shifted = [max(0, min(x, r[0] - tab_w)) for r in keep_clear if r[0] > 0]
    for tx, ty in [(x, y) for y in ys] + [(sx, y) for sx in shifted for y in ys]:
        if not any(_overlaps((tx, ty, tx + tab_w, ty + tab_h), r) for r in placed):
            return tx, ty
    ty = max(0, min(y1, h - tab_h))
    while any(_overlaps((x, ty, x + tab_w, ty + tab_h), r) for r in placed) and ty + 2 * tab_h <= h:
        ty += tab_h
    return x, ty


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def hud_layout(hud: Hud, width: int) -> tuple[list[str], int, tuple[int, int, int, int]]:
    """The HUD's lines (the last sentence shortened to fit), their height, and the panel rectangle."""
    scale = text_scale(width)
    cap = f" (cap {hud.max_fps:g})" if hud.max_fps is not None else ""
    speed = f"{hud.fps:.1f} fps{cap}   " if hud.fps is not None else ""
    lag = f"frame age {hud.age_ms:.0f} ms   dropped {hud.dropped}" if hud.age_ms is not None else None
    lines = [
        f"{speed}detector {hud.detector_ms:.0f} ms",
        *([lag] if lag else []),
        f"tracked {hud.tracked}   speech queue {hud.queued}",
        f"profile {hud.profile}",
        f"said: {drawable(hud.last_said) or '-'}",
    ]
    fitted = [_fit(line, scale, width - 2 * LEGEND_MARGIN_PX - 60) for line in lines]
    line_h = cv2.getTextSize("Ag", FONT, scale, 1)[0][1] + 8
    panel_w = max(cv2.getTextSize(line, FONT, scale, 1)[0][0] for line in fitted) + 12
    return fitted, line_h, (0, 0, panel_w, line_h * len(fitted) + 8)


SPELLED = str.maketrans({"ß": "ss", "œ": "oe", "Œ": "Oe", "æ": "ae", "Æ": "Ae"})


def drawable(text: str | None) -> str:
    """Text OpenCV's Hershey fonts can draw (they have ASCII only): accents dropped, so "à votre
    gauche" is not drawn as "? votre gauche"; credentials and control characters as `shown` shows them."""
    if not text:
        return ""
    spelled = shown(text).translate(SPELLED)
    return unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()


def draw_hud(bgr: np.ndarray, layout: tuple[list[str], int, tuple[int, int, int, int]]) -> None:
    """The HUD's lines (from `hud_layout`) in a dark panel at the top left."""
    w = bgr.shape[1]
    lines, line_h, (_, _, panel_w, panel_h) = layout
    panel = bgr[0:panel_h, 0:panel_w]
    panel[:] = (panel * 0.35).astype(np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(bgr, line, (6, line_h * (i + 1)), FONT, text_scale(w), (255, 255, 255), 1, cv2.LINE_AA)


@functools.lru_cache(maxsize=64)
def _fit(text: str, scale: float, max_px: int) -> str:
    """The text, cut with an ellipsis to fit `max_px`."""
    if cv2.getTextSize(text, FONT, scale, 1)[0][0] <= max_px:
        return text
    while text and cv2.getTextSize(text + "...", FONT, scale, 1)[0][0] > max_px:
        text = text[:-1]
    return text + "..."


def render(
    rgb: np.ndarray,
    annotations: Sequence[Annotation],
    heat: np.ndarray | None,
    hud: Hud | None,
    *,
    boxes: bool = True,
) -> np.ndarray:
    """The debug view of one frame: heat (with its legend) when given, boxes when asked, the HUD when given."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    h, w = bgr.shape[:2]
    if heat is not None:
        bgr = blend_heat(bgr, heat)
    layout = hud_layout(hud, w) if hud is not None else None
    clear = [layout[2]] if layout is not None else []
    if heat is not None:
        clear.append(legend_panel(w, h))
    if boxes:
        draw_boxes(bgr, annotations, clear)
    if heat is not None:
        draw_legend(bgr)
    if layout is not None:
        draw_hud(bgr, layout)
    return bgr
