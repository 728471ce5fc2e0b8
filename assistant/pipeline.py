"""The one loop: frames -> detections -> profile filter -> tracker -> narrator -> speaker."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .controls import RATE_STEP_WPM, Command
from .core import REQUESTED, Detection, Frame, Track, Utterance
from .detector import Detector
from .errors import ProfileError
from .imaging import read_image
from .narration import Narrator
from .profile import Profile
from .reload import ProfileWatcher
from .sources import Source
from .speech import Speaker
from .tracking import Tracker
from .voices import VoiceSettings
from .wording import describe_scene

MAX_MISSING_MS = 1000  # a confirmed object unseen this long has left; shorter gaps are detector misses
PROFILE_ERROR_SENTENCE = "Profile has an error, keeping the previous settings"


@dataclass(frozen=True, slots=True)
class RunStats:
    frames: int
    utterances: int
    seconds: float
    reloads: int = 0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


CANDIDATE_MAX_RESULTS = 100


def detector_for(model_path: Path, profile: Profile, *, video: bool, candidates: float | None = None) -> Detector:
    """A detector limited to the profile's classes and its lowest speaking threshold, or, for the
    debug view, one that reports every class down to the `candidates` score."""
    if candidates is not None:  # never above a speaking threshold, so the view cannot change what is said
        return Detector(model_path, video=video, score_threshold=min(candidates, profile.lowest_min_score),
                        max_results=CANDIDATE_MAX_RESULTS)
    return Detector(model_path, video=video, score_threshold=profile.lowest_min_score, labels=profile.objects)


@dataclass(frozen=True, slots=True)
class FrameReport:
    """What happened on one frame, for observers such as benchmarks and the debug view."""

    frame: Frame
    detections: tuple[Detection, ...]  # everything the detector reported, before the profile's filter
    tracks: tuple[Track, ...]
    utterance: Utterance | None
    detect_ms: float
    profile: Profile


@dataclass(slots=True)
class _Controls:
    """The state the keys change: paused or not, and the last sentence for "repeat"."""

    paused: bool = False
    last: Utterance | None = None


def run(
    source: Source,
    model_path: Path,
    profile: Profile,
    speaker: Speaker,
    *,
    max_frames: int | None = None,
    realtime: bool = False,
    stop: threading.Event | None = None,
    watcher: ProfileWatcher | None = None,
    on_profile_error: Callable[[ProfileError], None] = lambda error: None,
    commands: queue.SimpleQueue[Command] | None = None,
    on_frame: Callable[[FrameReport], None] | None = None,
    candidates: float | None = None,
) -> RunStats:
    """Narrate a source until it ends, `max_frames` are done, `stop` is set or QUIT is commanded.

    With a `watcher`, a saved profile applies on the next frame without reopening the source; an
    invalid edit keeps the previous profile and says so once. `commands` (from the keys) are
    applied between frames. With `candidates`, the detector reports every class down to that
    score (for the debug view); the profile still decides what is tracked and said.
    """
    stop = stop or threading.Event()
    tracker = Tracker(confirm_frames=profile.confirm_frames, max_missing_ms=MAX_MISSING_MS)
    narrator = Narrator(profile)
    controls = _Controls()
    tracks: tuple[Track, ...] = ()
    frames = utterances = reloads = 0
    detector = detector_for(model_path, profile, video=not source.still, candidates=candidates)
    started = time.monotonic()
    try:
        for frame in source:
            if stop.is_set() or (max_frames is not None and frames >= max_frames):
                break
            if realtime and source.fps and stop.wait(max(0.0, started + frame.timestamp_ms / 1000 - time.monotonic())):
                break
            changed = _saved_profile(watcher, speaker, frame, on_profile_error) if watcher else None
            if changed is not None:
                if _detector_settings(changed, candidates) != _detector_settings(profile, candidates):
                    detector.close()
                    detector = detector_for(model_path, changed, video=not source.still, candidates=candidates)
                profile = narrator.profile = changed
                tracker.confirm_frames = changed.confirm_frames
                voice = changed.voice
                speaker.settings = VoiceSettings(voice.rate, voice.voice, voice.volume)
                speaker.max_age_s = changed.freshness_s
                reloads += 1
            while commands is not None and not commands.empty():
                if not _obey(commands.get(), controls, speaker, narrator, tracks, frame):
                    stop.set()
            if stop.is_set():
                break
            detect_start = time.perf_counter()
            detections = detector.detect(frame)
            detect_ms = (time.perf_counter() - detect_start) * 1000
            if frame.still:
                utterance = describe_scene(detections, frame, profile)
                utterance = utterance if utterance.text else None
            else:
                tracks = tracker.update([d for d in detections if profile.accepts(d, frame.height)], frame.timestamp_ms)
                speaking = speaker.busy or speaker.queued > 0
                utterance = None if controls.paused else narrator.update(tracks, frame, speaking)
            if utterance is not None:
                speaker.say(utterance)
                controls.last = utterance
                utterances += 1
            if on_frame is not None:
                on_frame(FrameReport(frame, detections, tracks, utterance, detect_ms, profile))
            frames += 1
    finally:
        detector.close()
    return RunStats(frames, utterances, time.monotonic() - started, reloads)


def _obey(
    command: Command, controls: _Controls, speaker: Speaker, narrator: Narrator, tracks: tuple[Track, ...], frame: Frame
) -> bool:
    """Apply one key's command between frames; False means quit."""
    def status(text: str) -> Utterance:
        return Utterance(text, frame.timestamp_ms, frame.index, kind="status", priority=REQUESTED)

    if command is Command.QUIT:
        return False
    if command is Command.PAUSE:
        controls.paused = not controls.paused
        if controls.paused:
            speaker.clear()
        speaker.say(status("Paused" if controls.paused else "Resumed"))
    elif command is Command.REPEAT:
        last = controls.last
        speaker.say(replace(last, kind="repeat", priority=REQUESTED, interrupt=False) if last
                    else status("Nothing said yet"))
    elif command is Command.DESCRIBE:
        controls.last = narrator.describe(tracks, frame)
        speaker.say(controls.last)
    else:
        step = RATE_STEP_WPM if command is Command.FASTER else -RATE_STEP_WPM
        rate = speaker.set_rate(speaker.settings.rate_wpm + step)
        speaker.say(status(f"Rate {rate}"))
    return True


def _saved_profile(
    watcher: ProfileWatcher, speaker: Speaker, frame: Frame, on_error: Callable[[ProfileError], None]
) -> Profile | None:
    """A newly saved profile, or None; an invalid save is reported, said aloud once, and ignored."""
    try:
        return watcher.poll()
    except ProfileError as error:
        on_error(error)
        speaker.say(Utterance(PROFILE_ERROR_SENTENCE, frame.timestamp_ms, frame.index, kind="status", priority=REQUESTED))
        return None


def _detector_settings(profile: Profile, candidates: float | None) -> tuple[frozenset[str] | None, float]:
    """What the detector is built with; a reload that changes neither keeps the running detector."""
    if candidates is not None:
        return None, min(candidates, profile.lowest_min_score)
    return frozenset(profile.objects), profile.lowest_min_score


@dataclass(frozen=True, slots=True)
class Description:
    """What `describe` reports for one image."""

    path: Path
    width: int
    height: int
    utterance: Utterance
    image: np.ndarray  # RGB, for the debug view
    detections: tuple[Detection, ...]  # every candidate, before the profile's filter
    detect_ms: float

    def to_json(self) -> dict:
        return {
            "image": str(self.path),
            "width": self.width,
            "height": self.height,
            "utterance": self.utterance.text,
            "objects": [
                {k: v for k, v in s.to_json().items() if k != "track_id"} for s in self.utterance.objects
            ],
        }


def describe_image(path: Path, detector: Detector, profile: Profile) -> Description:
    """Describe one image at once, as the assistant would say it; SourceError if it is unreadable."""
    frame = Frame(read_image(path), timestamp_ms=0, index=0, still=True, name=str(path))
    start = time.perf_counter()
    detections = detector.detect(frame)
    detect_ms = (time.perf_counter() - start) * 1000
    utterance = describe_scene(detections, frame, profile)
    return Description(path, frame.width, frame.height, utterance, frame.image, detections, detect_ms)
