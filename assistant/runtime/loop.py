"""The one loop: frames -> detections -> profile filter -> tracker -> narrator -> speaker."""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config.profile import Profile
from ..config.rules import Rules
from ..core import Detection, Frame, Track, Utterance
from ..errors import ProfileError, SourceError
from ..narration.policy import Narrator
from ..sources.camera_watch import looks_covered, luminance
from ..sources.source import Source
from ..speech.backends import VoiceSettings
from ..speech.speaker import Speaker
from ..vision.detector import (
    Detector,
    Detectors,
    DetectorSettings,
    open_detector,
)
from ..vision.speaking import Judged, judge, settle
from ..vision.tracking import Tracker
from .controls import Command
from .frame_report import FrameReport
from .reload import ProfileWatcher
from .session import (
    AdjustRate,
    ApplyProfile,
    Clear,
    CoverReading,
    Describe,
    Event,
    FrameArrived,
    FrameReady,
    GiveUp,
    KeyPressed,
    Look,
    LookAway,
    Narrated,
    ProfileInvalid,
    ProfileSaved,
    Quit,
    RateSet,
    RestartStages,
    Say,
    Session,
    SourceTick,
    Voiced,
)
from .stills import still_utterance

MAX_MISSING_MS = 1000  # a confirmed object unseen this long has left; shorter gaps are detector misses
CANDIDATE_MAX_RESULTS = 100


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


def detector_for(model_path: Path, rules: Rules, *, video: bool, candidates: float | None = None) -> Detector:
    """A real detector limited to what the profile needs (see `detector_settings`)."""
    return open_detector(model_path, detector_settings(rules, video, candidates))


def detector_settings(rules: Rules, video: bool, candidates: float | None) -> DetectorSettings:
    """What a detector for this profile is built with; a reload that changes none of it keeps the running one.

    The profile's classes down to its lowest speaking threshold, or, when tracking, down to the
    floor of the weak boxes that keep tracks alive. For the debug view, every class down to the
    `candidates` score, never above that floor, so the view cannot change what is said.
    """
    floor = rules.weak_floor if video else rules.lowest_min_score
    if candidates is not None:
        return DetectorSettings(video, min(candidates, floor), CANDIDATE_MAX_RESULTS)
    return DetectorSettings(video, floor, labels=rules.labels)


def run(source: Source, detectors: Detectors, rules: Rules, speaker: Speaker,
        options: RunOptions | None = None) -> RunStats:
    """Narrate a source until it ends, `max_frames` are done, `stop` is set or QUIT is commanded.

    `detectors` builds the detector for each settings the profile asks for (`mediapipe_detectors`
    outside the tests); it is asked again only when a reloaded profile changes them."""
    options = options or RunOptions()
    if options.stop.is_set():  # stopped while the source was opening: do not even load the model
        return RunStats(0, 0, 0.0)
    loop = _Loop(source, detectors, rules, speaker, options)
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
    """The stages a profile's rules configure, and the one place new rules are applied to them."""

    def __init__(self, detectors: Detectors, rules: Rules, speaker: Speaker, *, video: bool,
                 candidates: float | None):
        self.detectors, self.speaker, self.video, self.candidates = detectors, speaker, video, candidates
        self.rules = rules
        self.settings = detector_settings(rules, video, candidates)
        self.detector = detectors(self.settings)
        self.restart()

    def restart(self) -> None:
        """Forget what was tracked and said: after the camera comes back, nothing of before is known."""
        self.tracker = Tracker(self.profile.confirm_frames, lambda label: self.rules.min_score(label),
                               max_missing_ms=MAX_MISSING_MS)
        self.narrator = Narrator(self.rules)

    @property
    def profile(self) -> Profile:
        return self.rules.profile

    def apply(self, rules: Rules) -> None:
        """A reloaded profile's rules, from the next frame on; the detector is rebuilt only if its settings changed."""
        profile = rules.profile
        settings = detector_settings(rules, self.video, self.candidates)
        if settings != self.settings:
            self.detector.close()
            self.detector = self.detectors(settings)
            self.settings = settings
        self.rules = self.narrator.rules = rules
        self.tracker.confirm_hits = profile.confirm_frames
        self.speaker.adjust(voice_settings(profile), profile.freshness_s)

    def close(self) -> None:
        self.detector.close()


class _Loop:
    """One run's I/O: reads the clocks, the source, the keys and the speaker, runs the stages, feeds
    what happened to the `Session` and carries out what it answers. It holds only data: the last
    frame and its tracks (for "describe"), and the frame counts and ages for `RunStats`."""

    def __init__(self, source: Source, detectors: Detectors, rules: Rules, speaker: Speaker, options: RunOptions):
        self.source, self.speaker, self.options = source, speaker, options
        profile = rules.profile
        self.stages = _Stages(detectors, rules, speaker, video=not source.still, candidates=options.candidates)
        self._cap(profile)
        self.session = Session(profile, media_clock=source.in_order, live=source.live, give_up_s=options.give_up_s)
        self.ages = _Ages()
        self.last_frame: Frame | None = None
        self.tracks: tuple[Track, ...] = ()
        self.frames = 0
        self.started = time.monotonic()

    def step(self, frame: Frame | None) -> bool:
        """Handle one step: a frame, or None when no new frame came; False ends the run."""
        options = self.options
        if options.stop.is_set() or (options.max_frames is not None and self.frames >= options.max_frames):
            return False
        if frame is not None:
            self.last_frame = frame
            self._tell(FrameArrived(frame.timestamp_ms, frame.index))
        if options.watcher is not None:
            self._reload(options.watcher)
        while options.commands is not None and not options.commands.empty():
            if not self._tell(KeyPressed(options.commands.get())):
                return False
        if self.source.live:
            self._tell(SourceTick(time.monotonic(), *self.source.arrived))
        if frame is not None:
            self._process(frame)
            self.frames += 1
        return not options.stop.is_set()

    def _process(self, frame: Frame) -> None:
        stages = self.stages
        if not frame.still:
            dark = stages.profile.cover_to_pause and looks_covered(*luminance(frame.image))
            self._tell(CoverReading(dark, frame.timestamp_ms))
        age_ms = (time.monotonic() - frame.captured_s) * 1000
        self.ages.add(age_ms)
        detections: tuple[Detection, ...] = ()
        judged = Judged((), ())
        utterance, detect_ms = None, 0.0
        if frame.still:
            detections, detect_ms = self._detect(frame)
            judged = judge(detections, stages.rules, frame.width, frame.height)
            utterance = still_utterance(judged, frame, stages.rules, named=self.source.named)
        else:
            voice_busy = self.speaker.busy or self.speaker.queued > 0
            match self.session.update(FrameReady(frame.timestamp_ms, voice_busy)):
                case (Look(narrate, speaking),):
                    detections, detect_ms = self._detect(frame)
                    judged = judge(detections, stages.rules, frame.width, frame.height)
                    self.tracks = stages.tracker.update(judged.accepted, frame.timestamp_ms, judged.weak)
                    utterance = stages.narrator.update(self.tracks, frame, speaking) if narrate else None
                case (LookAway(),):  # covered
                    self.tracks = ()
        if utterance is not None:
            utterance = replace(utterance, age_ms=round((time.monotonic() - frame.captured_s) * 1000, 1))
            self._tell(Narrated(utterance))
        if self.options.on_frame is not None:
            track_of = {t.detection: t.track_id for t in self.tracks if t.misses == 0}
            track_ids = tuple(track_of.get(d) for d in detections)
            self.options.on_frame(FrameReport(frame, detections, settle(judged, track_ids, utterance), track_ids,
                                              self.tracks, utterance, detect_ms, stages.rules, age_ms,
                                              self.source.dropped, self.source.max_fps, self.session.paused,
                                              self.session.cover.covered))

    def _detect(self, frame: Frame) -> tuple[tuple[Detection, ...], float]:
        """The frame's detections, and how many milliseconds the detector took."""
        start = time.perf_counter()
        detections = self.stages.detector.detect(frame)
        return detections, (time.perf_counter() - start) * 1000

    def _reload(self, watcher: ProfileWatcher) -> None:
        """A newly saved profile applies; an invalid save is reported (and said once), and ignored."""
        try:
            changed = watcher.poll()
        except ProfileError as error:
            self.options.on_profile_error(error)
            self._tell(ProfileInvalid())
            return
        if changed is not None:
            self._tell(ProfileSaved(changed))

    def _tell(self, event: Event) -> bool:
        """Feed the session one event and carry out its actions in order; False means quit."""
        for action in self.session.update(event):
            match action:
                case Say(utterance):
                    self._say(utterance)
                case Clear():
                    self.speaker.clear()
                case Describe():
                    assert self.last_frame is not None  # the session describes only after a frame
                    self._tell(Narrated(self.stages.narrator.describe(self.tracks, self.last_frame)))
                case AdjustRate(step_wpm):
                    self._tell(RateSet(self.speaker.adjust(rate_step_wpm=step_wpm).rate_wpm))
                case RestartStages():
                    self.stages.restart()
                    self.tracks = ()
                case ApplyProfile(rules):
                    self.stages.apply(rules)
                    self._cap(rules.profile)
                case GiveUp():
                    raise SourceError(f"{self.source.description} gave no frames for {self.options.give_up_s:g} s; "
                                      "giving up (--give-up-s).")
                case Quit():
                    return False
        return True

    def _say(self, utterance: Utterance) -> None:
        # A file read in order, and a photo (its own moment), get one sentence at a time, none
        # dropped as stale or cut by the wall clock; a stop (Ctrl-C) ends the wait.
        if self.source.one_at_a_time:
            self.speaker.wait_idle(stop=self.options.stop)
        self.session.update(Voiced(utterance, self.speaker.seconds_for(utterance.text)))
        self.speaker.say(utterance)

    def _cap(self, profile: Profile) -> None:
        """The frame-rate cap: --max-fps, else the profile's. Stills are never capped."""
        if not self.source.still:
            self.source.max_fps = self.options.max_fps if self.options.max_fps is not None else profile.max_fps

    def close(self) -> None:
        self.stages.close()

    def stats(self) -> RunStats:
        session = self.session
        return RunStats(self.frames, session.utterances, time.monotonic() - self.started, session.reloads,
                        self.source.dropped, self.ages.percentile(50), self.ages.percentile(95),
                        session.losses, self.source.skipped, self.source.max_fps, self.source.capped)
