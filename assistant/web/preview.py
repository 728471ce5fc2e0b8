"""What an edited profile would say about a frame: its sentence, every box's fate, and the sentence
as stereo speech, all without saving the profile."""

from __future__ import annotations

import base64
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2

from ..config.rules import Rules
from ..core import Detection, Frame, Utterance
from ..narration.wording import distance_label
from ..runtime.loop import voice_settings
from ..runtime.stills import still_look
from ..speech.audio import wav_bytes
from ..speech.synthesis import EspeakSynthesizer, render
from ..vision.speaking import Fate, score_text

MAX_SPOKEN = 32  # sentences kept for Play, newest last; an older one must be previewed again
JPEG_QUALITY = 85


@dataclass(frozen=True, slots=True)
class Verdict:
    """A frame judged under a profile: what it would say, and what became of every box."""

    frame: Frame
    detections: tuple[Detection, ...]
    fates: tuple[Fate, ...]
    utterance: Utterance
    rules: Rules

    @property
    def sentence(self) -> str:
        return self.utterance.text

    def table(self) -> list[dict]:
        """One row per box, best first: class, the name it is said by, score, fate, reason, position."""
        lang = self.rules.profile.lang
        rows = []
        for d, fate in sorted(zip(self.detections, self.fates), key=lambda pair: -pair[0].score):
            rule = self.rules.rule(d.label)
            rows.append({
                "label": d.label,
                "name": lang.noun(d.label, rule.spoken_name).form("one"),
                "score": score_text(d.score),
                "fate": fate.kind.value,
                "reason": fate.reason,
                "direction": fate.position.direction if fate.position else "",
                "distance": distance_label(fate.position) if fate.position else "",
            })
        return rows

    def to_json(self, speech: str) -> dict:
        return {"sentence": self.sentence, "kind": self.utterance.kind, "language": self.utterance.language,
                "objects": self.table(), "speech": speech}


def verdict(frame: Frame, detections: Sequence[Detection], rules: Rules) -> Verdict:
    """A still look at a frame under `rules`, as `describe` and "describe now" say it."""
    utterance, fates = still_look(frame, detections, rules)
    return Verdict(frame, tuple(detections), fates, utterance, rules)


def debug_jpeg(found: Verdict, detect_ms: float) -> str:
    """The debug view of a judged photo (boxes by fate) as a JPEG data URL, made in memory."""
    from ..view.viewer import still_view

    view = still_view(found.frame.image, found.detections, found.fates, found.rules, None,
                      found.sentence if found.utterance.kind != "status" else "", detect_ms)
    ok, encoded = cv2.imencode(".jpg", view, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("the debug view could not be encoded")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


class Spoken:
    """Recent previews' sentences by id, so Play says exactly the sentence shown, in its profile's voice."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[Utterance, Rules]] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, found: Verdict) -> str:
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._items[key] = (found.utterance, found.rules)
            while len(self._items) > MAX_SPOKEN:
                self._items.popitem(last=False)
        return key

    def wav(self, key: str) -> bytes | None:
        """The sentence as a stereo WAV, each clause panned toward its object; None for an unknown id."""
        with self._lock:
            item = self._items.get(key)
        if item is None:
            return None
        utterance, rules = item
        settings = voice_settings(rules.profile)
        stereo, rate = render(utterance, settings, EspeakSynthesizer(settings).synthesize)
        return wav_bytes(stereo, rate)
