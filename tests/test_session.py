"""The session policy as tables: events in, actions out. No model, no speaker, no clock."""

from dataclasses import replace

import pytest

from assistant.runtime.controls import RATE_STEP_WPM, Command
from assistant.core import HAZARD, REQUESTED, Utterance
from assistant.config.profile import Profile
from assistant.config.rules import Rules
from assistant.runtime.session import (
    AdjustRate,
    ApplyProfile,
    Clear,
    CoverReading,
    Describe,
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

PROFILE = Profile(name="t", objects=["car"], camera_timeout_s=2)
GERMAN = Rules(Profile(name="t", language="de", objects=["car"], camera_timeout_s=5))
CAR = Utterance("A car ahead", 1000, 10, priority=HAZARD, interrupt=True)
LATER = Utterance("A person on your left", 1500, 15)
DESCRIBED = Utterance("A car ahead; a person on your left", 1000, 10, kind="describe", priority=REQUESTED)


def status(text: str, t_ms: int = 0, index: int = 0, priority: int = REQUESTED, language: str = "en") -> Say:
    return Say(Utterance(text, t_ms, index, kind="status", priority=priority, interrupt=priority >= HAZARD,
                         language=language))


def look(narrate: bool = True, speaking: bool = False) -> tuple[Look]:
    return (Look(narrate, speaking),)


def key(command: Command) -> KeyPressed:
    return KeyPressed(command)


KEYS = {
    "quit": [(key(Command.QUIT), (Quit(),))],
    "pause, then resume": [
        (FrameArrived(500, 5), ()),
        (key(Command.PAUSE), (Clear(), status("Paused", 500, 5))),
        (FrameReady(500, voice_busy=False), look(narrate=False)),
        (key(Command.PAUSE), (status("Resumed", 500, 5),)),
        (FrameReady(600, voice_busy=False), look()),
    ],
    "repeat with nothing said yet": [(key(Command.REPEAT), (status("Nothing said yet"),))],
    "repeat the last sentence, as asked for": [
        (Narrated(CAR), (Say(CAR),)),
        (key(Command.REPEAT), (Say(replace(CAR, kind="repeat", priority=REQUESTED, interrupt=False)),)),
    ],
    "describe before any frame": [(key(Command.DESCRIBE), (status("Nothing in view"),))],
    "describe the last frame, which is then what repeat says": [
        (FrameArrived(1000, 10), ()),
        (key(Command.DESCRIBE), (Describe(),)),
        (Narrated(DESCRIBED), (Say(DESCRIBED),)),
        (key(Command.REPEAT), (Say(replace(DESCRIBED, kind="repeat")),)),
    ],
    "faster, then slower": [
        (FrameArrived(2000, 20), ()),
        (key(Command.FASTER), (AdjustRate(RATE_STEP_WPM),)),
        (RateSet(200), (status("Rate 200", 2000, 20),)),
        (key(Command.SLOWER), (AdjustRate(-RATE_STEP_WPM),)),
        (RateSet(175), (status("Rate 175", 2000, 20),)),
    ],
}

COVER = {
    "covered for a second pauses, and nothing is looked at": [
        (FrameArrived(0, 0), ()),
        (CoverReading(True, 0), ()),
        (FrameReady(0, voice_busy=False), look()),
        (FrameArrived(999, 9), ()),
        (CoverReading(True, 999), ()),
        (FrameArrived(1000, 10), ()),
        (CoverReading(True, 1000), (Clear(), status("Paused, camera covered", 1000, 10))),
        (FrameReady(1000, voice_busy=False), (LookAway(),)),
        (FrameArrived(1100, 11), ()),
        (CoverReading(False, 1100), ()),
        (FrameReady(1100, voice_busy=False), (LookAway(),)),  # light for less than 0.3 s: still covered
        (FrameArrived(1400, 14), ()),
        (CoverReading(False, 1400), (status("Resumed", 1400, 14),)),
        (FrameReady(1400, voice_busy=False), look()),
    ],
    "uncovered while paused by the key stays paused": [
        (key(Command.PAUSE), (Clear(), status("Paused"))),
        (CoverReading(True, 0), ()),
        (CoverReading(True, 1000), (Clear(), status("Paused, camera covered"))),
        (CoverReading(False, 1300), ()),
        (CoverReading(False, 1600), (status("Camera uncovered, still paused"),)),
        (FrameReady(1600, voice_busy=False), look(narrate=False)),
    ],
    "a dim moment shorter than a second is not covered": [
        (CoverReading(True, 0), ()),
        (CoverReading(False, 900), ()),
        (CoverReading(True, 1000), ()),
        (FrameReady(1000, voice_busy=False), look()),
    ],
}

PROFILES = {
    "a saved profile applies, and statuses are then in its language": [
        (ProfileSaved(GERMAN), (ApplyProfile(GERMAN),)),
        (key(Command.REPEAT), (status("Noch nichts gesagt", language="de"),)),
    ],
    "an invalid save is said, and the profile kept": [
        (ProfileInvalid(), (status("Profile has an error, keeping the previous settings"),)),
        (key(Command.REPEAT), (status("Nothing said yet"),)),
    ],
}

VOICE = {
    "a file: the second sentence waits for the first's estimated length, on the media clock": [
        (Narrated(CAR), (Say(CAR),)),
        (Voiced(CAR, 2.0), ()),  # said from 1000 to 3000 ms
        (FrameReady(2999, voice_busy=False), look(speaking=True)),  # the live speaker's state is not asked
        (Narrated(LATER), (Say(LATER),)),
        (Voiced(LATER, 1.0), ()),  # after the first: from 3000 to 4000 ms
        (FrameReady(3999, voice_busy=False), look(speaking=True)),
        (FrameReady(4000, voice_busy=True), look(speaking=False)),
    ],
}

LIVE_VOICE = {
    "live: speaking is the speaker's own state, whatever was said": [
        (Narrated(CAR), (Say(CAR),)),
        (Voiced(CAR, 2.0), ()),
        (FrameReady(1000, voice_busy=False), look(speaking=False)),
        (FrameReady(90_000, voice_busy=True), look(speaking=True)),
    ],
}

LOSS = {
    "lost after camera_timeout_s of silence, dated that late; back after three frames over half a second": [
        (SourceTick(10.0, 1, 10.0), ()),
        (FrameArrived(100, 1), ()),
        (SourceTick(11.9, 1, 10.0), ()),
        (SourceTick(12.0, 1, 10.0), (Clear(), status("Camera lost", 2100, 1, HAZARD))),
        (SourceTick(20.0, 2, 20.0), ()),
        (SourceTick(20.3, 3, 20.3), ()),
        (SourceTick(20.6, 4, 20.6), (RestartStages(), status("Camera back", 100, 1))),
        (SourceTick(21.0, 4, 20.6), ()),
    ],
    "a burst of buffered frames is not the camera coming back": [
        (SourceTick(0.0, 0, None), ()),
        (SourceTick(2.0, 0, None), (Clear(), status("Camera lost", 2000, 0, HAZARD))),
        (SourceTick(2.1, 5, 2.1), ()),
    ],
}

GIVE_UP = {
    "given up on after give_up_s of silence, once lost": [
        (SourceTick(0.0, 0, None), ()),
        (SourceTick(2.0, 0, None), (Clear(), status("Camera lost", 2000, 0, HAZARD))),
        (SourceTick(4.9, 0, None), ()),
        (SourceTick(5.0, 0, None), (GiveUp(),)),
    ],
    "a reloaded profile's camera_timeout_s applies to the watch": [
        (SourceTick(0.0, 0, None), ()),
        (ProfileSaved(GERMAN), (ApplyProfile(GERMAN),)),
        (SourceTick(2.0, 0, None), ()),  # 5 s now
        (SourceTick(5.0, 0, None), (Clear(), status("Kamera verloren", 5000, 0, HAZARD, "de"), GiveUp())),
    ],
}


def play(session: Session, rows: list) -> None:
    for number, (event, expected) in enumerate(rows):
        assert session.update(event) == expected, f"row {number}: {event}"


@pytest.mark.parametrize("rows", [*KEYS.values(), *COVER.values(), *PROFILES.values(), *VOICE.values()],
                         ids=[*KEYS, *COVER, *PROFILES, *VOICE])
def test_a_file_read_in_order(rows: list) -> None:
    play(Session(PROFILE, media_clock=True, live=False), rows)


@pytest.mark.parametrize("rows", [*KEYS.values(), *COVER.values(), *PROFILES.values(), *LIVE_VOICE.values(),
                                  *LOSS.values()], ids=[*KEYS, *COVER, *PROFILES, *LIVE_VOICE, *LOSS])
def test_a_camera(rows: list) -> None:
    play(Session(PROFILE, media_clock=False, live=True), rows)


@pytest.mark.parametrize("rows", GIVE_UP.values(), ids=GIVE_UP)
def test_a_camera_given_up_on(rows: list) -> None:
    play(Session(PROFILE, media_clock=False, live=True, give_up_s=5), rows)


def test_a_file_is_never_lost() -> None:
    session = Session(PROFILE, media_clock=True, live=False)
    assert session.update(SourceTick(0.0, 0, None)) == session.update(SourceTick(99.0, 0, None)) == ()
    assert session.losses == 0


def test_the_counts_for_run_stats() -> None:
    session = Session(PROFILE, media_clock=False, live=True)
    play(session, [
        (SourceTick(0.0, 0, None), ()),
        (SourceTick(2.0, 0, None), (Clear(), status("Camera lost", 2000, 0, HAZARD))),
        (ProfileSaved(GERMAN), (ApplyProfile(GERMAN),)),
        (Narrated(CAR), (Say(CAR),)),
    ])
    assert (session.utterances, session.reloads, session.losses) == (2, 1, 1)
