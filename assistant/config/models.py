"""The model registry: the `models/manifest.json` entries, finding a model file, verifying it, downloading it."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import shipped
from ..errors import ModelError

MANIFEST = shipped.folder("models") / "manifest.json"
MODEL_DIR_ENV = "ASSISTANT_MODEL_DIR"
PROJECT_MODEL_DIR = MANIFEST.parent  # the shipped calibrations; in a checkout, `make` links the shared models here too
MODEL_SUFFIXES = (".tflite", ".task")


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


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """A known model and where (if anywhere) a verified copy was found."""

    info: ModelInfo
    path: Path | None
    verified: bool


def load_manifest() -> tuple[tuple[ModelInfo, ...], str]:
    """The known models, official ones first, and the default model's name."""
    try:
        data = json.loads(MANIFEST.read_text())
    except (OSError, ValueError) as exc:  # an install that left out its data, or a damaged file
        raise ModelError(f"The list of known models {MANIFEST} is missing or damaged; reinstall the assistant.") from exc
    models = tuple(ModelInfo(**entry) for entry in data["models"])
    return tuple(sorted(models, key=lambda m: not m.official)), data["default"]


def cache_dir() -> Path:
    """The per-user cache where downloads go."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "assistant" / "models"


def search_dirs() -> list[Path]:
    """Where models are looked for, in order: $ASSISTANT_MODEL_DIR, the checkout's models/ folder
    (where `make` links the shared models; an installed package ships no weights), then the user cache.
    ModelError if $ASSISTANT_MODEL_DIR names something that is not a folder: looking elsewhere instead
    could load another model."""
    dirs = [Path(p).expanduser() for p in os.environ.get(MODEL_DIR_ENV, "").split(os.pathsep) if p]
    for directory in dirs:
        if not directory.is_dir():
            what = "does not exist" if not directory.exists() else "is not a folder"
            raise ModelError(f"${MODEL_DIR_ENV} names {directory}, which {what}; point it at the folder that holds "
                             "the models, or unset it.")
    return [*dirs, *([] if shipped.installed() else [PROJECT_MODEL_DIR]), cache_dir()]


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

    Order: an explicit path, then $ASSISTANT_MODEL_DIR, then the user cache, then a download.
    With no spec, the first present model wins, official ones first; if none is present the
    default is downloaded.
    """
    models, default = load_manifest()
    if spec and _looks_like_path(spec):
        path = model_file(spec)
        for info in models:
            if info.filename == path.name:
                verify(path, info)
        return path
    wanted = [info_by_name(spec)] if spec else list(models)
    for info in wanted:
        path = find_local(info)
        if path is not None:
            verify(path, info)
            return path
    target = wanted[0] if spec else info_by_name(default)
    if not download:
        raise ModelError(f"Model '{target.name}' is not present; run 'assistant models fetch {target.name}'.")
    return fetch(target)


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
