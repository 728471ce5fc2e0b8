"""The model registry: the shipped `models/manifest.json` entries and the user's trained models,
finding a model file, verifying it, downloading it, installing and removing a trained one.

Trained models live in the user's model folder (`user_dir()`), not in the cache: a cache may be
wiped, and a trained model costs hours to make again. That folder's own `manifest.json` lists them;
its entries come after the shipped ones and never shadow a shipped name."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import stat
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .. import shipped
from ..errors import AssistantError, ModelError
from ..process import outputs

MANIFEST = shipped.folder("models") / "manifest.json"
MODEL_DIR_ENV = "ASSISTANT_MODEL_DIR"
USER_DIR_ENV = "ASSISTANT_USER_MODELS"
PROJECT_MODEL_DIR = MANIFEST.parent  # the shipped calibrations; in a checkout, `make` links the shared models here too
MODEL_SUFFIXES = (".tflite", ".task")
NOT_CLASSES = frozenset({"", "???", "background"})  # label-map entries that name no class: never spoken or listed
NAME = re.compile(r"[a-z0-9_-]{1,64}")  # a trained model's name: also its file's stem
USER_MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One known model: where it comes from and what its bytes must hash to."""

    name: str
    filename: str
    sha256: str
    size: int
    url: str | None
    official: bool
    description: str
    labels: tuple[str, ...] = ()  # the label map, for a trained model (the shipped entries leave it out)
    training: dict | None = None  # a trained model's summary of its training set, as `assistant train` wrote it

    @classmethod
    def from_json(cls, entry: dict) -> ModelInfo:
        """An entry of a manifest (keys it does not know, from a newer assistant, are left aside);
        TypeError or ValueError if it is not one."""
        known = {f.name for f in fields(cls)}
        info = cls(**{k: v for k, v in entry.items() if k in known - {"labels"}},
                   labels=tuple(entry.get("labels") or ()))
        if not (isinstance(info.name, str) and isinstance(info.filename, str) and isinstance(info.sha256, str)
                and isinstance(info.size, int) and isinstance(info.description, str)
                and all(isinstance(label, str) for label in info.labels)
                and (info.training is None or isinstance(info.training, dict))):
            raise ValueError(f"an entry of the wrong shape: {sorted(entry)}")
        return info

    def to_json(self) -> dict:
        return {**asdict(self), "labels": list(self.labels)}

    @property
    def trained(self) -> bool:
        """Whether this is a model the user trained, installed in the user's model folder."""
        return self.training is not None


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """A known model and where (if anywhere) a verified copy was found."""

    info: ModelInfo
    path: Path | None
    verified: bool


def classes(labels: Iterable[str]) -> frozenset[str]:
    """The labels that name a class: a label map without its placeholders (`???`, `background`, empty)."""
    return frozenset(labels) - NOT_CLASSES


def shipped_models() -> tuple[tuple[ModelInfo, ...], str]:
    """The models the assistant ships entries for, official ones first, and the default model's name."""
    try:
        data = json.loads(MANIFEST.read_text())
    except (OSError, ValueError) as exc:  # an install that left out its data, or a damaged file
        raise ModelError(f"The list of known models {MANIFEST} is missing or damaged; reinstall the assistant.") from exc
    models = tuple(ModelInfo.from_json(entry) for entry in data["models"])
    return tuple(sorted(models, key=lambda m: not m.official)), data["default"]


def user_models() -> tuple[ModelInfo, ...]:
    """The trained models in the user's model folder, as its manifest lists them; () if it has none.
    ModelError in one sentence, naming the file, if that manifest is damaged."""
    path = user_dir() / USER_MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"Cannot read the list of trained models {path} ({_reason(exc)}); fix its permissions, "
                         "or move it away to start a new list.") from None
    try:
        data = json.loads(text)
        return tuple(ModelInfo.from_json({**entry, "official": False, "training": entry.get("training") or {}})
                     for entry in data["models"])
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise ModelError(f"The list of trained models {path} is damaged; restore it from a backup, or move it "
                         "away and install the models again with 'assistant train'.") from None


def load_manifest() -> tuple[tuple[ModelInfo, ...], str]:
    """The known models (the shipped ones, official first, then the user's trained ones) and the
    default model's name. A trained model with a shipped model's name is left out: it never shadows it."""
    models, default = shipped_models()
    taken = {m.name for m in models}
    return (*models, *(m for m in user_models() if m.name not in taken)), default


def cache_dir() -> Path:
    """The per-user cache where downloads go."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "assistant" / "models"


def user_dir() -> Path:
    """The user's own model folder, where trained models are installed: $ASSISTANT_USER_MODELS, else
    %LOCALAPPDATA%\\assistant\\models on Windows, else $XDG_DATA_HOME/assistant/models (by default
    ~/.local/share/assistant/models). Unlike the cache, nothing here is made again by a download."""
    if os.environ.get(USER_DIR_ENV):
        return Path(os.environ[USER_DIR_ENV]).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    else:
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "assistant" / "models"


def search_dirs() -> list[Path]:
    """Where models are looked for, in order: $ASSISTANT_MODEL_DIR, the checkout's models/ folder
    (where `make` links the shared models; an installed package ships no weights), the user's model
    folder (trained models), then the user cache.
    ModelError if $ASSISTANT_MODEL_DIR names something that is not a folder: looking elsewhere instead
    could load another model."""
    dirs = [Path(p).expanduser() for p in os.environ.get(MODEL_DIR_ENV, "").split(os.pathsep) if p]
    for directory in dirs:
        if not directory.is_dir():
            what = "does not exist" if not directory.exists() else "is not a folder"
            raise ModelError(f"${MODEL_DIR_ENV} names {directory}, which {what}; point it at the folder that holds "
                             "the models, or unset it.")
    return [*dirs, *([] if shipped.installed() else [PROJECT_MODEL_DIR]), user_dir(), cache_dir()]


def sha256_of(path: Path) -> str:
    """The file's sha256, hashed once per version of the file: verifying a model and checking its
    calibration both ask, and a model is megabytes."""
    info = path.stat()
    return _sha256(path.resolve(), info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, info: ModelInfo) -> None:
    """Raise ModelError unless the file has the manifest's size and sha256."""
    if path.stat().st_size != info.size or sha256_of(path) != info.sha256:
        if info.trained:
            raise ModelError(f"Model file {path} does not match the checksum of the trained model '{info.name}' "
                             f"(corrupt or replaced by hand); install it again with 'assistant train', or remove it "
                             f"with 'assistant models remove {info.name}'.")
        raise ModelError(
            f"Model file {path} does not match the checksum of '{info.name}' (corrupt or a different version); "
            f"delete it and run 'assistant models fetch {info.name}', or pass --model with a good copy."
        )


def _verifies(path: Path, info: ModelInfo) -> bool:
    try:
        verify(path, info)
    except ModelError:
        return False
    return True


def find_local(info: ModelInfo) -> Path | None:
    """The first copy of this model in the search directories, or None (not verified here)."""
    for directory in search_dirs():
        candidate = directory / info.filename
        if candidate.is_file():
            return candidate
    return None


def status() -> list[ModelStatus]:
    """Each known model, with its local copy and whether that copy verifies."""
    result = []
    for info in load_manifest()[0]:
        path = find_local(info)
        result.append(ModelStatus(info, path, path is not None and _verifies(path, info)))
    return result


def fetch(info: ModelInfo, progress: bool = True) -> Path:
    """Download a model into the user cache, verified by sha256 and written atomically."""
    if info.trained:
        raise _trained_missing(info)
    if info.url is None:
        raise ModelError(
            f"Model '{info.name}' cannot be downloaded; put {info.filename} in a directory "
            f"named by ${MODEL_DIR_ENV}."
        )
    import pooch  # imported here: only downloads need it

    pooch.get_logger().setLevel("WARNING")  # the progress bar says enough
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    try:
        path = pooch.retrieve(
            url=info.url,
            known_hash=f"sha256:{info.sha256}",
            fname=info.filename,
            path=target,
            progressbar=progress,
            downloader=pooch.HTTPDownloader(progressbar=progress, timeout=30),
        )
    except ValueError as exc:  # pooch's checksum mismatch; it has already removed the download
        raise ModelError(
            f"The download of '{info.name}' did not match its checksum; try again later or fetch "
            f"{info.url} by hand and put it in ${MODEL_DIR_ENV}."
        ) from exc
    except Exception as exc:  # requests' connection errors and timeouts, OSError
        raise ModelError(
            f"Could not download model '{info.name}' (no internet?); on a connected machine fetch "
            f"{info.url}, then put {info.filename} in {cache_dir()}, or in a folder named by "
            f"${MODEL_DIR_ENV} (for example: export {MODEL_DIR_ENV}=/path/to/models)."
        ) from exc
    return Path(path)


def info_by_name(name: str) -> ModelInfo:
    models, _ = load_manifest()
    for info in models:
        if info.name == name:
            return info
    known = ", ".join(m.name for m in models)
    raise ModelError(f"'{name}' is neither a model file nor a known model name ({known}).")


def _looks_like_path(spec: str) -> bool:
    return os.sep in spec or "/" in spec or spec.endswith(MODEL_SUFFIXES) or Path(spec).exists()


def model_file(spec: str) -> Path:
    """The file a model path names; ModelError in one sentence if it is missing or not a regular
    file (a folder, a pipe, a device): never opened to find out, as a pipe would block."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        try:
            inside = sorted(p for p in path.iterdir() if p.suffix in MODEL_SUFFIXES and p.is_file())
        except OSError:  # unreadable: say what it is all the same
            inside = []
        if inside:
            raise ModelError(f"Model {spec} is a folder; give the model file in it, such as {inside[0]}.")
        raise ModelError(f"Model {spec} is a folder with no .tflite or .task file in it; give the model file itself.")
    if path.exists():
        mode = path.stat().st_mode
        kind = "a pipe" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file"
        raise ModelError(f"Model {spec} is {kind}, not a model file; give a .tflite or .task file.")
    raise ModelError(f"Model file {spec} does not exist; check the path or run 'assistant models list'.")


def resolve(spec: str | None = None, download: bool = True) -> Path:
    """A verified model file.

    Order: an explicit path, then a name looked for in `search_dirs()`, then a download. With no
    spec, the first present shipped model wins, official ones first (a trained model is used only
    when named); if none is present the default is downloaded. A path whose file name is a shipped
    model's is verified as that model; one named like a trained model is not (a new training's
    output is named like the model it will replace).
    """
    shipped_entries, default = shipped_models()
    if spec and _looks_like_path(spec):
        path = model_file(spec)
        for info in shipped_entries:
            if info.filename == path.name:
                verify(path, info)
        return path
    wanted = [info_by_name(spec)] if spec else list(shipped_entries)
    for info in wanted:
        path = find_local(info)
        if path is not None:
            verify(path, info)
            return path
    target = wanted[0] if spec else info_by_name(default)
    if target.trained:
        raise _trained_missing(target)
    if not download:
        raise ModelError(f"Model '{target.name}' is not present; run 'assistant models fetch {target.name}'.")
    return fetch(target)


def _trained_missing(info: ModelInfo) -> ModelError:
    return ModelError(f"The trained model '{info.name}' is missing from {user_dir()}; train it again with "
                      f"'assistant train', or remove it with 'assistant models remove {info.name}'.")


def labels(path: Path) -> tuple[str, ...]:
    """The label map embedded in a MediaPipe model's metadata (index = class id), or ()."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".txt")]
            if not names:
                return ()
            return tuple(line.strip() for line in archive.read(names[0]).decode().splitlines())
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError):
        return ()


def _reason(exc: OSError | UnicodeDecodeError | AssistantError) -> str:
    """Why a file could not be read or written, in a few words."""
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)).rstrip(".")


def check_name(name: str, replace: bool) -> None:
    """ModelError in one sentence unless `name` may be given to a newly trained model."""
    if not NAME.fullmatch(name):
        raise ModelError(f"A model name is 1 to 64 lower-case letters, digits, '-' or '_', not {json.dumps(name)}; "
                         "choose another, such as 'doors'.")
    shipped_entries, _ = shipped_models()
    if any(name == m.name or f"{name}.tflite" == m.filename for m in shipped_entries):
        raise ModelError(f"'{name}' is taken by a model shipped with the assistant; give the trained model "
                         "another name.")
    if not replace and any(m.name == name for m in user_models()):
        raise ModelError(f"There is already a trained model '{name}'; give this one another name, or remove "
                         f"that one first with 'assistant models remove {name}'.")


def _user_manifest_text(entries: Iterable[ModelInfo]) -> bytes:
    return (json.dumps({"models": [entry.to_json() for entry in entries]}, indent=1, ensure_ascii=False)
            + "\n").encode("utf-8")


def install(model_file: Path, name: str, description: str, training: dict, calibration_file: Path | None = None,
            replace: bool = False) -> Path:
    """Install a trained model in the user's model folder as `<name>.tflite`, with its calibration (which
    must be this model's) as `<name>.calibration.json`, and list it in that folder's manifest with its
    sha256, size, labels and `training` (a summary of its training set). Returns the installed model.

    Each file is first written to a temporary file beside its place; the manifest is replaced next and
    the files renamed into place last, so a failure (a full disk, Ctrl-C) leaves the folder as it was:
    no half file, no entry. ModelError in one sentence for a bad, shipped or taken name (unless
    `replace`), a model with no label map, a calibration made for another model, or a folder that
    cannot be written. A replaced model's old calibration is removed unless it still fits."""
    # calibration reads this module; imported here, when used, so that module imports stay one-way
    from . import calibration

    check_name(name, replace)
    source = Path(model_file)
    own_labels = labels(source)
    if not classes(own_labels):
        raise ModelError(f"{source} has no label map in its metadata, so nothing it finds could be named; "
                         "export it with MediaPipe Model Maker.")
    if calibration_file is not None:
        calibration.load(Path(calibration_file), source)  # CalibrationError unless it is this model's
    folder = user_dir()
    target, calibrated = folder / f"{name}.tflite", folder / f"{name}{calibration.SUFFIX}"
    entry = ModelInfo(name, target.name, sha256_of(source), source.stat().st_size, None, False, description,
                      own_labels, dict(training))
    manifest = _user_manifest_text([*(m for m in user_models() if m.name != name), entry])
    files = {target: source, **({calibrated: Path(calibration_file)} if calibration_file is not None else {})}
    temporaries: dict[Path, Path] = {}
    try:
        outputs.check(files.values(), [outputs.Target("the trained model", target),
                                       outputs.Target("its calibration", calibrated)])
        for place, origin in files.items():
            temporaries[place] = outputs.temporary_beside(place)
            temporaries[place].write_bytes(origin.read_bytes())
        outputs.replace(folder / USER_MANIFEST, manifest)
    except BaseException as exc:
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)
        if isinstance(exc, (OSError, AssistantError)):
            raise ModelError(f"Could not install '{name}' in {folder} ({_reason(exc)}); nothing there was "
                             "changed.") from None
        raise
    for place, temporary in temporaries.items():
        outputs.settle(temporary, place)
    if calibration_file is None and calibrated.is_file():
        try:
            calibration.load(calibrated, target)
        except calibration.CalibrationError:
            calibrated.unlink()  # made for the bytes this model replaced
    return target


def remove(name: str) -> list[Path]:
    """Remove a trained model: its manifest entry first (atomically), then its file and its calibration
    (beside it, or in the user cache). The files removed. ModelError in one sentence for a shipped or
    unknown name."""
    from . import calibration

    trained = user_models()
    if not any(m.name == name for m in trained):
        if any(m.name == name for m in shipped_models()[0]):
            raise ModelError(f"'{name}' is shipped with the assistant, not trained; only trained models can be "
                             "removed.")
        known = f"the trained ones are {', '.join(m.name for m in trained)}" if trained else "there are none yet"
        raise ModelError(f"There is no trained model '{name}'; {known}.")
    info = next(m for m in trained if m.name == name)
    try:
        outputs.replace(user_dir() / USER_MANIFEST, _user_manifest_text(m for m in trained if m.name != name))
    except (OSError, AssistantError) as exc:
        raise ModelError(f"Could not remove '{name}' from {user_dir() / USER_MANIFEST} ({_reason(exc)}); "
                         "nothing was removed.") from None
    removed = []
    model = user_dir() / info.filename
    for path in [model, *calibration.candidates(model)[:2]]:  # not the shipped models/ folder
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(path)
    return removed
