"""What the page's routes share: the run's profile and model, and the live feed when a run is going."""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config.calibration import Calibration
    from .live import LiveFeed


@dataclass
class WebContext:
    """The page's view of one assistant.

    `profile_spec` is the profile as the command line named it (a shipped name or a path);
    `labels` are the model's classes; `live` is None under `assistant web`, which has no camera;
    `commands` takes the buttons' key commands into the running loop.
    """

    profile_spec: str | None
    model_path: Path
    labels: tuple[str, ...]
    calibration: Calibration | None = None
    live: LiveFeed | None = None
    commands: queue.SimpleQueue | None = field(default=None)
