"""The command run in this process (`assistant.cli.main`), as a server or a test would: the exit codes
and messages a process gives, twice over, and the process left as it was found."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import pytest

import assistant.cli
import assistant.vision.detector  # noqa: F401 - its import-time log defaults are the process's, not a run's
from assistant.core import Utterance
from assistant.process.run_context import RunContext
from assistant.cli import main
from assistant.process.signals import Stopped, stop_at_once, stop_signals
from assistant.speech.backends import OutputClosed, PrintBackend

from .conftest import IMAGES, Cli, run_cli

SIGNALS = (signal.SIGINT, *stop_signals())


def process_state() -> tuple:
    """What a run may change in the process: signal handlers, environment, standard streams and where
    standard output's descriptor points."""
    out = os.fstat(1)
    return ({s: signal.getsignal(s) for s in SIGNALS}, dict(os.environ), sys.stdout, sys.stderr,
            (out.st_dev, out.st_ino))


def _bad_profile(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nobjects: [persn]\n")
    return path


@pytest.mark.parametrize("make_args", [
    lambda t: ["describe", str(t / "missing.jpg")],
    lambda t: ["profiles", "check", str(_bad_profile(t))],
    lambda t: ["describe", "--json", str(IMAGES / "darknet_dog.jpg")],
    lambda t: ["run", "--source", str(IMAGES / "darknet_dog.jpg"), "--speech", "loud"],
    lambda t: ["describe"],
    lambda t: ["describe", "--help"],
], ids=["missing image", "bad profile", "json", "unknown speech", "usage", "help"])
def test_in_process_answers_as_a_process_does_twice_over(cli: Cli, tmp_path: Path, make_args) -> None:
    args = make_args(tmp_path)
    process = run_cli(*args)
    for _ in range(2):
        result = cli(*args)
        assert (result.returncode, result.stdout, result.stderr) == (process.returncode, process.stdout,
                                                                     process.stderr)


@pytest.mark.parametrize("source", [str(IMAGES / "darknet_dog.jpg"), "rtsp://127.0.0.1:9/none"],
                         ids=["photo", "refused stream"])
def test_a_run_leaves_the_process_as_it_found_it(cli: Cli, tmp_path: Path, source: str) -> None:
    before = process_state()
    result = cli("run", "--source", source, "--speech", "print", "--transcript", str(tmp_path / "t.jsonl"))
    assert result.returncode in (0, 2), result.stderr
    assert process_state() == before


def test_run_context_restores_handlers_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCV_LOG_LEVEL", "DEBUG")
    monkeypatch.delenv("OPENCV_FFMPEG_LOGLEVEL", raising=False)
    before = process_state()

    def handler(_signum: int, _frame: object) -> None:
        pass

    with RunContext() as context:
        assert context.handle_signals(SIGNALS, handler)
        context.set_default_env("OPENCV_LOG_LEVEL", "SILENT")
        context.set_default_env("OPENCV_FFMPEG_LOGLEVEL", "-8")
        assert all(signal.getsignal(s) is handler for s in SIGNALS)
        assert os.environ["OPENCV_LOG_LEVEL"] == "DEBUG"  # the caller's value wins, as with setdefault
        assert os.environ["OPENCV_FFMPEG_LOGLEVEL"] == "-8"
    assert process_state() == before


class _SignalledWhileCollected:
    """Sends itself `signum` while being collected: the handler's exception is raised inside
    `__del__`, where Python can only print it ("Exception ignored in ...") and go on, as it does
    for the module-lock callbacks of an import that a Ctrl-C lands in."""

    def __init__(self, signum: int):
        self.signum = signum

    def __del__(self) -> None:
        os.kill(os.getpid(), self.signum)
        for _ in range(100_000):  # the handler runs between these bytecodes
            pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowing, on purpose
@pytest.mark.parametrize("signum", SIGNALS)
def test_a_signal_swallowed_while_loading_reaches_the_runs_handler(signum: int) -> None:
    before = process_state()
    heard = []
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal, even in a background suite
        stop_at_once()  # as `python -m assistant` sets it, before its imports
        _SignalledWhileCollected(signum)  # made and dropped at once: its __del__ swallows the exception
        with RunContext() as context:
            context.handle_signals(SIGNALS, lambda s, _frame: heard.append(s))
            context.handle_signals(SIGNALS, lambda s, _frame: heard.append(-s))  # told once, not again
    finally:
        for s, handler in before[0].items():
            signal.signal(s, handler)
    assert heard == [signum]


def _import_cut_short(signal_exception: BaseException) -> None:
    """What a pybind11 module's import raises when a signal lands inside its initialisation."""
    try:
        raise signal_exception
    except BaseException as exc:
        raise ImportError("initialization failed") from exc


@pytest.mark.parametrize(("signal_exception", "code"), [(KeyboardInterrupt(), 130), (Stopped(), 0)])
def test_a_signal_wrapped_by_an_import_ends_the_run_as_the_signal_would(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        signal_exception: BaseException, code: int) -> None:
    monkeypatch.setattr(assistant.cli, "cmd_models_list", lambda _args, _context: _import_cut_short(signal_exception))
    assert main(["models", "list"]) == code
    assert capsys.readouterr().err == ""  # not "unexpected failure: initialization failed"


def test_off_the_main_thread_the_hosts_handlers_stay() -> None:
    before = process_state()
    answers = []
    with RunContext() as context:
        worker = threading.Thread(target=lambda: answers.append(context.handle_signals(SIGNALS, print)))
        worker.start()
        worker.join()
    assert answers == [False] and process_state() == before


def test_a_closed_stdout_is_closed_for_its_run_only(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    terminal = sys.stdout
    read, write = os.pipe()
    os.close(read)  # the reader went away, as `| head -1` does
    pipe = open(write, "w")  # noqa: SIM115 - closed below, after the run gave the descriptor back
    pipe_id = (os.fstat(write).st_dev, os.fstat(write).st_ino)
    monkeypatch.setattr(sys, "stdout", pipe)
    with RunContext() as context:
        for _ in range(2):  # every printer of the run hears it, now and after
            with pytest.raises(OutputClosed):
                PrintBackend(context.stdout).speak(Utterance("a dog ahead", 0, 0), 1)
        assert context.stdout.closed
        assert os.path.samestat(os.fstat(write), os.stat(os.devnull))
    assert (os.fstat(write).st_dev, os.fstat(write).st_ino) == pipe_id
    pipe.close()
    monkeypatch.setattr(sys, "stdout", terminal)
    with RunContext() as context:
        PrintBackend(context.stdout).speak(Utterance("a dog ahead", 0, 0), 1)
    assert capsys.readouterr().out == "a dog ahead\n"


def test_overlapping_silences_from_two_threads_give_stderr_back() -> None:
    """The loop loads a model while the page decodes a photo: the one that leaves first must not put
    back the other's /dev/null, nor the one that leaves last its own."""
    from assistant.process.run_context import native_stderr_silenced

    def where(fd: int) -> tuple[int, int]:
        stat = os.fstat(fd)
        return stat.st_dev, stat.st_ino

    original, devnull = where(2), os.stat(os.devnull)
    second_in, first_out = threading.Event(), threading.Event()
    inside: list[tuple[int, int]] = []

    def second() -> None:
        with native_stderr_silenced():
            second_in.set()
            first_out.wait(5)
            inside.append(where(2))

    with native_stderr_silenced():
        worker = threading.Thread(target=second)
        worker.start()
        second_in.wait(5)
    first_out.set()
    worker.join(5)
    assert inside == [(devnull.st_dev, devnull.st_ino)]  # still silent after the first one left
    assert where(2) == original
