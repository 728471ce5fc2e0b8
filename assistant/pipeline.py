"""The one loop: frames -> detections -> profile filter -> tracker -> narrator -> speaker."""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .camera_watch import CoverWatch, LossWatch, looks_covered, luminance
from .controls import RATE_STEP_WPM, Command
from .core import HAZARD, REQUESTED, Detection, Frame, Track, Utterance
from .detector import (
    Detector,
    Detectors,
    DetectorSettings,
    FrameDetector,
    open_detector,
)
from .errors import ProfileError, SourceError
from .frame_report import FrameReport
from .imaging import photo_name, read_image
from .narration import Narrator
from .profile import Profile, speakable, weak_boxes
from .reload import ProfileWatcher
from .sources import Source
from .speech import Speaker
from .speech_backends import VoiceSettings
from .tracking import Tracker
from .wording import describe_scene

MAX_MISSING_MS = 1000  # a confirmed object unseen this long has left; shorter gaps are detector misses
CANDIDATE_MAX_RESULTS = 100
# Status sentences: English msgids, said in the profile's language.
PROFILE_ERROR_SENTENCE = "Profile has an error, keeping the previous settings"
CAMERA_LOST, CAMERA_BACK = "Camera lost", "Camera back"
COVERED, UNCOVERED, UNCOVERED_PAUSED = "Paused, camera covered", "Resumed", "Camera uncovered, still paused"
NOTHING_HERE = "Nothing here"  # a photo with nothing the profile cares about


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a run is steered, besides its source, model, profile and speaker.

    `watcher`: a saved profile applies on the next frame (an invalid edit is reported to
    `on_profile_error` and said once). `commands`: key presses, applied between frames.
    `on_frame`: called with each frame's report. `candidates`: the detector reports every class
    down to this score, for the debug view (the profile still decides what is said).
    `give_up_s`: end the run when a camera has been lost this long (default: never).
    `max_fps`: the frame-rate cap, overriding the profile's `max_fps` (default: the profile's).
    """

    max_frames: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    watcher: ProfileWatcher | None = None
    on_profile_error: Callable[[ProfileError], None] = lambda error: None
    commands: queue.SimpleQueue[Command] | None = None
    on_frame: Callable[[FrameReport], None] | None = None
    candidates: float | None = None
    give_up_s: float | None = None
    max_fps: float | None = None


@dataclass(frozen=True, slots=True)
class RunStats:
    """A run's totals. Frame age is measured when the detector takes the frame."""

    frames: int
    utterances: int
    seconds: float
    reloads: int = 0
    dropped: int = 0  # frames the loop was too slow for (live sources and --realtime files)
    age_ms_p50: float | None = None
    age_ms_p95: float | None = None
    camera_lost: int = 0  # times a live source went silent for the profile's camera_timeout_s
    skipped: int = 0  # unreadable images in a folder, passed over
    max_fps: float | None = None  # the frame-rate cap at the end of the run, if any
    capped: int = 0  # frames left out to keep under the cap

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def voice_settings(profile: Profile) -> VoiceSettings:
    """How the profile wants to be spoken to."""
    voice = profile.voice
    return VoiceSettings(voice.rate, voice.voice, voice.volume, voice.spatial, voice.pan_strength, voice.earcons,
                         profile.camera.hfov_deg, profile.language)


def detector_for(model_path: Path, profile: Profile, *, video: bool, candidates: float | None = None) -> Detector:
    """A real detector limited to what the profile needs (see `detector_settings`)."""
    return open_detector(model_path, detector_settings(profile, video, candidates))


def detector_settings(profile: Profile, video: bool, candidates: float | None) -> DetectorSettings:
    """What a detector for this profile is built with; a reload that changes none of it keeps the running one.

    The profile's classes down to its lowest speaking threshold, or, when tracking, down to the
    floor of the weak boxes that keep tracks alive. For the debug view, every class down to the
    `candidates` score, never above that floor, so the view cannot change what is said.
    """
    floor = profile.weak_floor if video else profile.lowest_min_score
    if candidates is not None:
        return DetectorSettings(video, min(candidates, floor), CANDIDATE_MAX_RESULTS)
    return DetectorSettings(video, floor, labels=frozenset(profile.objects))


def run(source: Source, detectors: Detectors, profile: Profile, speaker: Speaker,
        options: RunOptions | None = None) -> RunStats:
    """Narrate a source until it ends, `max_frames` are done, `stop` is set or QUIT is commanded.

    `detectors` builds the detector for each settings the profile asks for (`mediapipe_detectors`
    outside the tests); it is asked again only when a reloaded profile changes them."""
    options = options or RunOptions()
    if options.stop.is_set():  # stopped while the source was opening: do not even load the model
        return RunStats(0, 0, 0.0)
    loop = _Loop(source, detectors, profile, speaker, options)
    try:
        for frame in source:
            if not loop.step(frame):
                break
    finally:
        loop.close()
    return loop.stats()


class _Ages:
    """Frame ages in whole milliseconds, counted, so a run of any length keeps a bounded table."""

    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()
        self._total = 0

    def add(self, age_ms: float) -> None:
        self._counts[round(age_ms)] += 1
        self._total += 1

    def percentile(self, q: float) -> float | None:
        if not self._total:
            return None
        rank, seen = q / 100 * (self._total - 1), 0
        for age, count in sorted(self._counts.items()):
            seen += count
            if seen > rank:
                return float(age)
        return None


class _Stages:
    """The stages a profile configures, and the one place a new profile is applied to them."""

    def __init__(self, detectors: Detectors, profile: Profile, speaker: Speaker, *, video: bool,
                 candidates: float | None):
        self.detectors, self.speaker, self.video, self.candidates = detectors, speaker, video, candidates
        self.profile = profile
        self.settings = detector_settings(profile, video, candidates)
        self.detector = detectors(self.settings)
        self.restart()

    def restart(self) -> None:
        """Forget what was tracked and said: after the camera comes back, nothing of before is known."""
        self.tracker = Tracker(self.profile.confirm_frames, lambda label: self.profile.min_score(label),
                               max_missing_ms=MAX_MISSING_MS)
        self.narrator = Narrator(self.profile)

    def apply(self, profile: Profile) -> None:
        """A reloaded profile, from the next frame on; the detector is rebuilt only if its settings changed."""
        settings = detector_settings(profile, self.video, self.candidates)
        if settings != self.settings:
            self.detector.close()
            self.detector = self.detectors(settings)
            self.settings = settings
        self.profile = self.narrator.profile = profile
        self.tracker.confirm_hits = profile.confirm_frames
        self.speaker.adjust(voice_settings(profile), profile.freshness_s)

    def close(self) -> None:
        self.detector.close()


class _Loop:
    """The state of one run, and what it does with each step: a frame, or None when no new frame came."""

    def __init__(self, source: Source, detectors: Detectors, profile: Profile, speaker: Speaker, options: RunOptions):
        self.source, self.speaker, self.options = source, speaker, options
        self.stages = _Stages(detectors, profile, speaker, video=not source.still, candidates=options.candidates)
        self._cap(profile)
        self.loss = LossWatch(profile.camera_timeout_s) if source.live else None
        self.cover = CoverWatch()
        self.ages = _Ages()
        self.paused = False  # by the p key
        self.last_said: Utterance | None = None  # for "repeat"
        self.last_frame: Frame | None = None
        self.tracks: tuple[Track, ...] = ()
        self.frames = self.utterances = self.reloads = 0
        self.started = time.monotonic()
        # A file read in order runs on its own clock, faster or slower than the wall's: the voice's
        # busy time is counted on that clock too, so what is said never depends on the machine's speed.
        self.media_voice = source.in_order
        self.voice_free_ms = 0

    def step(self, frame: Frame | None) -> bool:
        """Handle one step; False ends the run."""
        options = self.options
        if options.stop.is_set() or (options.max_frames is not None and self.frames >= options.max_frames):
            return False
        if frame is not None:
            self.last_frame = frame
        if options.watcher is not None:
            self._reload(options.watcher)
        while options.commands is not None and not options.commands.empty():
            if not self._obey(options.commands.get()):
                return False
        if self.loss is not None:
            self._watch_loss()
        if frame is not None:
            self._process(frame)
            self.frames += 1
        return not options.stop.is_set()

    def _process(self, frame: Frame) -> None:
        stages = self.stages
        if not frame.still:
            self._watch_cover(frame)
        age_ms = (time.monotonic() - frame.captured_s) * 1000
        self.ages.add(age_ms)
        detections: tuple[Detection, ...] = ()
        utterance, detect_ms = None, 0.0
        if self.cover.covered:
            self.tracks = ()
        else:
            detect_start = time.perf_counter()
            detections = stages.detector.detect(frame)
            detect_ms = (time.perf_counter() - detect_start) * 1000
            if frame.still:
                utterance = self._photo(detections, frame)
            else:
                accepted = speakable(detections, stages.profile, frame.height)
                weak = weak_boxes(detections, stages.profile, frame.height, accepted)
                self.tracks = stages.tracker.update(accepted, frame.timestamp_ms, weak)
                speaking = (frame.timestamp_ms < self.voice_free_ms if self.media_voice
                            else self.speaker.busy or self.speaker.queued > 0)
                utterance = None if self.paused else stages.narrator.update(self.tracks, frame, speaking)
        if utterance is not None:
            utterance = replace(utterance, age_ms=round((time.monotonic() - frame.captured_s) * 1000, 1))
            self.last_said = utterance
            self._say(utterance)
        if self.options.on_frame is not None:
            track_of = {t.detection: t.track_id for t in self.tracks if t.misses == 0}
            self.options.on_frame(FrameReport(frame, detections, tuple(track_of.get(d) for d in detections),
                                              self.tracks, utterance, detect_ms, stages.profile, age_ms,
                                              self.source.dropped, self.source.max_fps))

    def _photo(self, detections: tuple[Detection, ...], frame: Frame) -> Utterance:
        """What a photo shows, or that it shows nothing the profile cares about; named by its file
        when it is one of a folder's."""
        profile = self.stages.profile
        utterance = describe_scene(detections, frame, profile)
        if not utterance.text:
            utterance = replace(utterance, text=profile.lang.text(NOTHING_HERE), kind="status")
        return replace(utterance, photo=photo_name(frame.name)) if self.source.named else utterance

    def _say(self, utterance: Utterance) -> None:
        # A file read in order, and a photo (its own moment), get one sentence at a time, none
        # dropped as stale or cut by the wall clock; a stop (Ctrl-C) ends the wait.
        if self.media_voice or self.source.still:
            self.speaker.wait_idle(stop=self.options.stop)
        if self.media_voice:
            start_ms = max(utterance.timestamp_ms, self.voice_free_ms)
            self.voice_free_ms = start_ms + round(self.speaker.seconds_for(utterance.text) * 1000)
        self.speaker.say(utterance)
        self.utterances += 1

    def _status(self, msgid: str, priority: int = REQUESTED, late_ms: int = 0, **fields: object) -> Utterance:
        """A sentence about the assistant itself in the profile's language, dated at the last frame
        (plus `late_ms`)."""
        last = self.last_frame
        stamp, index = (last.timestamp_ms, last.index) if last is not None else (0, 0)
        profile = self.stages.profile
        return Utterance(profile.lang.text(msgid, **fields), stamp + late_ms, index, kind="status", priority=priority,
                         interrupt=priority >= HAZARD, language=profile.language)

    def _watch_loss(self) -> None:
        """Say when a live source goes silent and when it comes back; give up after `give_up_s` if set."""
        now = time.monotonic()
        event = self.loss.update(now, *self.source.arrived)
        if event == "lost":
            self.speaker.clear()  # whatever was waiting is about a scene no longer seen
            self._say(self._status(CAMERA_LOST, HAZARD, late_ms=round(self.loss.silent_s(now) * 1000)))
        elif event == "back":
            self.stages.restart()
            self.tracks = ()
            self._say(self._status(CAMERA_BACK))
        give_up_s = self.options.give_up_s
        if self.loss.lost and give_up_s is not None and self.loss.silent_s(now) >= give_up_s:
            raise SourceError(f"{self.source.description} gave no frames for {give_up_s:g} s; giving up (--give-up-s).")

    def _watch_cover(self, frame: Frame) -> None:
        """Pause while the camera is covered (dark and uniform for a second), and resume when uncovered."""
        dark = self.stages.profile.cover_to_pause and looks_covered(*luminance(frame.image))
        event = self.cover.update(dark, frame.timestamp_ms)
        if event == "covered":
            self.speaker.clear()
            self._say(self._status(COVERED))
        elif event == "uncovered":
            self._say(self._status(UNCOVERED_PAUSED if self.paused else UNCOVERED))

    def _reload(self, watcher: ProfileWatcher) -> None:
        """Apply a newly saved profile; an invalid save is reported, said aloud once, and ignored."""
        try:
            changed = watcher.poll()
        except ProfileError as error:
            self.options.on_profile_error(error)
            self._say(self._status(PROFILE_ERROR_SENTENCE))
            return
        if changed is not None:
            self.stages.apply(changed)
            self._cap(changed)
            if self.loss is not None:
                self.loss.timeout_s = changed.camera_timeout_s
            self.reloads += 1

    def _obey(self, command: Command) -> bool:
        """Apply one key's command between frames; False means quit."""
        if command is Command.QUIT:
            return False
        if command is Command.PAUSE:
            self.paused = not self.paused
            if self.paused:
                self.speaker.clear()
            self._say(self._status("Paused" if self.paused else "Resumed"))
        elif command is Command.REPEAT:
            last = self.last_said
            self._say(replace(last, kind="repeat", priority=REQUESTED, interrupt=False) if last
                      else self._status("Nothing said yet"))
        elif command is Command.DESCRIBE:
            if self.last_frame is None:
                self._say(self._status("Nothing in view"))
            else:
                self.last_said = self.stages.narrator.describe(self.tracks, self.last_frame)
                self._say(self.last_said)
        else:
            rate = self.speaker.adjust(rate_step_wpm=RATE_STEP_WPM if command is Command.FASTER else -RATE_STEP_WPM).rate_wpm
            self._say(self._status("Rate {rate}", rate=rate))
        return True

    def _cap(self, profile: Profile) -> None:
        """The frame-rate cap: --max-fps, else the profile's. Stills are never capped."""
        if not self.source.still:
            self.source.max_fps = self.options.max_fps if self.options.max_fps is not None else profile.max_fps

    def close(self) -> None:
        self.stages.close()

    def stats(self) -> RunStats:
        return RunStats(self.frames, self.utterances, time.monotonic() - self.started, self.reloads,
                        self.source.dropped, self.ages.percentile(50), self.ages.percentile(95),
                        self.loss.losses if self.loss is not None else 0, self.source.skipped,
                        self.source.max_fps, self.source.capped)


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
            "language": self.utterance.language,
            "objects": [
                {k: v for k, v in s.to_json().items() if k not in ("track_id", "why")} for s in self.utterance.objects
            ],
        }


def describe_image(path: Path, detector: FrameDetector, profile: Profile) -> Description:
    """Describe one image at once, as the assistant would say it; SourceError if it is unreadable."""
    frame = Frame(read_image(path), timestamp_ms=0, index=0, still=True, name=str(path))
    start = time.perf_counter()
    detections = detector.detect(frame)
    detect_ms = (time.perf_counter() - start) * 1000
    utterance = describe_scene(detections, frame, profile)
    return Description(path, frame.width, frame.height, utterance, frame.image, detections, detect_ms)
