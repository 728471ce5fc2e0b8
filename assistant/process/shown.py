"""Text that is safe to show: the one owner of what may leave the program for a person to read.

Every message, printed sentence and HUD line passes through `shown` where it leaves the
program, so a password in a stream URL, a file's contents or a control character (an escape
code that clears the screen, a newline that forges a line a screen reader reads as real) never
reaches a terminal. Messages quote the values they are about only as an `excerpt`.
"""

from __future__ import annotations

import re
import unicodedata

EXCERPT_CHARS = 40
# scheme://user:password@host -> scheme://***@host; the userinfo ends at the authority's last '@'
_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#]*@")
# ?password=...&token=... -> ?password=***&token=***: a secret passed as a query parameter
_SECRET_PARAMETERS = re.compile(
    r"(?i)([?&;](?:[a-z0-9_.-]*[_.-])?(?:pass|passwd|password|pwd|secret|token|apikey|key|auth|authorization|sig"
    r"|signature|credentials?|session|sessionid|sid)=)[^&;#\s]*")
# bidirectional overrides and isolates reorder what a terminal shows ("Trojan source")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def redact_url(text: str) -> str:
    """`text` with the user name and password of every URL in it replaced by ***, and the values of
    query parameters named like secrets (password, token, key, auth, signature...)."""
    return _SECRET_PARAMETERS.sub(r"\1***", _CREDENTIALS.sub(r"\1***@", text))


def is_control(char: str) -> bool:
    """A character that moves, clears or reorders a terminal instead of showing itself."""
    return unicodedata.category(char) == "Cc" or char in _BIDI


def printable(text: str, lines: bool = False) -> str:
    """`text` with each control character shown escaped (`\\x1b`, `\\n`); `lines` keeps newlines."""
    return "".join(char.encode("unicode_escape").decode("ascii")
                   if is_control(char) and not (lines and char == "\n") else char for char in text)


def shown(text: str, lines: bool = False) -> str:
    """What may be shown of `text`: credentials redacted, control characters escaped."""
    return printable(redact_url(text), lines)


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A short, escaped quotation of a value for a message: its repr, cut to `limit` characters."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    quoted = repr(value)
    return quoted if len(quoted) <= limit + 2 else f"{quoted[:limit]}..."


def mention(name: object) -> str:
    """A key or name for a message: as it is when short and plain, else its `excerpt`."""
    text = str(name)
    return text if len(text) <= EXCERPT_CHARS and text.isprintable() else excerpt(name)
