"""Reading images and turning any array OpenCV gives into the RGB uint8 the detector needs."""

from __future__ import annotations

import io
import stat
import warnings
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, JpegImagePlugin, PngImagePlugin

from ..errors import SourceError
from ..process.run_context import native_stderr_silenced

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})
# The detector looks at 320 px; a decoded image is held several times over (decoded, converted, drawn), so
# a header may claim at most this many pixels. A 40 MP camera's photo fits. A larger JPEG is decoded at
# 1/2, 1/4 or 1/8 of its size by libjpeg itself (never whole), so JPEGs up to 64 times this are read.
MAX_PIXELS = 40_000_000
JPEG_REDUCED = ((1, cv2.IMREAD_COLOR), (2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4),
                (8, cv2.IMREAD_REDUCED_COLOR_8))
EXIF_ORIENTATION = 0x0112
SIDEWAYS = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the image a quarter: width and height swap
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


def cut_off_warning(path: Path) -> str | None:
    """The one warning for an image that looks cut off (`looks_cut_off`), or None."""
    return f"{path} looks cut off (the file ends early); described as far as it goes." if looks_cut_off(path) else None


def images_in(spec: str | Path) -> list[Path]:
    """An image argument: the path itself, or every image in a folder in name order (SourceError if none).
    An empty argument is refused: as a Path it would be the current folder."""
    if spec == "":
        raise SourceError("An empty image argument names no file; give an image or a folder.")
    path = Path(spec)
    if not path.is_dir():
        return [path]
    found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise SourceError(f"Directory {path} has no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    return found


def opencv_path(path: Path | str) -> str:
    """`path` for OpenCV, which crashes (SIGSEGV) on a file name that is not valid UTF-8: SourceError instead."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SourceError(f"Cannot use {text!r}: OpenCV cannot open a file whose name is not valid UTF-8; "
                          "rename it.") from None
    return text


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
    """An image file as RGB uint8, rotated by its EXIF orientation; SourceError if unreadable or too large.

    The bytes are read by Python (any file name works) and the size is taken from the header
    before anything is decoded, so a small file claiming a huge image never reaches the decoder."""
    return decode_image(_read_bytes(path), path)


def decode_image(data: bytes, path: Path | str) -> np.ndarray:
    """An image's bytes, already in memory (an upload), as `read_image` decodes a file: the size
    from the header first, so a small file claiming a huge image never reaches the decoder; `path`
    is how its messages name it."""
    flag = _decode_flag(path, data)
    if data.startswith(b"\xff\xd8") and b"\xff\xd9" not in data[-64:]:
        data += b"\xff\xd9"  # cut off: end it as libjpeg does a file, so what is there is decoded (grey below)
    # IMREAD_COLOR applies EXIF orientation and turns grayscale, palette, alpha and 16-bit into 8-bit BGR.
    with native_stderr_silenced():  # libjpeg's "Premature end of JPEG file": looks_cut_off says it better
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flag) if flag is not None else None
    if image is None:
        raise SourceError(f"Cannot read {path}: it is not an image OpenCV can decode (corrupt or unsupported).")
    return to_rgb(image)


def _read_bytes(path: Path) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(f"{path} is not a file.")
        return path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"Image {path} does not exist.") from None
    except OSError as exc:  # a symbolic link loop, no permission, an I/O error
        raise SourceError(f"Cannot read {path}: {exc.strerror or exc}.") from None


def _decode_flag(path: Path | str, data: bytes) -> int | None:
    """The cv2.imdecode flag that keeps the decoded image within MAX_PIXELS; None if the header is
    unreadable (nothing unmeasured is decoded), SourceError if no flag can."""
    size = _header_size(path, io.BytesIO(data), data[:8])
    return None if size is None else _flag_for(path, size, data.startswith(b"\xff\xd8"))


def _flag_for(path: Path | str, size: tuple[int, int], jpeg: bool) -> int:
    """The decode flag for an image of this size, or SourceError if it is too large to decode here."""
    width, height = size
    for scale, flag in JPEG_REDUCED if jpeg else JPEG_REDUCED[:1]:
        if -(-width // scale) * -(-height // scale) <= MAX_PIXELS:
            return flag
    most = MAX_PIXELS * (64 if jpeg else 1) // 1_000_000
    raise SourceError(f"{path} is {width}x{height} pixels, more than the {most} megapixels "
                      f"{'a JPEG' if jpeg else 'an image of this kind'} may have here; scale it down.")


def image_size(path: Path) -> tuple[int, int]:
    """Width and height of an image file as `read_image` would return it (turned by its EXIF
    orientation), read from its header alone: nothing is decoded and only the header's bytes are
    read. SourceError if it cannot be read, is not an image, or is larger than `read_image` takes."""
    try:
        with path.open("rb") as file:
            head = file.read(8)
            file.seek(0)
            size = _header_size(path, file, head, turned=True)
    except FileNotFoundError:
        raise SourceError(f"Image {path} does not exist.") from None
    except OSError as exc:
        raise SourceError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if size is None:
        raise SourceError(f"Cannot read {path}: its header is not one of an image (corrupt or unsupported).")
    _flag_for(path, size, head.startswith(b"\xff\xd8"))
    return size


def _header_size(path: Path | str, file: BinaryIO, head: bytes, turned: bool = False) -> tuple[int, int] | None:
    """Width and height from an image's header without decoding it (`head` is its first bytes), turned
    by its EXIF orientation if asked; None if Pillow cannot read the header."""
    # JPEG's and PNG's own readers tell the size; Image.open refuses a large one before telling it.
    reader = (JpegImagePlugin.JpegImageFile if head.startswith(b"\xff\xd8")
              else PngImagePlugin.PngImageFile if head.startswith(b"\x89PNG") else Image.open)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with reader(file) as image:
                width, height = image.size
                sideways = turned and image.getexif().get(EXIF_ORIENTATION) in SIDEWAYS
                return (height, width) if sideways else (width, height)
        except Image.DecompressionBombError:  # Pillow's limit is above ours
            raise SourceError(f"{path} is more than {2 * Image.MAX_IMAGE_PIXELS // 1_000_000} megapixels, more "
                              f"than an image of this kind may have here; scale it down.") from None
        except Exception:  # noqa: BLE001 - Pillow raises many kinds for a header it cannot read
            return None
