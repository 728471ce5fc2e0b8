"""Profile files: YAML read safely, `extends` merged, and every problem located by file, line and key."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .. import shipped
from ..errors import ProfileError
from ..language import catalog as language
from ..process.shown import excerpt, mention, shown
from . import models
from .profile import ObjectRule, Profile, as_mapping, class_for

PROFILE_DIR = shipped.folder("profiles")
MAX_PROFILE_BYTES = 256 * 1024
MAX_DEPTH = 20  # nesting deeper than this is not a profile
MAX_EXTENDS = 8
UNCLOSED = {"flow sequence": "the list '[' opened here", "flow mapping": "the mapping '{' opened here"}


_NO_VALUE = object()  # a Problem about a key as a whole, with no value to show


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a profile file."""

    file: Path
    line: int | None
    path: str
    value: Any
    message: str
    loc: tuple = ()  # the key path as parts ('voice', 'rate'), for a form to put the message at its field

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        if not self.path:
            return shown(f"{where}: {self.message}")
        value = "" if self.value is _NO_VALUE else f" = {excerpt(self.value)}"
        return shown(f"{where}: {self.path}{value}: {self.message}")


class ProfileProblems(ProfileError):
    """Every problem found in a profile, one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def profile_path(spec: str | None) -> Path:
    """A shipped profile's file for a bare name, else the path as given."""
    spec = spec or "default"
    if "/" not in spec and not spec.endswith((".yaml", ".yml")):
        return PROFILE_DIR / f"{spec}.yaml"
    return Path(spec).expanduser()


def shipped_profiles() -> list[Path]:
    return sorted(PROFILE_DIR.glob("*.yaml"))


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader without aliases (no 'billion laughs') and with a nesting limit."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(None, None, "aliases (*name) are not allowed in a profile", event.start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.MarkedYAMLError(None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _read(path: Path, spec: str | None) -> tuple[Any, yaml.Node | None]:
    """The YAML data of a profile file and its node tree (for line numbers); ProfileError if unreadable."""
    def fail(message: str) -> ProfileError:
        return ProfileProblems([Problem(path, None, "", _NO_VALUE, message)])

    if not path.exists():
        shipped = ", ".join(p.stem for p in shipped_profiles())
        raise fail(f"no such profile {mention(spec or path)}; shipped profiles are: {shipped}.")
    if not path.is_file():
        raise fail("is not a file.")
    try:
        if path.stat().st_size > MAX_PROFILE_BYTES:
            raise fail(f"is larger than {MAX_PROFILE_BYTES // 1024} KB; a profile is a short text file.")
        with path.open("rb") as file:
            raw = file.read(MAX_PROFILE_BYTES + 1)
    except OSError as exc:
        raise fail(f"cannot be read: {exc.strerror or exc}.") from None
    if len(raw) > MAX_PROFILE_BYTES:  # a special file whose size says 0, such as /proc files
        raise fail(f"is larger than {MAX_PROFILE_BYTES // 1024} KB; a profile is a short text file.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise fail("is not a text file (it is not UTF-8).") from None
    if "\x00" in text:
        raise fail("is not a text file (it contains NUL bytes).")
    if not text.strip():
        raise fail("is empty; a profile needs at least 'name' and 'objects'.")
    loader = None
    try:
        loader = _SafeLoader(text)  # the reader already rejects control characters here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = (getattr(exc, "problem", None) or getattr(exc, "reason", None) or "invalid YAML").rstrip(".")
        opened = next((v for k, v in UNCLOSED.items() if k in (getattr(exc, "context", None) or "")), None)
        if opened and "<stream end>" in problem:  # say where the bracket was opened, not where the file ends
            mark, problem = exc.context_mark, f"{opened} is never closed"
        where = f", column {mark.column + 1}" if mark else ""
        raise ProfileProblems(
            [Problem(path, mark.line + 1 if mark else None, "", _NO_VALUE, f"YAML syntax error{where}: {problem}.")]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        raise fail("must be a YAML mapping with at least 'name' and 'objects'.")
    if not any(_like_a_setting(key) for key in data):  # /etc/shadow: its lines must not be quoted back
        raise fail("is not a profile: none of its keys is a profile setting such as 'name' or 'objects'.")
    return data, node


def _like_a_setting(key: object) -> bool:
    """A profile's own key, or one close enough to be a typo of it."""
    return isinstance(key, str) and bool(difflib.get_close_matches(key, list(Profile.model_fields), n=1))


def _line_of(node: yaml.Node | None, loc: Iterable[object]) -> tuple[int | None, bool]:
    """The 1-based line of the deepest node along a key path, and whether the whole path exists."""
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            key, node = next(
                ((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)), (None, None))
        elif isinstance(node, yaml.SequenceNode):
            items = node.value
            key = node = items[part] if isinstance(part, int) and part < len(items) else next(
                (i for i in items if isinstance(i, yaml.ScalarNode) and i.value == str(part)), None)
        else:
            key = None
        if key is None:
            return line, False
        line = key.start_mark.line + 1
    return line, True


def _merge(base: dict, override: dict) -> dict:
    """`override` on top of `base`, recursively for mappings (so `objects` add to the parent's)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _parent_path(spec: str, child: Path) -> Path:
    """`extends: street` names a sibling or shipped profile; anything with a slash or .yaml is a path."""
    if "/" not in spec and not spec.endswith((".yaml", ".yml")):
        sibling = child.parent / f"{spec}.yaml"
        return sibling if sibling.exists() else PROFILE_DIR / f"{spec}.yaml"
    path = Path(spec).expanduser()
    return path if path.is_absolute() else child.parent / path


Chain = list[tuple[Path, "yaml.Node | None"]]


def _with_parents(path: Path, spec: str | None, seen: tuple[Path, ...] = (),
                  given: dict | None = None) -> tuple[dict, Chain]:
    """The merged raw data of a profile and the chain of files it extends, child first; `given`
    is the file's data edited in memory, read instead of the file."""
    data, node = (dict(given), None) if given is not None else _read(path, spec)
    if "objects" in data:
        data["objects"] = as_mapping(data["objects"])
    parent_spec = data.get("extends")
    if not isinstance(parent_spec, str):  # absent, or a bad type that validation reports
        return data, [(path, node)]
    parent = _parent_path(parent_spec, path)
    if parent.resolve() in (*seen, path.resolve()) or len(seen) >= MAX_EXTENDS:
        raise ProfileProblems([Problem(path, _line_of(node, ["extends"])[0], "extends", parent_spec,
                                       "profiles extend each other in a loop.")])
    base, chain = _with_parents(parent, parent_spec, (*seen, path.resolve()))
    inherited = {k: v for k, v in base.items() if k not in ("name", "description", "extends")}
    return _merge(inherited, data), [(path, node), *chain]


def profile_files(spec: str | None) -> list[Path]:
    """The profile's file and every file it extends, child first (for commands to protect as inputs)."""
    return [path for path, _ in _with_parents(profile_path(spec), spec)[1]]


def load_profile(spec: str | None = None, known_labels: Iterable[str] | None = None,
                 note: Callable[[str], None] = lambda message: None) -> Profile:
    """Load, merge (`extends`) and validate a profile by shipped name or path.

    With `known_labels` (the model's label map), every class must be one the model knows.
    A common name such as "fridge" stands for its class; `note` hears once which one.
    Raises ProfileProblems listing every problem, each with file, line and key path.
    """
    path = profile_path(spec)
    data, chain = _with_parents(path, spec)
    return _validated(data, chain, path, known_labels, note)


def check_document(data: dict, path: Path, known_labels: Iterable[str] | None = None) -> Profile:
    """`load_profile` for a profile edited in memory, as if `data` were the file `path` (its
    `extends` is found beside it): the same Profile, or ProfileProblems in the same words, without
    line numbers (there is no file yet)."""
    merged, chain = _with_parents(path, str(path), given=data)
    return _validated(merged, chain, path, known_labels, lambda message: None)


def inherited(extends: str, child: Path) -> dict:
    """The settings a profile at `child` takes from the profile it `extends` (merged up its chain);
    ProfileProblems if that chain cannot be read."""
    parent = _parent_path(extends, child)
    base, _ = _with_parents(parent, extends, (child.resolve(),))
    return {k: v for k, v in base.items() if k not in ("name", "description", "extends")}


def _validated(data: dict, chain: Chain, path: Path, known_labels: Iterable[str] | None,
               note: Callable[[str], None]) -> Profile:
    data.setdefault("name", path.stem)
    problems = []
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        profile = None
        problems = [_problem(error, chain) for error in exc.errors()]
    first = data.get("language") if data.get("language") in language.available() else language.ENGLISH
    if known_labels is not None and isinstance(data.get("objects"), (dict, list)):
        problems += _unknown_labels(list(data["objects"]), set(models.classes(known_labels)), chain, first)
    if problems:
        raise ProfileProblems(sorted(problems, key=lambda p: (str(p.file), p.line or 0)))
    meaning = {name: class_for(name, first) for name in profile.objects}
    for name, label in meaning.items():
        if label != name:
            note(f"{path}: '{name}' means the class '{label}'.")
    if any(label != name for name, label in meaning.items()):
        objects = {meaning[name]: rule for name, rule in profile.objects.items()}
        profile = profile.model_copy(update={"objects": objects})
    return profile


def _locate(loc: tuple, chain: Chain) -> tuple[Path, int | None]:
    """The file in the extends chain that sets this key path, and its line."""
    for file, node in chain:
        line, complete = _line_of(node, loc)
        if complete:
            return file, line
    file, node = chain[0]
    return file, _line_of(node, loc)[0]


FRIENDLY = {
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "literal_error": "must be one of: {expected}",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "missing": "is required",
    "dict_type": "must be a mapping of settings (key: value lines)",
    "model_type": "must be a mapping of settings (key: value lines)",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
    "value_error": "{error}",
}


def _problem(error: dict, chain: Chain) -> Problem:
    loc = tuple(error["loc"])
    file, line = _locate(loc, chain)
    path = " -> ".join(mention(part) for part in loc)
    if error["type"] == "extra_forbidden":
        owner = _model_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), list(owner.model_fields), n=1) if owner else []
        hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(owner.model_fields)}." if owner else "."
        return Problem(file, line, path, _NO_VALUE, f"is not a setting here{hint}", loc)
    template = FRIENDLY.get(error["type"])
    message = template.format(**error.get("ctx", {})) if template else error["msg"]
    value = _NO_VALUE if error["type"] == "missing" else error.get("input")
    return Problem(file, line, path, value, f"{message}.", loc)


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The settings model that owns a key path, for suggesting the right key."""
    model: type[BaseModel] | None = Profile
    for part in loc:
        if model is Profile and part == "objects":
            return ObjectRule if len(loc) == 2 else None
        field = model.model_fields.get(str(part)) if model else None
        annotation = field.annotation if field else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model


def _unknown_labels(labels: list, known: set[str], chain: Chain, first: str) -> Iterator[Problem]:
    """Names that are no class of the model, with the closest class or word in the profile's language."""
    if not known:
        return
    words = sorted({*known, *language.load(first).words()})
    for label in labels:
        if isinstance(label, str) and class_for(label, first) not in known:
            close = difflib.get_close_matches(label.casefold(), words, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else "; 'assistant profiles list' shows examples."
            file, line = _locate(("objects", label), chain)
            yield Problem(file, line, f"objects -> {mention(label)}", _NO_VALUE,
                          f"{excerpt(label)} is not a class this model knows{hint}", ("objects", label))
