"""Never write over an input: every path the assistant writes is checked against the files it reads.

Files are compared as real files (the same inode, whatever the path says), so a link or `./`
cannot sneak an input past the check. A folder output is checked for inputs inside it whose
names match what would be written there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from .errors import AssistantError

SNAPSHOT_NAMES = re.compile(r"(frame|snapshot)_\d+\.png")
WAV_NAMES = re.compile(r"utterance_\d+\.wav")
REPORT_NAMES = re.compile(r"report\.md|metrics\.json|ground_truth\.json|predictions\.json|.*\.png")


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file: the same inode if both exist, else the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_file(output: Path, option: str, inputs: Iterable[Path]) -> None:
    """AssistantError if `output` is one of the inputs."""
    for source in inputs:
        if same_file(output, source):
            raise AssistantError(f"{option} {output} is an input ({source}); it would be overwritten. "
                                 "Write to another file.")


def check_folder(folder: Path, option: str, inputs: Iterable[Path], names: re.Pattern[str]) -> None:
    """AssistantError if an input lies in `folder` under a name that would be written there."""
    for source in inputs:
        if names.fullmatch(source.name) and same_file(source.parent, folder):
            raise AssistantError(f"{option} {folder} holds the input {source.name}, which would be overwritten. "
                                 "Write to another folder.")
