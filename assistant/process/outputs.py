"""Nothing is lost: the one owner of writing a command's outputs.

Before a command writes anything, `check` compares its one list of outputs with its one list
of inputs (as real files, after links are resolved, so a link or `./` cannot sneak an input
past it) and with one another. A folder output is checked for inputs, links and odd files
among the names it would write there.

Then every file is written by `replace` (a new temporary file beside it, renamed into place,
keeping the mode of the file it replaces), or, for a file appended line by line such as the
transcript, opened by `open_appending` (locked against a second writer, never through a link).
An output that fails mid-run (a full disk) is stopped by its `Output` with one warning.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import AssistantError

SNAPSHOT_NAMES = re.compile(r"(frame|snapshot)_\d+\.png")
WAV_NAMES = re.compile(r"utterance_\d+\.wav")
REPORT_NAMES = re.compile(r"report\.md|metrics\.json|ground_truth\.json|predictions\.json|.*\.png")
STREAMS = {"/dev/stdout": 1, "/dev/stderr": 2}  # written to the process's own descriptors


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


NEW_FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file


@dataclass(frozen=True)
class Target:
    """One output: a file, or a folder that files named like `names` are written into."""

    option: str  # how the person named it: "--transcript", "--debug-out (for dog.jpg)"
    path: Path
    names: re.Pattern[str] | None = None  # None for a file
    streamed: bool = False  # appended to in place (the transcript): /dev/stdout or a device will do


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file: the same inode if both exist, else the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _identity(path: Path) -> tuple:
    """What makes two paths the same file: its device and inode if it exists, else its resolved path."""
    try:
        info = path.stat()
        return ("inode", info.st_dev, info.st_ino)
    except OSError:
        return ("path", os.path.realpath(path))


def check(inputs: Iterable[Path], targets: Sequence[Target]) -> None:
    """AssistantError, in one sentence, if an output would replace an input, would be written
    through a link or into something that is not a regular file, or would replace another output."""
    reads = list(inputs)
    known = {_identity(path): path for path in reads} | {("path", os.path.realpath(path)): path for path in reads}
    written: dict[tuple, Target] = {}
    for target in targets:
        if target.names is not None:
            _check_folder(target, reads, known)
        elif not (target.streamed and str(target.path) in STREAMS):
            identity = _check_file(target.path, target.option, known, target.streamed)
            if identity in written:
                _clash(written[identity], target)
            written[identity] = target
    folders = [t for t in targets if t.names is not None]
    for file in (t for t in targets if t.names is None):
        for folder in folders:
            if folder.names.fullmatch(file.path.name) and same_file(file.path.parent, folder.path):
                _clash(file, folder)


def _check_file(path: Path, option: str, known: dict[tuple, Path], streamed: bool = False) -> tuple:
    """The file's identity; AssistantError if it is an input, a link, or not a regular file."""
    identity = _identity(path)
    if identity in known:
        raise AssistantError(f"{option} {path} is an input ({known[identity]}); it would be overwritten. "
                             "Write to another file.")
    check_writable(path, option, streamed)
    return identity


def _check_folder(target: Target, reads: list[Path], known: dict[tuple, Path]) -> None:
    """AssistantError if an input lies in the folder under a name that would be written there, or if
    such a name is already there as a link (wherever it points), as an input, or not as a file."""
    for source in reads:
        if target.names.fullmatch(source.name) and same_file(source.parent, target.path):
            raise AssistantError(f"{target.option} {target.path} holds the input {source.name}, which would be "
                                 "overwritten. Write to another folder.")
    try:
        entries = list(target.path.iterdir()) if target.path.is_dir() else []
    except OSError as exc:
        raise AssistantError(f"Cannot read the folder {target.option} {target.path}: {exc.strerror or exc}.") from None
    for entry in entries:
        if target.names.fullmatch(entry.name):
            _check_file(entry, target.option, known)


def _clash(first: Target, second: Target) -> None:
    raise AssistantError(f"{first.option} {first.path} and {second.option} {second.path} would write the same "
                         "file, one over the other; give each its own name.")


def check_writable(path: Path, option: str, streamed: bool = False) -> None:
    """AssistantError if `path` is a link, or exists and is not a regular file. A file written as a
    stream (the transcript) may also be /dev/stdout, /dev/stderr or a device such as /dev/null."""
    if streamed and str(path) in STREAMS:
        return
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise AssistantError(f"Cannot write {option} {path}: {exc.strerror or exc}.") from None
    if stat.S_ISLNK(info.st_mode):
        raise AssistantError(f"{option} {path} is a link; outputs are never written through links, so "
                             "give the path of a plain file.")
    if not stat.S_ISREG(info.st_mode) and not (streamed and stat.S_ISCHR(info.st_mode)):
        raise AssistantError(f"{option} {path} is not a regular file (it is {_kind(info.st_mode)}); give the "
                             "path of a plain file.")


def _kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a pipe", stat.S_ISSOCK: "a socket",
             stat.S_ISCHR: "a device", stat.S_ISBLK: "a device"}
    return next((name for test, name in kinds.items() if test(mode)), "not a file")


def replace(path: Path, data: bytes) -> None:
    """Write `data` to a new temporary file beside `path`, then rename it into place, keeping the
    mode of the file it replaces. Never writes through a link. On failure (OSError, or
    AssistantError for a link or odd file) nothing half-written is left behind."""
    check_writable(path, "the output")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def temporary_beside(path: Path) -> Path:
    """A new empty file beside `path`, with its suffix, for a writer that wants a name (a video)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    return Path(temporary)


def settle(temporary: Path, path: Path) -> None:
    """Rename a finished temporary file into place, with the mode of the file it replaces."""
    check_writable(path, "the output")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def open_appending(path: Path, option: str) -> int:
    """A descriptor to append lines to: a new or emptied regular file, locked so that a second run
    cannot write it too; or /dev/stdout, /dev/stderr or a device. Never opened through a link, and a
    pipe with no reader cannot make it wait. AssistantError in one sentence otherwise."""
    if str(path) in STREAMS:
        return os.dup(STREAMS[str(path)])
    check_writable(path, option, streamed=True)
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        raise AssistantError(f"Cannot write {option} {path}: {exc.strerror or exc}; give the path of a plain "
                             "file.") from None
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):  # swapped in since the check
        os.close(fd)
        raise AssistantError(f"{option} {path} is not a regular file (it is {_kind(mode)}); give the path of a "
                             "plain file.")
    if getattr(os, "O_NONBLOCK", 0):  # only needed while opening; writes wait for a slow reader
        os.set_blocking(fd, True)
    if stat.S_ISREG(mode):
        _lock(fd, path, option)
        os.ftruncate(fd, 0)
    return fd


def _lock(fd: int, path: Path, option: str) -> None:
    """An exclusive lock on the open file, held until it is closed; AssistantError if another holds it."""
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise AssistantError(f"{option} {path} is being written by another run; wait for it to end, or write "
                             "to another file.") from None


class Output:
    """One output of a run (the snapshots, the WAV files): written with `replace`; the first
    failure (a full disk, a link put in the way) stops it with one warning, and the run goes on."""

    def __init__(self, name: str, warn: Callable[[str], None] = lambda message: None):
        self.name, self.warn = name, warn
        self.stopped = False

    def replace(self, path: Path, data: bytes) -> bool:
        """Write one file; False, once stopped."""
        if self.stopped:
            return False
        try:
            replace(path, data)
            return True
        except (OSError, AssistantError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.stop(f"{path}: {reason.rstrip('.')}")
            return False

    def stop(self, reason: str) -> None:
        """Stop this output and say why, once."""
        if not self.stopped:
            self.stopped = True
            self.warn(f"{self.name} stopped ({reason}); no file was left half-written, and the run goes on.")
