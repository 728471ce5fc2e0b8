"""What several commands share: the sentence on stderr for an error, a warning or a note, the
profile and model they load, and the exit codes beyond success and interruption."""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from pathlib import Path

from ..config import calibration, models
from ..config.profile_files import ProfileProblems
from ..config.rules import Rules, load_rules
from ..process.run_context import RunContext
from ..process.shown import shown
from ..process.signals import EXIT_INTERRUPTED, EXIT_OK, stop_signals

EXIT_FAILURE, EXIT_BAD_INPUT = 1, 2


def report(exc: BaseException, verbose: bool, prefix: str = "") -> None:
    """One sentence on stderr; the traceback too with --verbose."""
    print(f"error: {shown(prefix + str(exc), lines=isinstance(exc, ProfileProblems))}", file=sys.stderr, flush=True)
    if verbose:
        traceback.print_exception(exc)


def warn(message: str) -> None:
    print(f"warning: {shown(message)}", file=sys.stderr, flush=True)


def load(profile_spec: str | None, model_spec: str | None) -> tuple[Rules, Path, tuple[str, ...]]:
    """The validated profile's rules under the model's calibration, a verified model, and the model's
    labels, which include every profile class."""
    model_path = models.resolve(model_spec)
    labels = models.labels(model_path)
    try:
        rules = load_rules(profile_spec, labels, note=note, calibration=calibration.for_model(model_path))
        return rules, model_path, labels
    except ProfileProblems:
        require_detector(model_path)  # a model of another kind makes every class look unknown
        raise


def require_detector(model_path: Path) -> None:
    """ModelError, in one sentence, if MediaPipe cannot run the model as an object detector."""
    from ..errors import ModelError
    from ..vision.detector import Detector

    try:
        Detector(model_path, video=False).close()
    except ModelError:
        raise ModelError(f"{model_path} is not an object detector (MediaPipe cannot run it as one); pass --model "
                         "with a detection model, such as one from 'assistant models list'.") from None



def note(message: str) -> None:
    print(shown(message), file=sys.stderr, flush=True)


class StopSignals:
    """Ctrl-C, SIGTERM and SIGHUP set `stop`, for a command that then ends cleanly: with exit code 130
    after a Ctrl-C, else 0, as `exit_code` says."""

    def __init__(self, context: RunContext) -> None:
        self.stop = threading.Event()
        self._received: list[int] = []
        context.handle_signals((signal.SIGINT, *stop_signals()), self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._received.append(signum)
        self.stop.set()

    @property
    def exit_code(self) -> int:
        return EXIT_INTERRUPTED if signal.SIGINT in self._received else EXIT_OK
