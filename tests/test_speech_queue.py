"""The speech queue's policy, table by table: order, overflow, staleness and cutting off. Time is passed in."""

import pytest

from assistant.core import HAZARD, REQUESTED, ROUTINE, URGENT, Utterance
from assistant.speech.queue import SpeechQueue


def utt(text: str, priority: int = ROUTINE, interrupt: bool = False) -> Utterance:
    return Utterance(text, 0, 0, priority=priority, interrupt=interrupt)


@pytest.mark.parametrize(("max_queue", "pushed", "order", "dropped"), [
    (3, [("a", ROUTINE), ("b", HAZARD), ("c", REQUESTED)], ["b", "c", "a"], 0),  # most urgent first
    (3, [("a", ROUTINE), ("b", ROUTINE), ("c", ROUTINE)], ["a", "b", "c"], 0),  # then oldest first
    (2, [("a", ROUTINE), ("b", ROUTINE), ("c", HAZARD)], ["c", "b"], 1),  # full: the least urgent, oldest goes
    (1, [("a", URGENT), ("b", ROUTINE)], ["a"], 1),  # a routine sentence never pushes out an urgent one
])
def test_order_and_overflow(max_queue: int, pushed: list, order: list, dropped: int) -> None:
    queue = SpeechQueue(max_queue=max_queue, max_age_s=10)
    for text, priority in pushed:
        queue.push(utt(text, priority), now_s=0)
    said = []
    while (item := queue.pop(now_s=1)) is not None:
        said.append(item.utterance.text)
    assert said == order and queue.dropped == dropped


@pytest.mark.parametrize(("queued_at", "popped_at", "said"), [(0.0, 1.9, True), (0.0, 2.0, True), (0.0, 2.1, False)])
def test_a_sentence_not_begun_in_time_is_dropped(queued_at: float, popped_at: float, said: bool) -> None:
    queue = SpeechQueue(max_age_s=2.0)
    queue.push(utt("a cup ahead"), now_s=queued_at)
    assert (queue.pop(now_s=popped_at) is not None) is said
    assert queue.dropped == (0 if said else 1) and len(queue) == 0


@pytest.mark.parametrize(("new", "speaking", "can_stop", "already_cut", "cut"), [
    (utt("car", HAZARD, interrupt=True), utt("cup"), True, False, True),
    (utt("car", HAZARD, interrupt=False), utt("cup"), True, False, False),  # not marked to interrupt
    (utt("car", HAZARD, interrupt=True), None, True, False, False),  # nothing is being said
    (utt("car", HAZARD, interrupt=True), utt("bus", HAZARD), True, False, False),  # not more urgent
    (utt("car", HAZARD, interrupt=True), utt("cup"), False, False, False),  # the voice cannot stop
    (utt("car", URGENT, interrupt=True), utt("cup"), True, True, False),  # already cut once
])
def test_what_cuts_off_the_sentence_being_said(new: Utterance, speaking: Utterance | None, can_stop: bool,
                                                already_cut: bool, cut: bool) -> None:
    queue = SpeechQueue()
    assert queue.push(new, 0, speaking, can_stop, already_cut) is cut
    assert queue.pop(0).interrupted is cut


def test_clear_and_requeue() -> None:
    queue = SpeechQueue(max_age_s=2)
    queue.push(utt("a"), 0)
    item = queue.pop(0)
    queue.requeue(item)  # a failed attempt goes back, keeping its age
    assert queue.pop(2.5) is None and queue.dropped == 1
    queue.push(utt("b"), 3)
    queue.push(utt("c"), 3)
    queue.clear()
    assert len(queue) == 0 and queue.dropped == 3
