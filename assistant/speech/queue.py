"""Which sentence is said next: the speech queue's policy. Pure: time is passed in, nothing speaks or waits.

Most urgent first, then oldest. A full queue drops its least urgent, oldest sentence. A sentence
not begun within `max_age_s` of being queued is dropped, not said late. A sentence marked
`interrupt` cuts off a less urgent one being spoken, once, if the voice can be stopped.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

from ..core import Utterance


@dataclass(slots=True)
class Pending:
    """A queued sentence, when it was queued, and whether it cut off the one before it."""

    utterance: Utterance
    queued_s: float
    interrupted: bool = False


class SpeechQueue:
    """The waiting sentences; `dropped` counts those never said (queue full, stale or cleared)."""

    def __init__(self, max_queue: int = 3, max_age_s: float = 2.0):
        self.max_queue = max_queue
        self.max_age_s = max_age_s
        self.dropped = 0
        self._heap: list[tuple[int, int, Pending]] = []  # (-priority, order, item)
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, utterance: Utterance, now_s: float, speaking: Utterance | None = None,
             can_stop: bool = True, already_cut: bool = False) -> bool:
        """Queue a sentence; True when it should cut off `speaking`, the sentence being said now."""
        item = Pending(utterance, now_s)
        self._add(item)
        if len(self._heap) > self.max_queue:
            least = max(self._heap, key=lambda entry: (entry[0], -entry[1]))
            self._heap.remove(least)
            heapq.heapify(self._heap)
            self.dropped += 1
        cut = (utterance.interrupt and speaking is not None and not already_cut and can_stop
               and speaking.priority < utterance.priority)
        item.interrupted = cut
        return cut

    def requeue(self, item: Pending) -> None:
        """Put back a sentence that failed, to try again while it is still fresh."""
        self._add(item)

    def pop(self, now_s: float) -> Pending | None:
        """The next sentence to say, or None; stale ones on the way are dropped and counted."""
        while self._heap:
            _, _, item = heapq.heappop(self._heap)
            if now_s - item.queued_s <= self.max_age_s:
                return item
            self.dropped += 1
        return None

    def clear(self) -> None:
        self.dropped += len(self._heap)
        self._heap.clear()

    def _add(self, item: Pending) -> None:
        heapq.heappush(self._heap, (-item.utterance.priority, next(self._order), item))
