"""How the cover-to-pause rule treats real photos dimmed to each brightness, with sensor noise.

Every photo in ../shared (loose images and the labelled sets) is scaled to 100%, 30%, 15%, 10%,
5% and 3% of its light, with Gaussian noise of 2 grey levels, the way a sensor sees a dim scene
or a lens under a hand. A good rule says "covered" for none at 30% (a street at night) and for
all at 5% or less. Prints one line per rule, then one JSON object for the rule in use.
"""

from __future__ import annotations

import json

from shared import SHARED  # noqa: E402  (first: it points the assistant at the shared models)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from assistant.sources.camera_watch import COVER_MEAN, COVER_STD, luminance  # noqa: E402

BRIGHTNESS = (1.0, 0.3, 0.15, 0.1, 0.05, 0.03)
RULES = [(COVER_MEAN, COVER_STD), (COVER_MEAN, float("inf")), (16.0, 6.0), (20.0, 8.0), (30.0, 6.0)]


def main() -> None:
    paths = sorted(SHARED.glob("data/images/*.jpg")) + sorted(SHARED.glob("data/labeled/*/*/*.jpg"))
    rng = np.random.default_rng(0)
    measured: dict[float, list[tuple[float, float]]] = {b: [] for b in BRIGHTNESS}
    for path in paths:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.float32)
        for b in BRIGHTNESS:
            dimmed = np.clip(rgb * b + rng.normal(0, 2, rgb.shape), 0, 255).astype(np.uint8)
            measured[b].append(luminance(dimmed))
    results = {}
    for mean_limit, std_limit in RULES:
        share = {b: float(np.mean([m < mean_limit and s < std_limit for m, s in v])) for b, v in measured.items()}
        results[(mean_limit, std_limit)] = share
        print(f"mean < {mean_limit:g} and std < {std_limit:g}: "
              + ", ".join(f"{b:.0%} covered {share[b]:.1%}" for b in BRIGHTNESS))
    used = results[(COVER_MEAN, COVER_STD)]
    print(json.dumps({"photos": len(paths), "mean_below": COVER_MEAN, "std_below": COVER_STD,
                      "covered_share_by_brightness": {f"{b:.0%}": round(v, 4) for b, v in used.items()}}))


if __name__ == "__main__":
    main()
