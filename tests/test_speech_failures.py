"""The speech worker's failure record, as a table: how many tries a sentence gets, when it is
printed instead, and when the engine is broken (the Speaker's behaviour is in test_speech.py)."""

import pytest

from assistant.speech.failures import Failures


def replay(failures: Failures, events: str) -> list[str]:
    """Apply events ('f' a failed attempt of sentence s, 'g' give s up, 'k' the engine spoke) to a
    record, sentence by sentence ('a', 'b', ... after each 'g'); what may_retry said after each 'f'."""
    said, sentence = [], "a"
    for event in events:
        if event == "f":
            failures.failed()
            said.append("retry" if failures.may_retry() else "stop")
        elif event == "g":
            failures.give_up(sentence)
            sentence = chr(ord(sentence) + 1)
        else:
            failures.spoke()
    return said


@pytest.mark.parametrize(("events", "said", "broken", "unsayable"), [
    ("fff", ["retry", "retry", "stop"], False, set()),  # three tries before giving up
    ("fffg", ["retry", "retry", "stop"], False, {"a"}),  # given up: printed from now on
    ("fffgf", ["retry", "retry", "stop", "stop"], False, {"a"}),  # since then, one try only
    ("fffgkf", ["retry", "retry", "stop", "retry"], False, {"a"}),  # the engine spoke: three tries again
    ("fffgfgfg", ["retry", "retry", "stop", "stop", "stop"], True, {"a", "b"}),  # three different: broken
])
def test_tries_and_giving_up(events: str, said: list[str], broken: bool, unsayable: set[str]) -> None:
    failures = Failures(max_failures=3)
    assert replay(failures, events) == said
    assert failures.broken is broken and failures.unsayable == unsayable


def test_give_up_returns_the_attempts_in_a_row_and_starts_counting_again() -> None:
    failures = Failures(max_failures=3)
    failures.failed()
    failures.failed()
    assert failures.give_up("a") == 2 and failures.in_a_row == 0
