"""The narration policy and tracker with explicit timestamps: fakes are fine here, it is pure logic."""

import math
import threading
import time

import numpy as np
import pytest

from assistant.core import REQUESTED, URGENT, Box, Detection, Frame, Track, Utterance
from assistant.narration.policy import Narrator
from assistant.config.profile import Profile
from assistant.config.rules import Rules
from assistant.vision.speaking import Kind, judge
from assistant.speech.speaker import Speaker
from assistant.speech.backends import PrintBackend
from assistant.vision.tracking import Tracker
from assistant.language.catalog import load as load_language
from assistant.narration.wording import compose, counted, describe_scene, sightings_of

PROFILE = Rules(Profile(
    name="test",
    objects={"person": {"priority": 5}, "car": {"priority": 7}, "cup": {}, "dog": {"min_score": 0.4}, "chair": {}},
    defaults={"min_score": 0.5, "priority": 1, "cooldown_s": 10},
))
W, H = 640, 480


def passing(dets: list[Detection], rules: Rules) -> list[Detection]:
    """The boxes that pass the profile's own rules (class, threshold, size), duplicates or not."""
    fates = judge(dets, rules, W, H).fates
    return [d for d, fate in zip(dets, fates) if fate.kind in (Kind.ACCEPTED, Kind.DUPLICATE)]


def frame_at(t_ms: int, index: int = 0) -> Frame:
    return Frame(np.zeros((H, W, 3), np.uint8), timestamp_ms=t_ms, index=index)


def det(label: str, x: float, score: float = 0.9, y1: float = 150, y2: float = 300, w: float = 60) -> Detection:
    return Detection(label, score, Box(x, y1, x + w, y2))


@pytest.mark.parametrize(("label", "expected"), [
    ("person", "people"), ("bus", "buses"), ("couch", "couches"), ("wine glass", "wine glasses"),
    ("knife", "knives"), ("sheep", "sheep"), ("car", "cars"), ("traffic light", "traffic lights"),
    ("cell phone", "phones"), ("toothbrush", "toothbrushes"), ("teddy bear", "teddy bears"),
])
def test_plurals(label: str, expected: str) -> None:
    assert load_language("en").noun(label).form("other") == expected


@pytest.mark.parametrize(("label", "n", "expected"), [
    ("person", 1, "a person"), ("person", 2, "two people"), ("car", 3, "three cars"), ("umbrella", 1, "an umbrella"),
    ("tv", 1, "a television"), ("car", 12, "12 cars"), ("scissors", 1, "a pair of scissors"),
    ("bus", 2, "two buses"), ("skis", 2, "two pairs of skis"),
])
def test_counted(label: str, n: int, expected: str) -> None:
    assert counted(label, n, PROFILE.style) == expected


def test_one_sentence_groups_counts_and_orders_by_priority() -> None:
    frame = frame_at(0)
    dets = [det("person", 290), det("person", 340), det("cup", 600), det("car", 10), det("chair", 320)]
    said = compose(sightings_of(dets, frame, PROFILE), PROFILE.style)
    text, objects = said.text, said.objects
    assert text.startswith("A car on your left")
    assert "; two people ahead" in text
    assert text.count(";") == 2  # at most three items
    # cup and chair tie on priority; the cup (0.4 m) is nearer than the chair (3 m)
    assert {s.detection.label for s in objects} == {"car", "person", "cup"}
    assert "chair" not in text


def test_nearer_group_first_at_equal_priority() -> None:
    frame = frame_at(0)
    far_cup = det("cup", 10, y1=200, y2=210)
    near_chair = det("chair", 600, y1=100, y2=400, w=30)
    text = compose(sightings_of([far_cup, near_chair], frame, PROFILE), PROFILE.style).text
    assert text.index("chair") < text.index("cup")


def test_filter_uses_per_class_min_score_and_classes() -> None:
    frame = frame_at(0)
    kept = sightings_of([det("dog", 10, score=0.45), det("cup", 200, score=0.45), det("kite", 400)], frame, PROFILE)
    assert [s.detection.label for s in kept] == ["dog"]


def test_still_image_is_described_at_once() -> None:
    utterance = describe_scene([det("dog", 300)], frame_at(0), PROFILE)
    assert utterance.text.startswith("A dog ahead")


def test_edge_boxes_say_close_or_partly_in_view() -> None:
    bottom = describe_scene([det("car", 300, y1=100, y2=H)], frame_at(0), PROFILE)
    top = describe_scene([det("car", 300, y1=0, y2=100)], frame_at(0), PROFILE)
    assert bottom.text == "A car ahead, close"
    assert top.text == "A car ahead, partly in view"


def test_a_person_cut_by_the_frame_is_placed_by_width() -> None:
    wide = describe_scene([det("person", 170, y1=100, y2=H, w=300)], frame_at(0), PROFILE)
    narrow = describe_scene([det("person", 300, y1=100, y2=H, w=100)], frame_at(0), PROFILE)
    assert wide.text == "A person ahead, close"
    assert narrow.text == "A person ahead, about 4 metres"  # legs cut off 4 m away are not "close"


def crossing(fps: float, score: float = 0.6, seconds: float = 1.5) -> list[tuple[float, list[Detection]]]:
    """A car 120 px wide driving across the 640 px frame in `seconds`, seen `fps` times a second.
    The detector reports it (clipped to the frame) while at least half of it is in view."""
    frames = []
    for i in range(int(seconds * fps) + 1):
        t_ms = i * 1000 / fps
        x1 = -120 + (W + 120) * t_ms / (seconds * 1000)
        visible = min(x1 + 120, W) - max(x1, 0)
        frames.append((t_ms, [Detection("car", score, Box(max(x1, 0), 200, min(x1 + 120, W), 270))] if visible >= 60 else []))
    return frames


def track_all(frames: list[tuple[float, list[Detection]]], weak: dict[float, list[Detection]] | None = None,
              **settings) -> list[tuple[Track, ...]]:
    tracker = Tracker(**settings)
    return [tracker.update(dets, t_ms, (weak or {}).get(t_ms, [])) for t_ms, dets in frames]


def confirmed_ids(history: list[tuple[Track, ...]]) -> set[int]:
    return {t.track_id for tracks in history for t in tracks if t.confirmed and t.misses == 0}


class TestTracker:
    """Confirmation and association, with time passed in, at the rates people wear this at and above."""

    @pytest.mark.parametrize(("score", "looks"), [(0.9, 2), (0.65, 2), (0.55, 2), (0.52, 3), (0.5, 3)])
    def test_a_box_scored_well_above_its_threshold_is_confirmed_sooner(self, score: float, looks: int) -> None:
        history = track_all([(i * 100, [det("cup", 300, score=score)]) for i in range(4)])
        first = next(i for i, tracks in enumerate(history) if tracks[0].confirmed)
        assert first + 1 == looks

    @pytest.mark.parametrize("fps", [2, 5, 15, 30])
    @pytest.mark.parametrize("score", [0.6, 0.9])
    def test_a_car_crossing_the_frame_in_one_and_a_half_seconds_is_confirmed_at_every_rate(
            self, fps: float, score: float) -> None:
        history = track_all(crossing(fps, score))
        assert len(confirmed_ids(history)) == 1  # confirmed, and one object throughout
        assert {t.track_id for tracks in history for t in tracks} == confirmed_ids(history)

    @pytest.mark.parametrize("fps", [2, 5, 15, 30])
    @pytest.mark.parametrize("score", [0.5, 0.99])
    def test_a_one_frame_false_box_is_confirmed_at_no_rate(self, fps: float, score: float) -> None:
        frames = [(i * 1000 / fps, [det("dog", 300, score=score)] if i == 2 else []) for i in range(int(fps * 3))]
        assert confirmed_ids(track_all(frames)) == set()

    @pytest.mark.parametrize("fps", [2, 5, 15, 30])
    def test_false_boxes_that_never_come_twice_in_a_row_are_confirmed_at_no_rate(self, fps: float) -> None:
        # a strong box in one frame out of three, each time somewhere else: no second look ever finds it
        frames = [(i * 1000 / fps, [det("dog", (97 * i) % 560, score=0.9)] if i % 3 == 0 else [])
                  for i in range(int(fps * 5))]
        assert confirmed_ids(track_all(frames)) == set()

    def test_a_track_not_yet_confirmed_survives_one_miss_but_not_two(self) -> None:
        once = track_all([(0, [det("cup", 300, score=0.5)]), (100, []), (200, [det("cup", 300, score=0.5)]),
                          (300, [det("cup", 300, score=0.5)])])
        assert [t.track_id for t in once[-1]] == [1] and once[-1][0].confirmed
        twice = track_all([(0, [det("cup", 300, score=0.5)]), (100, []), (200, []), (300, [det("cup", 300)])])
        assert [t.track_id for t in twice[-1]] == [2]

    def test_weak_boxes_keep_a_track_alive_but_never_in_view_nor_confirmed(self) -> None:
        weak = det("car", 100, score=0.4)
        frames = [(0, [det("car", 100)]), (100, [det("car", 100)])] + [(t, []) for t in range(200, 2200, 100)]
        history = track_all(frames, weak={t: [weak] for t in range(200, 2200, 100)})
        assert all([t.track_id for t in tracks] == [1] for tracks in history)  # 2 s, one track, never ended
        assert all(tracks[0].misses > 0 for tracks in history[2:])  # never in view from a weak box
        alone = track_all([(t, []) for t in range(0, 2000, 100)], weak={t: [weak] for t in range(0, 2000, 100)})
        assert confirmed_ids(alone) == set() and not any(t.confirmed for tracks in alone for t in tracks)

    def test_weak_looks_before_a_strong_one_are_evidence(self) -> None:
        # a person scored just under the threshold for 1.5 s at 2 fps, then clearly: said at once
        weak = {t: [det("person", 300 - t / 100, score=0.45)] for t in (0, 500, 1000)}
        history = track_all([(0, []), (500, []), (1000, []), (1500, [det("person", 285, score=0.8)])], weak=weak)
        assert history[-1][0].confirmed and history[-1][0].misses == 0

    def test_unrelated_labels_never_share_a_track_but_a_car_may_become_a_bus(self) -> None:
        history = track_all([(0, [det("cup", 100)]), (100, [det("cat", 100)])])
        assert {t.track_id for t in history[1] if t.misses == 0} == {2}
        history = track_all([(0, [det("car", 100)]), (100, [det("bus", 102)]), (200, [det("truck", 104)])])
        assert [t.track_id for t in history[-1]] == [1] and history[-1][0].confirmed

    @pytest.mark.parametrize(("gap_ms", "dx", "same"), [
        (500, 130, True),  # 2 fps: two box widths in half a second, inside the gate (1 + 4 * 0.5 sizes)
        (100, 130, False),  # the same jump in a tenth of a second is another object
        (500, 250, False),  # four widths in half a second is too fast
    ])
    def test_a_first_association_is_gated_by_time_since_seen_and_box_size(self, gap_ms: int, dx: float,
                                                                           same: bool) -> None:
        history = track_all([(0, [det("car", 100)]), (gap_ms, [det("car", 100 + dx)])])
        assert ({t.track_id for t in history[1] if t.misses == 0} == {1}) is same

    def test_a_box_of_another_size_is_another_object(self) -> None:
        history = track_all([(0, [det("person", 100, y1=100, y2=200, w=40)]),
                             (500, [det("person", 100, y1=0, y2=400, w=120)])])
        assert {t.track_id for t in history[1] if t.misses == 0} == {2}

    @pytest.mark.parametrize(("motion", "ids"), [(True, 1), (False, 8)])
    def test_motion_model_keeps_a_fast_object(self, motion: bool, ids: int) -> None:
        # 45 px a frame with a 60 px box: consecutive boxes overlap by IoU 0.14, under the 0.3 gate
        tracker = Tracker(confirm_hits=1, motion=motion)
        seen = set()
        for i in range(8):
            seen |= {t.track_id for t in tracker.update([det("car", 10 + 45 * i)], i * 100) if t.misses == 0}
        assert len(seen) == ids

    @pytest.mark.parametrize(("gap_ms", "same"), [(900, True), (1200, False)])
    def test_a_confirmed_track_survives_in_frame_time(self, gap_ms: int, same: bool) -> None:
        tracker = Tracker(confirm_hits=1, max_missing_ms=1000)
        (first,) = tracker.update([det("cup", 100)], 0)
        for t in range(100, gap_ms, 100):
            tracker.update([], t)  # ten misses at 10 fps, but under a second
        back = [t for t in tracker.update([det("cup", 100)], gap_ms) if t.misses == 0]
        assert (back[0].track_id == first.track_id) == same


def narrate_sequence(frames: list[tuple[int, list[Detection]]], profile: Rules = PROFILE) -> list[tuple[int, str]]:
    tracker, narrator = Tracker(profile.profile.confirm_frames), Narrator(profile)
    said = []
    for index, (t_ms, dets) in enumerate(frames):
        utterance = narrator.update(tracker.update(passing(dets, profile), t_ms), frame_at(t_ms, index))
        if utterance:
            said.append((t_ms, utterance.text))
    return said


def test_object_spoken_once_confirmed_then_silent_within_cooldown() -> None:
    frames = [(i * 100, [det("cup", 300 + (i % 2))]) for i in range(50)]  # 5 s of a still cup, pixel jitter
    assert narrate_sequence(frames) == [(100, "A cup ahead, less than a metre")]  # scored well above: second look


def test_static_object_repeats_only_after_cooldown() -> None:
    frames = [(i * 500, [det("cup", 300)]) for i in range(50)]  # 25 s
    times = [t for t, _ in narrate_sequence(frames)]
    assert times == [500, 10500, 20500]


def test_flicker_below_confirmation_is_never_spoken() -> None:
    frames = [(i * 100, [det("cup", 300)] if i % 3 == 0 else []) for i in range(30)]  # one frame in three
    assert narrate_sequence(frames) == []


def test_new_object_spoken_without_repeating_the_old() -> None:
    frames = [(i * 100, [det("cup", 300)] + ([det("car", 10, w=100)] if i >= 10 else [])) for i in range(20)]
    assert narrate_sequence(frames) == [(100, "A cup ahead, less than a metre"), (1100, "A car on your left, about 6 metres")]


def profile_with(**settings) -> Profile:
    return Rules(Profile(name="w", objects={"car": {"priority": 7}, "person": {}, "tv": {"spoken_name": "telly"}}, **settings))


CAR_LEFT = det("car", 10, w=100, y1=150, y2=300)  # 150 px tall: about 5.5 m


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, "A car on your left, about 6 metres"),
    ({"verbosity": "brief"}, "Car left"),
    ({"units": "feet"}, "A car on your left, about 18 feet"),
    ({"units": "steps", "step_length_m": 0.75}, "A car on your left, about 7 steps"),
    ({"directions": "clock"}, "A car at 11 o'clock, about 6 metres"),
    ({"directions": "clock", "verbosity": "brief"}, "Car 11 o'clock"),
    ({"camera": {"mounted": "hand"}}, "A car left of where you point, about 6 metres"),
    ({"camera": {"mounted": "table"}}, "A car on the left, about 6 metres"),
])
def test_wording_follows_the_profile(settings: dict, expected: str) -> None:
    profile = profile_with(**settings)
    assert describe_scene([CAR_LEFT], frame_at(0), profile).text == expected


def test_detailed_says_probably_and_nearest() -> None:
    profile = profile_with(verbosity="detailed", defaults={"min_score": 0.3})
    people = [det("person", 300, score=0.5, y1=100, y2=400), det("person", 310, score=0.45, y1=200, y2=300)]
    assert describe_scene(people, frame_at(0), profile).text == "Probably two people ahead, nearest about 3 metres"


def test_spoken_name_replaces_the_label() -> None:
    assert describe_scene([det("tv", 300)], frame_at(0), profile_with()).text.startswith("A telly ahead")


def test_min_gap_holds_the_next_sentence() -> None:
    profile = Rules(Profile(name="g", objects=["cup", "car"], min_gap_s=2, confirm_frames=1))
    frames = [(0, [det("cup", 300)]), (500, [det("cup", 300), det("car", 10, w=100)]),
              (1000, [det("cup", 300), det("car", 10, w=100)]), (2000, [det("cup", 300), det("car", 10, w=100)])]
    assert [t for t, _ in narrate_sequence(frames, profile)] == [0, 2000]


# --- Speak-on-change policy: scenario tables with explicit timestamps (10 frames a second) ---

STREET = Rules(Profile(
    name="street-test",
    objects={"car": {"priority": 7, "hazard": True, "cooldown_s": 10}, "person": {"priority": 5},
             "cup": {}, "chair": {}, "dog": {"announce_gone": True}},
    defaults={"min_score": 0.5, "priority": 1, "cooldown_s": 10},
))


def utterances(frames: list[tuple[int, list[Detection]]], profile: Rules = STREET) -> list[Utterance]:
    tracker, narrator = Tracker(profile.profile.confirm_frames), Narrator(profile)
    said = []
    for index, (t_ms, dets) in enumerate(frames):
        tracks = tracker.update(passing(dets, profile), t_ms)
        utterance = narrator.update(tracks, frame_at(t_ms, index))
        if utterance:
            said.append(utterance)
    return said


def said(frames: list[tuple[int, list[Detection]]], profile: Rules = STREET) -> list[tuple[int, str, str]]:
    return [(u.timestamp_ms, u.kind, u.text) for u in utterances(frames, profile)]


def test_a_cup_appears_once_then_silence_while_it_stays() -> None:
    frames = [(i * 100, [det("cup", 300 + (i % 3))]) for i in range(80)]  # 8 s, jittering by pixels
    assert said(frames) == [(100, "new", "A cup ahead, less than a metre")]


def test_crossing_from_left_to_right_is_one_phrase() -> None:
    # 1 s still on the left, 1.5 s crossing (through "ahead"), then 3 s still on the right
    xs = [10] * 10 + [10 + i * 36 for i in range(15)] + [530] * 30
    out = said([(i * 100, [det("cup", x, w=100)]) for i, x in enumerate(xs)])
    assert [(k, text) for _, k, text in out] == [("new", "A cup on your left, less than a metre"),
                                                  ("change", "A cup on your right, less than a metre")]


def test_jitter_across_a_side_edge_is_never_a_change() -> None:
    # 7.5 degrees right of centre is the edge between "ahead" and "slightly right": wobble around it
    edge_x = W / 2 + math.tan(math.radians(7.5)) * (W / 2) / math.tan(math.radians(30)) - 30
    frames = [(i * 100, [det("cup", edge_x + (8 if i % 2 else -8))]) for i in range(100)]
    assert [k for _, k, _ in said(frames)] == ["new"]


def test_one_band_closer_is_a_change_and_wobble_is_not() -> None:
    # a person at ~6 m, wobbling +-5% in height, then walking to ~3 m and wobbling again
    heights = [160, 168, 160, 152] * 5 + [160 + 16 * i for i in range(11)] + [320, 336, 320, 304] * 5
    frames = [(i * 100, [det("person", 290, y1=100, y2=100 + h)]) for i, h in enumerate(heights)]
    kinds = [(k, text) for _, k, text in said(frames)]
    assert kinds == [("new", "A person ahead, about 6 metres"), ("change", "A person ahead, about 4 metres")]


def test_only_the_most_important_static_object_repeats_after_cooldown() -> None:
    frames = [(i * 500, [det("cup", 300), det("car", 10, w=100)]) for i in range(45)]  # 22 s
    out = said(frames)
    assert out[0][1] == "new" and out[0][2].startswith("A car on your left") and "cup" in out[0][2]
    repeats = [(t, text) for t, k, text in out if k == "repeat"]
    assert repeats == [(10500, "A car on your left, about 6 metres"), (20500, "A car on your left, about 6 metres")]


def test_a_lost_and_found_object_is_not_announced_again() -> None:
    # the cup vanishes for 1.5 s (longer than the tracker keeps it) and comes back in the same place
    frames = [(i * 100, [] if 20 <= i < 35 else [det("cup", 300)]) for i in range(60)]
    assert [k for _, k, _ in said(frames)] == ["new"]


def test_a_person_coming_close_on_a_new_track_is_a_change_not_news() -> None:
    # a person at ~6 m, then lost for 1.5 s (longer than a track lives) and found again close, cut by the bottom
    far, near = [det("person", 290, y1=100, y2=260)], [det("person", 200, y1=10, y2=480, w=260)]
    frames = [(i * 100, far if i < 10 else [] if i < 25 else near) for i in range(45)]
    assert [k for _, k, _ in said(frames)] == ["new", "change"]


def test_gone_is_said_only_when_the_profile_asks() -> None:
    frames = [(i * 100, [det("dog", 300, y1=200, y2=260), det("cup", 100)] if i < 20 else []) for i in range(60)]
    out = said(frames)
    assert [(k, text) for _, k, text in out if k == "gone"] == [("gone", "The dog has gone")]
    assert out[-1][0] >= 2000 + 1000  # not before it has been missing for a second


def grow(t0: int, frames: int, h0: float, rate_per_s: float, x: float = 10) -> list[tuple[int, list[Detection]]]:
    """A car whose box height grows by `rate_per_s` (fraction a second), bottom fixed at y=400."""
    out = []
    for i in range(frames):
        h = h0 * math.exp(rate_per_s * i / 10)
        out.append((t0 + i * 100, [det("car", x, y1=400 - h, y2=400, w=h * 0.8)]))
    return out


@pytest.mark.parametrize(("rate", "warned"), [
    (0.5, True),  # time-to-contact 2 s: under the 3 s limit
    (0.2, False),  # 5 s away: the car is just getting nearer, no alarm
    (0.0, False),  # parked
])
def test_approach_warning_from_box_growth(rate: float, warned: bool) -> None:
    out = utterances(grow(0, 20, 60, rate))
    approach = [u for u in out if u.kind == "approach"]
    assert bool(approach) == warned
    if warned:
        (warning,) = approach  # once, not on every frame
        assert warning.text == "Car approaching on your left"
        assert warning.priority == URGENT and warning.interrupt


def test_approach_warning_is_off_when_the_profile_says_zero() -> None:
    profile = Rules(STREET.profile.model_copy(update={"approach_warning_s": 0.0}))
    assert not [u for u in utterances(grow(0, 20, 60, 0.5), profile) if u.kind == "approach"]


def test_a_car_approaching_interrupts_a_sentence_about_a_chair() -> None:
    class Voice(PrintBackend):
        """Takes 1 s per phrase unless stopped (a fake: the policy is under test here)."""

        def __init__(self) -> None:
            self.stopped = threading.Event()

        def arm(self) -> None:
            self.stopped.clear()

        def speak(self, utterance: Utterance, number: int) -> None:
            self.stopped.wait(1.0)

        def stop(self) -> None:
            self.stopped.set()

    records = []
    speaker = Speaker(Voice(), on_spoken=records.append, max_age_s=5)
    tracker, narrator = Tracker(STREET.profile.confirm_frames), Narrator(STREET)
    chair = det("chair", 560, y1=150, y2=300)
    for t_ms, dets in grow(0, 20, 60, 0.6):
        utterance = narrator.update(tracker.update(dets + [chair], t_ms), frame_at(t_ms))
        if utterance:
            speaker.say(utterance)
        time.sleep(0.02)  # the chair sentence is being spoken when the car gets close
    speaker.close()
    kinds = [(r.utterance.kind, r.cut, r.interrupted) for r in records]
    assert kinds == [("new", True, False), ("approach", False, True)]
    assert "chair" in records[0].utterance.text


def test_hazards_are_said_first_whatever_their_priority() -> None:
    profile = Rules(Profile(name="h", objects={"person": {"priority": 9}, "bicycle": {"priority": 1, "hazard": True}}))
    text = compose(sightings_of([det("person", 300), det("bicycle", 10, w=100)], frame_at(0), profile), profile.style).text
    assert text.startswith("A bicycle on your left")


def test_describe_now_says_everything_in_view() -> None:
    tracker, narrator = Tracker(3), Narrator(STREET)
    tracks = tracker.update([det("cup", 300), det("chair", 10, w=100)], 0)  # not yet confirmed
    utterance = narrator.describe(tracks, frame_at(0))
    assert utterance.kind == "describe" and utterance.priority == REQUESTED
    assert "cup" in utterance.text and "chair" in utterance.text
    assert narrator.describe((), frame_at(100)).text == "Nothing in view"


def test_while_speaking_only_hazards_are_said_and_the_rest_waits_fresh() -> None:
    tracker, narrator = Tracker(1), Narrator(STREET)
    cup, car = det("cup", 300), det("car", 10, w=100)
    assert narrator.update(tracker.update([cup], 0), frame_at(0), speaking=True) is None
    hazard = narrator.update(tracker.update([cup, car], 100), frame_at(100), speaking=True)
    assert hazard.text == "A car on your left, about 6 metres" and hazard.interrupt
    moved = det("cup", 560)  # the cup moved while the voice was busy; it is said where it is now
    later = narrator.update(tracker.update([moved, car], 200), frame_at(200), speaking=False)
    assert later.kind == "new" and later.text == "A cup on your right, less than a metre"


def test_no_second_warning_when_the_data_only_has_a_gap() -> None:
    # warned, then the car fills the bottom of the frame for 2 s (no usable heights), then is seen whole again
    frames = grow(0, 15, 60, 0.5)
    frames += [(1500 + i * 100, [det("car", 10, y1=280, y2=H, w=97)]) for i in range(20)]  # same car, cut off
    frames += [(t + 3500, dets) for t, dets in grow(0, 15, 120, 0.5)]
    said = utterances(frames)
    assert {s.track_id for u in said for s in u.objects} == {1}  # one car throughout
    assert [u.kind for u in said].count("approach") == 1


def test_a_second_approach_after_backing_off_is_warned_again() -> None:
    frames = grow(0, 15, 60, 0.5)  # closes in: warned
    frames += [(1500 + t, dets) for t, dets in grow(0, 15, 120, -0.5)]  # backs away
    frames += [(3000 + t, dets) for t, dets in grow(0, 15, 60, 0.5)]  # closes in again
    assert [u.kind for u in utterances(frames)].count("approach") == 2
