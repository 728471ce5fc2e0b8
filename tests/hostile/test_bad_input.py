"""One bad input never ends or hangs a run: a file name OpenCV would crash on, an image bomb, a
closed standard stream, a bad number or an empty source each get one sentence (or are passed over),
and the run goes on or ends with exit 2. Tables by class of fault: the next round adds rows."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import IMAGES, ROOT, Cli, run_cli
from .common import CAR_VIDEO, VOC, WALKING, copy, messages, one_error

DOG = IMAGES / "darknet_dog.jpg"
NOT_UTF8 = os.fsdecode(b"b\xff")  # a name made on another system: bytes that are not UTF-8


def jpeg_claiming(width: int, height: int, path: Path) -> Path:
    """A JPEG of a few hundred bytes whose header claims `width` x `height` pixels."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    struct.pack_into(">HH", data, data.index(b"\xff\xc0") + 5, height, width)
    path.write_bytes(bytes(data))
    return path


def png_of(width: int, height: int, path: Path) -> Path:
    """A real black grey-level PNG of `width` x `height`, written a row at a time (a few hundred kB)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer = zlib.compressobj(9)
    row = bytes(width + 1)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def described(result: subprocess.CompletedProcess) -> list[str]:
    """The images `describe` printed a sentence for, in order."""
    return [line.split(": ")[0] for line in result.stdout.splitlines() if not line.startswith(" ")]


# A name OpenCV would crash on (SIGSEGV) is read by Python, or refused in one sentence; the folder goes on.

def test_a_name_that_is_not_utf8_is_described_with_the_rest_of_its_folder(tmp_path: Path) -> None:
    """A process of its own: the escaping of a name that is not UTF-8 is its standard output's (`entry`)."""
    for name in ("a", NOT_UTF8, "c"):
        copy(DOG, tmp_path / f"{name}.jpg")
    result = run_cli("describe", str(tmp_path), "--debug-out", str(tmp_path / "views"))
    assert result.returncode == 0, result.stderr
    assert described(result) == [f"{tmp_path}/a.jpg", f"{tmp_path}/b\\udcff.jpg", f"{tmp_path}/c.jpg"]
    assert sorted(os.listdir(os.fsencode(tmp_path / "views"))) == [b"a.png", b"b\xff.png", b"c.png"]


@pytest.mark.parametrize("make_args", [
    lambda t: ["run", "--source", str(copy(WALKING, t / f"{NOT_UTF8}.gif")), "--speech", "none"],
    lambda t: ["run", "--source", str(WALKING), "--speech", "none", "--max-frames", "3",
               "--record", str(t / f"{NOT_UTF8}.mp4")],
])
def test_a_video_name_that_is_not_utf8_gets_one_sentence(cli: Cli, tmp_path: Path, make_args) -> None:
    one_error(cli(*make_args(tmp_path)), "OpenCV cannot open a file whose name is not valid UTF-8; rename it")


# Image bombs: the size is read from the header before anything is decoded.

# Runs a command and then prints its peak memory (kB): the peak of this command alone, where this
# test process's own RUSAGE_CHILDREN holds the largest child it ever waited for (a training, 6.5 GB).
PEAK_OF = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


@pytest.mark.parametrize(("make", "extra"), [
    (lambda t: jpeg_claiming(30000, 30000, t / "bomb.jpg"), []),  # decoded at 1/8 by libjpeg: 3750 x 3750
    (lambda t: jpeg_claiming(30000, 30000, t / "bomb.jpg"), ["--debug-out", "{t}/view.png"]),
])
def test_a_huge_jpeg_header_is_decoded_reduced(tmp_path: Path, make, extra: list[str]) -> None:
    image = make(tmp_path)
    result = subprocess.run([sys.executable, "-c", PEAK_OF, sys.executable, "-m", "assistant", "describe", str(image),
                             *[arg.format(t=tmp_path) for arg in extra]], capture_output=True, text=True, timeout=60,
                            cwd=ROOT, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert int(result.stderr.splitlines()[-1]) < 1_500_000  # kB; it took 5.35 GB, then crashed


@pytest.mark.parametrize(("make", "fragment"), [
    (lambda t: png_of(20000, 20000, t / "bomb.png"), "is 20000x20000 pixels, more than the 40 megapixels"),
    (lambda t: png_of(8000, 5001, t / "bomb.png"), "is 8000x5001 pixels, more than the 40 megapixels"),
    (lambda t: jpeg_claiming(65000, 65000, t / "bomb.jpg"), "is 65000x65000 pixels, more than the 2560 megapixels"),
])
def test_an_image_too_large_to_decode_gets_one_sentence(cli: Cli, tmp_path: Path, make, fragment: str) -> None:
    image = make(tmp_path)
    one_error(cli("describe", str(image), "--debug-out", str(tmp_path / "view.png")), fragment)
    one_error(cli("run", "--source", str(image), "--speech", "none"), fragment)


def test_an_image_bomb_in_a_folder_is_passed_over(cli: Cli, tmp_path: Path) -> None:
    copy(DOG, tmp_path / "a.jpg")
    png_of(20000, 20000, tmp_path / "b.png")
    copy(DOG, tmp_path / "c.jpg")
    result = cli("describe", str(tmp_path))
    assert result.returncode == 2 and described(result) == [f"{tmp_path}/a.jpg", f"{tmp_path}/c.jpg"]
    assert result.stderr.count("error: ") == 1 and "20000x20000 pixels" in result.stderr


# Closed standard streams: Python leaves them None; they become /dev/null.

def closed(stream: int, *args: str) -> subprocess.CompletedProcess:
    """`python -m assistant ARGS` with standard stream `stream` closed, as `2>&-` does."""
    return subprocess.run(["sh", "-c", f'exec "$@" {stream}>&-', "sh", sys.executable, "-m", "assistant", *args],
                          check=False, stdout=subprocess.PIPE if stream != 1 else None,
                          stderr=subprocess.PIPE if stream != 2 else None, text=True, cwd=ROOT, env=dict(os.environ),
                          timeout=120)


@pytest.mark.parametrize(("stream", "args", "code"), [
    (2, ["describe", str(DOG)], 0),
    (2, ["describe", "/nonexistent.jpg"], 2),
    (2, ["run", "--source", str(WALKING), "--speech", "print", "--max-frames", "3"], 0),
    (1, ["describe", str(DOG)], 0),
    (0, ["describe", str(DOG)], 0),
])
def test_a_closed_standard_stream_ends_nothing(stream: int, args: list[str], code: int) -> None:
    result = closed(stream, *args)
    assert result.returncode == code, (result.stdout, result.stderr)
    if stream == 2 and code == 0:
        assert result.stdout.startswith(str(DOG) if args[0] == "describe" else "")


# Numbers and empty arguments: one sentence, exit 2, before anything starts.

@pytest.mark.parametrize(("args", "fragment"), [
    (["run", "--source", "", "--speech", "none"], "--source is empty"),
    (["describe", ""], "An empty image argument names no file"),
    (["describe", str(DOG), ""], "An empty image argument names no file"),
    (["run", "--source", str(WALKING), "--half-life", "nan"], "--half-life must be more than 0 seconds, not nan"),
    (["run", "--source", str(WALKING), "--half-life", "-1"], "--half-life must be more than 0 seconds, not -1"),
    (["run", "--source", str(WALKING), "--give-up-s", "nan"], "--give-up-s must be more than 0 seconds, not nan"),
    (["run", "--source", str(WALKING), "--give-up-s", "inf"], "--give-up-s must be more than 0 seconds, not inf"),
    (["run", "--source", str(WALKING), "--give-up-s", "0"], "--give-up-s must be more than 0 seconds, not 0"),
    (["run", "--source", str(WALKING), "--max-fps", "nan"], "--max-fps must be more than 0 and at most 120, not nan"),
])
def test_an_odd_argument_gets_one_sentence(cli: Cli, args: list[str], fragment: str) -> None:
    one_error(cli(*args), fragment)


@pytest.mark.parametrize(("args", "option"), [
    (["run", "--source", str(DOG), "--speech", "none", "--transcript", ""], "--transcript"),  # was: no transcript
    (["run", "--source", str(DOG), "--speech", "none", "--record", ""], "--record"),
    (["run", "--source", str(DOG), "--speech", "none", "--snapshots", ""], "--snapshots"),
    (["run", "--source", str(DOG), "--speech", "none", "--profile", ""], "--profile"),  # was: the default profile
    (["run", "--source", str(DOG), "--speech", "none", "--model", ""], "--model"),
    (["describe", str(DOG), "--debug-out", ""], "--debug-out"),
    (["profiles", "check", ""], "FILE"),
    (["dataset", "calibrate", "--voc", "", "--out", "x.json"], "--voc"),
    (["dataset", "eval", "--voc", str(VOC), "--report", ""], "--report"),
])
def test_an_empty_path_option_is_refused(cli: Cli, args: list[str], option: str) -> None:
    """An empty path is the current folder, or was taken as 'not given': either way not what was asked."""
    result = cli(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1].endswith(f"argument {option}: is empty; give a file, a folder or a name")


# Files read as structures: nesting or types no reader expects are one sentence, not a crash.

NESTED = "[" * 100_000 + "]" * 100_000


def test_a_deeply_nested_coco_file_gets_one_sentence(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "ann.json").write_text(NESTED)
    one_error(cli("dataset", "find", "--coco", str(tmp_path / "ann.json"), "--images", str(tmp_path),
                      "--classes", "dog"), "is nested too deeply to be a COCO file")


def test_a_deeply_nested_calibration_gets_one_sentence(cli: Cli, tmp_path: Path) -> None:
    from ..conftest import MODEL

    model = copy(MODEL, tmp_path / MODEL.name)
    copy(MODEL.with_suffix(".labels.txt"), tmp_path / MODEL.with_suffix(".labels.txt").name)
    (tmp_path / f"{MODEL.stem}.calibration.json").write_text(NESTED)
    one_error(cli("describe", str(DOG), "--model", str(model)), "is corrupt; delete it or make it again")


@pytest.mark.parametrize(("body", "fragment"), [
    ("objects:\n  dog: {priority: true}\n", "priority"),
    ("defaults: {priority: true}\nobjects: [dog]\n", "priority"),
    ("objects:\n  dog: {priority: 2.5}\n", "priority"),
    # every number, not only priority: YAML's yes/no is not 1 or 0
    ("objects:\n  dog: {min_score: true}\n", "min_score = True: must be a number, not true or false"),
    ("voice: {volume: yes}\nobjects: [dog]\n", "volume = True: must be a number, not true or false"),
    ("defaults: {cooldown_s: false}\nobjects: [dog]\n", "cooldown_s = False: must be a number"),
])
def test_a_profile_number_of_the_wrong_type_is_refused(tmp_path: Path, body: str, fragment: str) -> None:
    from assistant.errors import ProfileError
    from assistant.config.profile_files import load_profile

    (tmp_path / "p.yaml").write_text("name: p\n" + body)
    with pytest.raises(ProfileError, match=fragment):
        load_profile(str(tmp_path / "p.yaml"))


# A profile deleted while running: said once; the settings in use are kept.

def test_a_deleted_profile_is_told_once_and_its_settings_kept(tmp_path: Path) -> None:
    from assistant.runtime.reload import ProfileWatcher

    path = tmp_path / "p.yaml"
    path.write_text("name: p\nobjects: [dog]\n")
    told: list[str] = []
    watcher = ProfileWatcher(path, interval_s=0, warn=told.append, grace_s=0)
    path.unlink()
    assert [watcher.poll(), watcher.poll()] == [None, None]
    assert told == [f"The profile {path} was deleted; the settings it gave are kept until it is back."]
    path.write_text("name: p\nobjects: [cat]\n")
    assert list(watcher.poll().profile.objects) == ["cat"] and len(told) == 1
    path.unlink()
    watcher.poll()
    assert len(told) == 2  # gone again: told again


def test_a_profile_deleted_mid_run_is_warned_about_once(tmp_path: Path) -> None:
    from ..conftest import VIDEOS

    profile = tmp_path / "live.yaml"
    profile.write_text("name: live\nobjects: [car]\n")
    transcript = tmp_path / "t.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "--source", str(VIDEOS / "car-detection.mp4"), "--realtime",
         "--max-fps", "3", "--max-frames", "15",  # 5 s of the video, as a small device sees it
         "--speech", "none", "--profile", str(profile), "--transcript", str(transcript)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not transcript.exists():  # opened once the profile has been loaded
        assert time.monotonic() < deadline and process.poll() is None, "the run never got there"
        time.sleep(0.05)
    profile.unlink()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert stderr.count(f"warning: The profile {profile} was deleted; the settings it gave are kept") == 1, stderr


# A camera missing at start (a USB camera that enumerates late) is a lost camera: said, and waited for.

def test_a_camera_missing_at_start_is_waited_for_under_give_up(cli: Cli) -> None:
    result = cli("run", "--source", "7", "--speech", "print", "--give-up-s", "3")
    assert result.returncode == 2, result.stderr
    assert result.stdout.splitlines() == ["Camera lost"]
    assert messages(result.stderr) == [
        "warning: No camera found at index 7 yet; waiting for it as for a lost camera (--give-up-s limits the wait).",
        "error: camera 7 gave no frames for 3 s; giving up (--give-up-s)."]


def test_a_camera_that_appears_late_is_opened_when_it_comes() -> None:
    from assistant.sources.capture import Capture, open_device, open_file
    from assistant.errors import SourceError

    attempts: list[float] = []

    def enumerates_late() -> object:  # no device at the first try; the next finds one (a real video)
        attempts.append(time.monotonic())
        return open_device(7) if len(attempts) == 1 else open_file(str(CAR_VIDEO), "camera 7")

    capture = Capture(enumerates_late, "camera 7", retry_first=True)
    try:
        assert capture.opened.wait(2)
        assert capture.error is None and isinstance(capture.missing, SourceError)
        assert capture.frames.take(10) is not None and len(attempts) == 2
    finally:
        capture.stop()


# A URL of a finite file is a file: read once, in order, every frame; a photo is described at once.

@contextlib.contextmanager
def http_server(folder: Path) -> Iterator[str]:
    """A loopback HTTP server of `folder`'s files, on a free port: its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()


def test_a_url_of_a_photo_is_described_once(cli: Cli, tmp_path: Path) -> None:
    copy(DOG, tmp_path / "dog.jpg")
    with http_server(tmp_path) as base:
        result = cli("run", "--source", f"{base}/dog.jpg", "--speech", "print")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1 and "bicycle" in result.stdout  # it was said again and again
    assert result.stderr.splitlines()[-1].startswith("1 frame in ")


def test_a_url_of_a_video_file_is_read_once_in_order(cli: Cli, tmp_path: Path) -> None:
    """377 frames at 12.5 fps, sampled at 1 fps of its own time: 31 frames, then the end (it was read
    again and again, with thousands of frames dropped)."""
    transcript = tmp_path / "t.jsonl"
    with http_server(CAR_VIDEO.parent) as base:
        result = cli("run", "--source", f"{base}/{CAR_VIDEO.name}", "--speech", "none", "--max-fps", "1",
                         "--transcript", str(transcript))
    assert result.returncode == 0, result.stderr
    summary = result.stderr.splitlines()[-1]
    assert summary.startswith("31 frames in ") and summary.endswith(", 0 frames dropped, 346 frames left out by the cap."), summary
    assert "Camera lost" not in transcript.read_text()
