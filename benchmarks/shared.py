"""Where the benchmarks find the shared model and media; import this before the assistant package.

The shared folder is $ASSISTANT_SHARED or ../shared beside the repository; models are found in
its models/ unless $ASSISTANT_MODEL_DIR says otherwise. OpenCV's own log lines are silenced.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ASSISTANT_SHARED", ROOT.parent / "shared"))
VIDEOS = sorted((SHARED / "data" / "video").glob("*.*"))
os.environ.setdefault("ASSISTANT_MODEL_DIR", str(SHARED / "models"))
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
