"""The session policy: what one run says and does about itself, as events in and actions out.

Pure policy: no threads, no clocks, no speaker. Every time is carried in its event, with its
unit in its name, so a test is a table of events and the actions they give. The loop in
`pipeline.py` reads the clocks, the source, the keys and the speaker, feeds what happened to
`Session.update`, and carries out the actions in order.

The session owns: whether the user paused, what was said last (for "repeat"), whether a camera
is lost or covered (through `camera_watch`), the media-clock voice, and the sentences the
assistant says about itself, in the profile's language, dated at the last frame.

The media-clock voice: a file read in order runs on its own clock, faster or slower than the
wall's, so the voice's busy time is counted on that clock too (from each `Voiced` sentence's
length), and what is said never depends on the machine's speed. A live source's voice is the
speaker's own state, passed in with each frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..config.profile import Profile
from ..config.rules import Rules
from ..core import HAZARD, REQUESTED, Utterance
from ..sources.camera_watch import CoverWatch, LossWatch
from .controls import RATE_STEP_WPM, Command

# Status sentences: English msgids, said in the profile's language.
PROFILE_ERROR_SENTENCE = "Profile has an error, keeping the previous settings"
CAMERA_LOST, CAMERA_BACK = "Camera lost", "Camera back"
COVERED, UNCOVERED, UNCOVERED_PAUSED = "Paused, camera covered", "Resumed", "Camera uncovered, still paused"
PAUSED, RESUMED = "Paused", "Resumed"
NOTHING_SAID, NOTHING_IN_VIEW, RATE = "Nothing said yet", "Nothing in view", "Rate {rate}"


# Events: what happened.

@dataclass(frozen=True, slots=True)
class FrameArrived:
    """A new frame is being handled: what is said from now on is dated at it."""

    timestamp_ms: int
    index: int


@dataclass(frozen=True, slots=True)
class CoverReading:
    """Whether a tracked frame is dark and uniform, and the profile lets covering pause."""

    dark: bool
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class FrameReady:
    """A tracked frame is ready to be looked at; `voice_busy`: the speaker is saying or holding
    something (used for live sources; a file read in order uses the media-clock voice)."""

    timestamp_ms: int
    voice_busy: bool


@dataclass(frozen=True, slots=True)
class Narrated:
    """The narrator (or a still's description) has something to say."""

    utterance: Utterance


@dataclass(frozen=True, slots=True)
class Voiced:
    """The speaker took `utterance`, which lasts about `seconds` at its current rate."""

    utterance: Utterance
    seconds: float


@dataclass(frozen=True, slots=True)
class KeyPressed:
    """A key's command, applied between frames."""

    command: Command


@dataclass(frozen=True, slots=True)
class RateSet:
    """The speaker's rate after an `AdjustRate`."""

    rate_wpm: int


@dataclass(frozen=True, slots=True)
class ProfileSaved:
    """A valid profile was saved while running: its rules under the model's calibration."""

    rules: Rules


@dataclass(frozen=True, slots=True)
class ProfileInvalid:
    """A profile was saved with an error (already reported); the previous one is kept."""


@dataclass(frozen=True, slots=True)
class SourceTick:
    """Once per loop step of a live source: how many frames it has read so far and when it read
    the newest (None before the first), on the `now_s` clock."""

    now_s: float
    read: int
    read_s: float | None


Event = (FrameArrived | CoverReading | FrameReady | Narrated | Voiced | KeyPressed | RateSet | ProfileSaved
         | ProfileInvalid | SourceTick)


# Actions: what the loop does, in order.

@dataclass(frozen=True, slots=True)
class Say:
    """Give the speaker a sentence, then hand it back as `Voiced` with its length."""

    utterance: Utterance


@dataclass(frozen=True, slots=True)
class Clear:
    """Drop what the speaker holds: it is about a scene no longer heard about."""


@dataclass(frozen=True, slots=True)
class Look:
    """Detect and track the frame; narrate it when `narrate`, telling the narrator whether the voice is `speaking`."""

    narrate: bool
    speaking: bool


@dataclass(frozen=True, slots=True)
class LookAway:
    """The camera is covered: the frame is not looked at, and nothing is in view."""


@dataclass(frozen=True, slots=True)
class Describe:
    """Describe everything in view in the last frame, and hand it back as `Narrated`."""


@dataclass(frozen=True, slots=True)
class AdjustRate:
    """Change the speaker's rate by `step_wpm`, and hand the new rate back as `RateSet`."""

    step_wpm: int


@dataclass(frozen=True, slots=True)
class RestartStages:
    """Forget what was tracked and said: the camera is back, nothing of before is known."""


@dataclass(frozen=True, slots=True)
class ApplyProfile:
    """Apply a saved profile's rules from the next frame on."""

    rules: Rules


@dataclass(frozen=True, slots=True)
class GiveUp:
    """The camera has been lost for the run's `give_up_s`: end the run with an error."""


@dataclass(frozen=True, slots=True)
class Quit:
    """End the run (the q key)."""


Action = Say | Clear | Look | LookAway | Describe | AdjustRate | RestartStages | ApplyProfile | GiveUp | Quit


class Session:
    """One run's policy: `update(event)` gives the actions to carry out, in order.

    `media_clock`: the source is a file read in order (see the module's docstring). `live`: a
    camera or stream, watched for loss (LossWatch) and given up on after `give_up_s` if set.
    """

    def __init__(self, profile: Profile, *, media_clock: bool, live: bool, give_up_s: float | None = None):
        self.profile = profile
        self.media_clock, self.give_up_s = media_clock, give_up_s
        self.loss = LossWatch(profile.camera_timeout_s) if live else None
        self.cover = CoverWatch()
        self.paused = False
        self.last_said: Utterance | None = None
        self.last_frame: tuple[int, int] | None = None  # the last frame's timestamp_ms and index
        self.voice_free_ms = 0  # on the media clock: when the voice is done with what it was given
        self.utterances = self.reloads = 0

    @property
    def losses(self) -> int:
        """Times a live source went silent for the profile's camera_timeout_s."""
        return self.loss.losses if self.loss is not None else 0

    def update(self, event: Event) -> tuple[Action, ...]:
        """The actions one event calls for."""
        match event:
            case FrameArrived(timestamp_ms, index):
                self.last_frame = (timestamp_ms, index)
                return ()
            case CoverReading(dark, timestamp_ms):
                return self._cover(self.cover.update(dark, timestamp_ms))
            case FrameReady(timestamp_ms, voice_busy):
                if self.cover.covered:
                    return (LookAway(),)
                speaking = timestamp_ms < self.voice_free_ms if self.media_clock else voice_busy
                return (Look(narrate=not self.paused, speaking=speaking),)
            case Narrated(utterance):
                self.last_said = utterance
                return (self._say(utterance),)
            case Voiced(utterance, seconds):
                if self.media_clock:
                    self.voice_free_ms = max(utterance.timestamp_ms, self.voice_free_ms) + round(seconds * 1000)
                return ()
            case KeyPressed(command):
                return self._obey(command)
            case RateSet(rate_wpm):
                return (self._say(self._status(RATE, rate=rate_wpm)),)
            case ProfileSaved(rules):
                self.profile = profile = rules.profile
                if self.loss is not None:
                    self.loss.timeout_s = profile.camera_timeout_s
                self.reloads += 1
                return (ApplyProfile(rules),)
            case ProfileInvalid():
                return (self._say(self._status(PROFILE_ERROR_SENTENCE)),)
            case SourceTick(now_s, read, read_s):
                return self._watch_loss(now_s, read, read_s)
        raise TypeError(f"not a session event: {event!r}")

    def _obey(self, command: Command) -> tuple[Action, ...]:
        if command is Command.QUIT:
            return (Quit(),)
        if command is Command.PAUSE:
            self.paused = not self.paused
            if self.paused:
                return Clear(), self._say(self._status(PAUSED))
            return (self._say(self._status(RESUMED)),)
        if command is Command.REPEAT:
            last = self.last_said
            return (self._say(replace(last, kind="repeat", priority=REQUESTED, interrupt=False) if last
                              else self._status(NOTHING_SAID)),)
        if command is Command.DESCRIBE:
            return (Describe(),) if self.last_frame is not None else (self._say(self._status(NOTHING_IN_VIEW)),)
        return (AdjustRate(RATE_STEP_WPM if command is Command.FASTER else -RATE_STEP_WPM),)

    def _cover(self, change: str | None) -> tuple[Action, ...]:
        """Covering the camera pauses (dark and uniform for a second); uncovering resumes."""
        if change == "covered":
            return Clear(), self._say(self._status(COVERED))
        if change == "uncovered":
            return (self._say(self._status(UNCOVERED_PAUSED if self.paused else UNCOVERED)),)
        return ()

    def _watch_loss(self, now_s: float, read: int, read_s: float | None) -> tuple[Action, ...]:
        """Say when a live source goes silent and when it comes back; give up after `give_up_s` if set."""
        if self.loss is None:
            return ()
        actions: tuple[Action, ...] = ()
        change = self.loss.update(now_s, read, read_s)
        if change == "lost":
            late_ms = round(self.loss.silent_s(now_s) * 1000)
            actions = Clear(), self._say(self._status(CAMERA_LOST, HAZARD, late_ms=late_ms))
        elif change == "back":
            actions = RestartStages(), self._say(self._status(CAMERA_BACK))
        if self.loss.lost and self.give_up_s is not None and self.loss.silent_s(now_s) >= self.give_up_s:
            actions += (GiveUp(),)
        return actions

    def _say(self, utterance: Utterance) -> Say:
        self.utterances += 1
        return Say(utterance)

    def _status(self, msgid: str, priority: int = REQUESTED, late_ms: int = 0, **fields: object) -> Utterance:
        """A sentence about the assistant itself in the profile's language, dated at the last frame
        (plus `late_ms`)."""
        stamp, index = self.last_frame if self.last_frame is not None else (0, 0)
        profile = self.profile
        return Utterance(profile.lang.text(msgid, **fields), stamp + late_ms, index, kind="status", priority=priority,
                         interrupt=priority >= HAZARD, language=profile.language)
