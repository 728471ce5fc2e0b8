"""Pairing a browser beyond loopback: a short one-time code, spoken aloud and printed, that expires
and is used up, with wrong codes and new codes rate-limited. Pure policy: every call is given the
time (monotonic seconds), so the waits are tested without waiting."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

DIGITS = 6
CODE_TTL_S = 600.0  # a code is good for 10 minutes
FREE_TRIES = 5  # wrong codes in a row before each further one makes the wait grow
FIRST_WAIT_S = 30.0  # the wait after the FREE_TRIES-th wrong code; it doubles with each one after
MAX_WAIT_S = 3600.0
NEW_CODE_EVERY_S = 30.0  # the page may ask for a new code this often


@dataclass(frozen=True)
class Attempt:
    """What became of a code typed in: `paired`, else `status` (401 wrong, 410 none waiting, 429 wait)
    with the sentence for the page and, for 429, how many seconds to wait."""

    paired: bool
    status: int = 200
    error: str = ""
    retry_after_s: int = 0


def spoken(code: str) -> str:
    """The code as a voice says it, digit by digit: '4, 8, 1, 5, 1, 6'."""
    return ", ".join(code)


class Pairing:
    """One code at a time; the wrong codes in a row are counted across every browser."""

    def __init__(self, ttl_s: float = CODE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._code: str | None = None
        self._expires = 0.0
        self._issued: float | None = None
        self._wrong = 0
        self._locked_until = float("-inf")

    def new_code(self, now: float) -> str:
        """A fresh code, replacing any other; the wrong codes already counted still count."""
        self._code = f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"
        self._expires, self._issued = now + self.ttl_s, now
        return self._code

    def new_code_wait(self, now: float) -> int:
        """Seconds before the page may ask for another code (0: now)."""
        return 0 if self._issued is None else max(0, math.ceil(self._issued + NEW_CODE_EVERY_S - now))

    def attempt(self, code: str, now: float) -> Attempt:
        """Check a typed code; the right one pairs once and is used up."""
        if now < self._locked_until:
            wait = math.ceil(self._locked_until - now)
            return Attempt(False, 429, f"Too many wrong codes: wait {wait} seconds, then try again.", wait)
        if self._code is None or now >= self._expires:
            self._code = None
            return Attempt(False, 410, "No code is waiting, or it has expired: ask for a new code.")
        if secrets.compare_digest(code.strip().encode(), self._code.encode()):
            self._code, self._wrong = None, 0
            return Attempt(True)
        self._wrong += 1
        if self._wrong < FREE_TRIES:
            return Attempt(False, 401, "That is not the code. Check the digits and try again.")
        wait = min(MAX_WAIT_S, FIRST_WAIT_S * 2.0 ** min(self._wrong - FREE_TRIES, 20))
        self._locked_until = now + wait
        return Attempt(False, 429, f"That is not the code, and there have been too many wrong ones: wait "
                                   f"{math.ceil(wait)} seconds, then try again.", math.ceil(wait))

