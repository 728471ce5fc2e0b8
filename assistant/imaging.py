"""Reading images and turning any array OpenCV gives into the RGB uint8 the detector needs."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .errors import SourceError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})
PHOTO_NAME_CHARS = 40  # a photo named in what is printed or recorded is shortened to this


def to_rgb(image: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 from grayscale, BGR, BGRA, or 16-bit/float arrays as OpenCV returns them."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image * (255.0 if image.max(initial=0) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    raise SourceError(f"Cannot use an image of shape {image.shape}; expected grayscale, colour or colour with alpha.")


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Hide what native code (TFLite starting a graph, libjpeg on a cut-off file) writes to file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def looks_cut_off(path: Path) -> bool:
    """A JPEG without its end marker or a PNG without its end chunk: the file stops early (a failed
    copy or download). OpenCV still decodes what is there, grey below the cut."""
    try:
        with path.open("rb") as file:
            head = file.read(8)
            file.seek(max(0, path.stat().st_size - 64))
            tail = file.read()
    except OSError:
        return False
    if head.startswith(b"\xff\xd8"):
        return b"\xff\xd9" not in tail
    if head.startswith(b"\x89PNG"):
        return b"IEND" not in tail
    return False


def images_in(path: Path) -> list[Path]:
    """An image argument: the path itself, or every image in a folder in name order (SourceError if none)."""
    if not path.is_dir():
        return [path]
    found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise SourceError(f"Directory {path} has no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    return found


def photo_name(path: str | Path, max_chars: int = PHOTO_NAME_CHARS) -> str:
    """A photo's file name as it can be shown anywhere: unprintable characters escaped, and a long
    name shortened in the middle so its start and its end (the extension) stay."""
    name = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in Path(path).name)
    if len(name) > max_chars:
        keep = (max_chars - 3) // 2
        name = f"{name[:keep]}...{name[-keep:]}"
    return name


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB uint8, rotated by its EXIF orientation; SourceError if unreadable."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SourceError(f"Image {path} does not exist.") from None
    except OSError as exc:  # a symbolic link loop, no permission, an I/O error
        raise SourceError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if not stat.S_ISREG(info.st_mode):
        raise SourceError(f"{path} is not a file.")
    # IMREAD_COLOR applies EXIF orientation and turns grayscale, palette, alpha and 16-bit into 8-bit BGR.
    with native_stderr_silenced():  # libjpeg's "Premature end of JPEG file": looks_cut_off says it better
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SourceError(f"Cannot read {path}: it is not an image OpenCV can decode (corrupt or unsupported).")
    return to_rgb(image)
