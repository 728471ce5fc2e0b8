"""The profile store behind the editor: profiles chosen by name from the allowed folders (never by a
path from a request), saved atomically with their comments and key order, with one-step undo."""

from __future__ import annotations

import io
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .. import shipped
from ..config.profile_files import (
    MAX_PROFILE_BYTES,
    PROFILE_DIR,
    ProfileProblems,
    check_document,
    inherited,
    profile_path,
)
from ..config.profile import Profile
from ..errors import AssistantError
from ..process import outputs

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class StoreError(AssistantError):
    """A request the store refuses, in one sentence, with the HTTP status that says why."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Entry:
    """One profile the page may open: its name, its file, and whether the page may write it."""

    name: str
    path: Path
    writable: bool
    shipped: bool

    def to_json(self) -> dict:
        return {"name": self.name, "writable": self.writable, "shipped": self.shipped}


def _yaml() -> YAML:
    """A round-trip YAML reader and writer: comments, key order and flow style survive."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a caregiver's long line
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def plain(value: Any) -> Any:
    """A round-trip document as plain JSON-able values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def update(old: Any, new: Any) -> Any:
    """`new` written into the round-trip value `old` in place where both are mappings (changed
    values set, new keys added at the end, deleted keys removed), so the comments and the order of
    every key left alone survive; otherwise `new` itself, unless it equals `old`."""
    if isinstance(old, CommentedMap) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = update(old[key], value) if key in old else styled(value, old)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list) and len(old) == len(new):
        for i, value in enumerate(new):
            old[i] = update(old[i], value)
        return old
    if type(old) is bool or type(new) is bool:  # True == 1, yet `hazard: 1` is not `hazard: true`
        return old if type(old) is type(new) and old == new else new
    return old if old == new and plain(old) == new else new


def styled(value: Any, siblings: CommentedMap) -> Any:
    """A new mapping written as its siblings are: `cup: {spoken_name: mug}` among flow-style objects."""
    if not isinstance(value, dict):
        return value
    mapping = CommentedMap((k, styled(v, CommentedMap())) for k, v in value.items())
    if any(isinstance(v, CommentedMap) and v.fa.flow_style() for v in siblings.values()):
        mapping.fa.set_flow_style()
    return mapping


class ProfileStore:
    """The profiles of two folders: the run's own profile's folder (writable), when the run named
    a profile by path, and the shipped profiles (read-only in an installed package)."""

    def __init__(self, run_spec: str | None, known_labels: tuple[str, ...]):
        self.known_labels = known_labels
        run_path = profile_path(run_spec)
        self.own_dir = None if run_path.parent.resolve() == PROFILE_DIR.resolve() else run_path.parent
        self.current = run_path.stem
        self._shipped_writable = not shipped.installed() and os.access(PROFILE_DIR, os.W_OK)
        self._previous: dict[str, bytes | None] = {}  # name -> the file before its last save (None: it was new)
        self._lock = threading.Lock()  # one save or undo at a time

    def entries(self) -> list[Entry]:
        """Every profile by name, the run's folder first (its names hide shipped ones)."""
        found: dict[str, Entry] = {}
        folders = [(self.own_dir, True, False)] if self.own_dir else []
        folders.append((PROFILE_DIR, self._shipped_writable, True))
        for folder, writable, is_shipped in folders:
            try:
                files = sorted(folder.glob("*.yaml"))
            except OSError:
                continue
            for path in files:
                if (NAME.match(path.stem) and path.is_file() and not path.is_symlink() and path.stem not in found
                        and (path.stem == self.current or self._is_profile(path))):
                    found[path.stem] = Entry(path.stem, path, writable, is_shipped)
        return list(found.values())

    def _is_profile(self, path: Path) -> bool:
        """Whether a YAML file beside the run's profile is a profile: a mapping of profile settings
        only. Any other YAML there (a compose file, another tool's settings) is never listed, so
        never overwritten: a name that is taken by one is refused on save."""
        try:
            document = self._load(path)
        except StoreError:
            return False
        return document is None or (isinstance(document, dict) and set(document) <= set(Profile.model_fields))

    def entry(self, name: str) -> Entry:
        """The profile of this name, looked up in the listing; StoreError(404) otherwise."""
        if not NAME.match(name):
            raise StoreError("A profile name is 1 to 64 lower-case letters, digits, '-' or '_'.", 400)
        for entry in self.entries():
            if entry.name == name:
                return entry
        raise StoreError(f"There is no profile named {name}.", 404)

    def writable_dir(self) -> Path | None:
        """Where a new profile is saved: the run's folder, else the shipped one in a checkout."""
        return self.own_dir or (PROFILE_DIR if self._shipped_writable else None)

    def target(self, name: str) -> Entry:
        """The profile a save under `name` writes: the listed one, or a new file in the writable folder."""
        try:
            return self.entry(name)
        except StoreError as exc:
            folder = self.writable_dir()
            if exc.status != 404:
                raise
            if folder is not None and (folder / f"{name}.yaml").exists():
                raise StoreError(f"{name}.yaml in that folder is not a profile; the page saves only profiles, "
                                 "so choose another name.", 409) from None
            if folder is None:
                raise StoreError("There is no folder to save a new profile in; start the assistant with "
                                 "--profile naming a file of your own.", 403) from None
            return Entry(name, folder / f"{name}.yaml", True, folder == PROFILE_DIR)

    def read(self, name: str) -> dict:
        """A profile as the editor shows it: its own settings, what it inherits, and whether it may be saved."""
        entry = self.entry(name)
        document = plain(self._load(entry.path)) or {}
        if not isinstance(document, dict):
            raise StoreError(f"The profile {name} is not a YAML mapping; run 'assistant profiles check {entry.path}'.", 422)
        base: dict = {}
        if isinstance(document.get("extends"), str):
            try:
                base = plain(inherited(document["extends"], entry.path))
            except ProfileProblems:
                base = {}
        return {**entry.to_json(), "document": document, "inherited": base, "undo": name in self._previous}

    def check(self, name: str, document: dict) -> Profile:
        """The edited document validated as the file `name` (ProfileProblems in `profiles check`'s
        words). Its `extends` names a profile, never a path, unless the file on disk already has it."""
        entry = self.target(name)
        parent = document.get("extends")
        if isinstance(parent, str) and not NAME.match(parent):
            on_disk = plain(self._load(entry.path)) if entry.path.exists() else None
            if not isinstance(on_disk, dict) or on_disk.get("extends") != parent:
                raise StoreError("'extends' names another profile by its name (lower-case letters, digits, "
                                 "- or _), not by a path.", 400)
        return check_document(document, entry.path, self.known_labels)

    def save(self, name: str, document: dict) -> Entry:
        """Validate, then write the document into the file in place, atomically; the old file is kept for undo."""
        entry = self.target(name)
        if not entry.writable:
            raise StoreError(f"The profile {name} ships with the assistant and cannot be changed here; "
                             "save it under a new name.", 403)
        self.check(name, document)
        with self._lock:
            before = entry.path.read_bytes() if entry.path.exists() else None
            tree = self._load(entry.path) if before is not None else CommentedMap()
            tree = update(tree if isinstance(tree, CommentedMap) else CommentedMap(), document)
            text = io.StringIO()
            _yaml().dump(tree, text)
            data = text.getvalue().encode("utf-8")
            if len(data) > MAX_PROFILE_BYTES:
                raise StoreError(f"The profile would be larger than {MAX_PROFILE_BYTES // 1024} KB.", 413)
            self._write(entry.path, data)
            self._previous[name] = before
        return entry

    def undo(self, name: str) -> None:
        """Put back the file as it was before its last save here (a new file is removed)."""
        with self._lock:
            if name not in self._previous:
                raise StoreError(f"There is no save of {name} to undo.", 409)
            entry = self.target(name)
            before = self._previous.pop(name)
            if before is None:
                entry.path.unlink(missing_ok=True)
            else:
                self._write(entry.path, before)

    def _load(self, path: Path) -> Any:
        try:
            raw = path.read_bytes()[:MAX_PROFILE_BYTES + 1]
            if len(raw) > MAX_PROFILE_BYTES:
                raise StoreError(f"The profile {path.stem} is larger than {MAX_PROFILE_BYTES // 1024} KB.", 422)
            return _yaml().load(raw.decode("utf-8"))
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - unreadable YAML or bytes: one sentence, as `profiles check` would
            raise StoreError(f"The profile {path.stem} cannot be read as YAML ({type(exc).__name__}); "
                             f"run 'assistant profiles check {path}'.", 422) from None

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        try:
            outputs.replace(path, data)
        except OSError as exc:
            raise StoreError(f"Cannot save {path.stem}: {exc.strerror or exc}.", 500) from None
