"""Installs as users install: a wheel built from the checkout, installed into a fresh environment, run
from outside any checkout. The assistant package comes only from the wheel; its dependencies are
borrowed from the test's own environment (a .pth line), so nothing is downloaded but the build tools."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import IMAGES, MODEL, ROOT
from .common import messages, one_error

PROFILES = sorted(p.stem for p in (ROOT / "profiles").glob("*.yaml"))
LANGUAGES = sorted(p.parent.parent.name for p in (ROOT / "assistant" / "locales").glob("*/LC_MESSAGES/*.po"))
DOG = IMAGES / "darknet_dog.jpg"  # a bicycle and a car in front of a dog


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of a copy of the checkout (as a clone would have it, with a model weight linked into
    models/ as `make` does), so the build writes nothing into the real checkout."""
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    (source / "models" / MODEL.name).symlink_to(MODEL)
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source)],
                           check=False, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    return next(out.glob("assistant-*.whl"))


@pytest.fixture(scope="module")
def install(wheel: Path) -> Callable[[Path], Path]:
    """Installs the wheel into a fresh venv at the given folder; returns the venv's site-packages."""
    def into(venv: Path) -> Path:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = next(venv.glob("lib/python*/site-packages"))
        (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
        installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                                    "--quiet", "--no-deps", "--no-index", str(wheel)],
                                   check=False, capture_output=True, text=True)
        assert installed.returncode == 0, installed.stderr
        return site
    return into


@pytest.fixture(scope="module")
def venv(install: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("venv")
    install(path)
    return path


def assistant(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed `assistant` command, run from `cwd` (never the checkout), finding the shared model."""
    env = {**os.environ, "ASSISTANT_MODEL_DIR": str(MODEL.parent), "XDG_CACHE_HOME": str(cwd / "cache")}
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(venv / "bin" / "assistant"), *args], check=False, capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_the_package_comes_from_the_wheel_alone(venv: Path, tmp_path: Path) -> None:
    found = subprocess.run([str(venv / "bin" / "python"), "-c", "import assistant; print(assistant.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert Path(found.strip()).is_relative_to(venv)


# What the wheel must carry, and what it must not: (member pattern, how many).
SHIPPED = [
    *[(f"assistant/_shipped/profiles/{name}.yaml", 1) for name in PROFILES],
    ("assistant/_shipped/models/manifest.json", 1),
    *[(f"assistant/_shipped/models/{p.name}", 1) for p in sorted((ROOT / "models").glob("*.calibration.json"))],
    *[(f"assistant/language/locales/{code}/LC_MESSAGES/assistant.mo", 1) for code in LANGUAGES],
    *[(f"assistant/language/locales/{code}/nouns.yaml", 1) for code in ["en", *LANGUAGES]],
    # the caregiver's page: every page, script and style sheet, for nothing is fetched from a CDN
    *[(f"assistant/web/static/{p.name}", 1) for p in sorted((ROOT / "assistant" / "web" / "static").iterdir())],
    # `assistant train` makes its environment from these pins and runs this worker in it
    ("assistant/training/requirements.txt", 1),
    ("assistant/training/worker.py", 1),
    ("*.tflite", 0),  # model weights come from the user's model folder or a download, never the wheel
    ("*.task", 0),
    ("profiles/*", 0),  # nothing at the top of site-packages, where another package's folder may be
    ("models/*", 0),
]


@pytest.mark.parametrize(("pattern", "count"), SHIPPED, ids=[p for p, _ in SHIPPED])
def test_the_wheel_carries_the_shipped_data_and_no_weights(wheel: Path, pattern: str, count: int) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert sum(fnmatch.fnmatchcase(name, pattern) for name in names) == count


# Every command that reads shipped data, installed and run from elsewhere: (args, what stdout says).
COMMANDS = [
    (["models", "list"], [f"verified at {MODEL}", "calibrated (", "/assistant/_shipped/models/"]),
    (["profiles", "list"], [f"{name}: " for name in PROFILES]),
    (["profiles", "show", "street"], ["name: street"]),
    (["describe", str(DOG)], [f"{DOG}: A car", "bicycle"]),
    (["describe", "--profile", "{tmp}/spanish.yaml", str(DOG)], [f"{DOG}: Un coche", "bicicleta"]),
]


@pytest.mark.parametrize(("args", "says"), COMMANDS, ids=[" ".join(a[:2]) for a, _ in COMMANDS])
def test_installed_commands_find_their_data(venv: Path, tmp_path: Path, args: list[str], says: list[str]) -> None:
    (tmp_path / "spanish.yaml").write_text("extends: default\nlanguage: es\n")  # a shipped parent, a shipped language
    result = assistant(venv, *(a.format(tmp=tmp_path) for a in args), cwd=tmp_path)
    assert result.returncode == 0 and messages(result.stderr) == [], result.stderr
    if args[0] == "describe":  # the installed calibration, named as such
        assert "Calibration from the shipped models/ (" in result.stderr, result.stderr
        assert "/assistant/_shipped/models/" in result.stderr, result.stderr
    for fragment in says:
        assert fragment in result.stdout, result.stdout


def test_the_installed_page_serves_its_own_assets(venv: Path, tmp_path: Path) -> None:
    """`assistant web` from the wheel, run from elsewhere: its pages, scripts and styles come from the
    package, and SIGTERM ends it cleanly."""
    import signal
    import urllib.request

    from ..web_serving import free_port, wait_for_port

    port = free_port()
    env = {**os.environ, "ASSISTANT_MODEL_DIR": str(MODEL.parent), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("PYTHONPATH", None)
    process = subprocess.Popen([str(venv / "bin" / "assistant"), "web", "--web", f"127.0.0.1:{port}"], cwd=tmp_path,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, process)
        for path in ("/", "/profile", "/try", "/static/common.js", "/static/style.css", "/static/profile.js"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                assert response.status == 200 and response.read(), path
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert f"http://127.0.0.1:{port}" in stderr


def test_installed_catalogs_are_used_as_built(venv: Path, tmp_path: Path) -> None:
    """Installing does not keep file times, so a .mo may look older than its .po; it is still used,
    not compiled again at every start (Babel's compiler is made unimportable to prove it)."""
    code = ("import sys; sys.modules['babel.messages.mofile'] = None\n"
            "from assistant import language\n"
            f"print(all(language.translations(c)._catalog for c in {LANGUAGES!r}))")
    result = subprocess.run([str(venv / "bin" / "python"), "-c", code], check=False, capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.stdout.strip() == "True", result.stderr


# An install that lost its data says so in one sentence: (what is damaged, how, the command, the error).
DAMAGED = [
    ("_shipped/models/manifest.json", "missing", ["models", "list"], "is missing or damaged; reinstall the assistant"),
    ("_shipped/models/manifest.json", "garbled", ["describe", str(DOG)], "is missing or damaged; reinstall"),
]


@pytest.mark.parametrize(("member", "damage", "args", "error"), DAMAGED, ids=[f"{m} {d}" for m, d, _, _ in DAMAGED])
def test_a_damaged_install_says_so(install: Callable[[Path], Path], tmp_path: Path, member: str, damage: str,
                                   args: list[str], error: str) -> None:
    site = install(tmp_path / "venv")
    path = site / "assistant" / member
    if damage == "missing":
        path.unlink()
    else:
        path.write_text("{ not json")
    one_error(assistant(tmp_path / "venv", *args, cwd=tmp_path), error)
