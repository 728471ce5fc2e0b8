"""When a sentence that failed is tried again, and when the engine is broken: the speech worker's
failure record, pure, kept by the worker thread alone.

A sentence that fails `max_failures` times in a row is given up: this engine cannot say it, so it
is printed from then on, and speech goes on. While the engine has not spoken since it last gave a
sentence up, a failure is tried only once more. When `max_failures` different sentences in a row
have been given up, the engine is broken.
"""

from __future__ import annotations


class Failures:
    """The failed attempts in a row, the sentences given up since the engine last spoke, and the
    sentences it cannot say."""

    def __init__(self, max_failures: int) -> None:
        self.max_failures = max_failures
        self.in_a_row = 0  # failed attempts in a row
        self.given_up: set[str] = set()  # sentences given up since the engine last spoke
        self.unsayable: set[str] = set()  # sentences this engine cannot say: printed instead

    @property
    def broken(self) -> bool:
        """Whether `max_failures` different sentences in a row were given up."""
        return len(self.given_up) >= self.max_failures

    def spoke(self) -> None:
        """The engine said a sentence: the record of failures in a row starts again."""
        self.in_a_row = 0
        self.given_up.clear()

    def failed(self) -> None:
        """One more failed attempt, or a hang."""
        self.in_a_row += 1

    def may_retry(self) -> bool:
        """Whether a phrase that just failed is tried again: up to `max_failures` times, but only
        once while the engine has not spoken since it last gave a sentence up."""
        return self.in_a_row < (1 if self.given_up else self.max_failures)

    def give_up(self, text: str) -> int:
        """Give a sentence up; returns how many attempts in a row had failed. Unless the engine is
        now `broken`, the sentence is unsayable from now on."""
        tries, self.in_a_row = self.in_a_row, 0
        self.given_up.add(text)
        if not self.broken:
            self.unsayable.add(text)
        return tries
