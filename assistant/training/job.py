"""Running one training job: the worker in the training environment, its events, and stopping it.

The worker runs in a process group of its own, so the terminal's Ctrl-C reaches only the assistant,
which then stops the worker and waits for it: whatever the moment, no model file is left half
written, because the worker writes only in the job's work folder and the assistant removes that
folder. Its standard error goes to `work/log.txt`; on a failure the last lines are shown.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .environment import TrainingError

WORKER = Path(__file__).with_name("worker.py")
STOP_GRACE_S = 10.0  # after this, a worker that ignores SIGTERM is killed

@dataclass(frozen=True, slots=True)
class Architecture:
    """One of Model Maker's detectors: its `SupportedModels` name, the folder and archive of its
    pretrained checkpoint, and its input size."""

    spec: str
    folder: str
    archive: str
    size: int


ARCHITECTURES = {
    "mobilenet_v2_i256": Architecture("MOBILENET_V2", "mobilenetv2_i256",
                                      "mobilenetv2_ssd_coco/mobilenetv2_ssd_i256_ckpt.tar.gz", 256),
    "mobilenet_v2_i320": Architecture("MOBILENET_V2_I320", "mobilenetv2_i320",
                                      "mobilenetv2_ssd_coco/mobilenetv2_ssd_i320_ckpt.tar.gz", 320),
    "mobilenet_multi_avg_i256": Architecture("MOBILENET_MULTI_AVG", "mobilenetmultiavg",
                                             "mobilenetv3.5_ssd_coco/mobilenetv3.5_ssd_i256_ckpt.tar.gz", 256),
}
WEIGHTS_URL = "https://storage.googleapis.com/tf_model_garden/vision/qat/"
CHECKPOINT = "ckpt-277200"  # the name of every architecture's pretrained checkpoint


@dataclass(frozen=True, slots=True)
class Job:
    """What the worker is asked to do; written as JSON for it."""

    architecture: str  # a key of ARCHITECTURES
    spec: str  # its Model Maker name, for the worker
    weights: str  # the pretrained checkpoint's folder; downloaded there first when absent
    train: str  # Model Maker COCO folders
    validation: str
    work: str
    exports: dict[str, str]  # format -> file to write
    epochs: int = 30
    batch_size: int = 8
    learning_rate: float = 0.3
    qat_epochs: int = 10
    qat_learning_rate: float = 0.3
    qat_decay_steps: int = 8
    seed: int = 0


@dataclass(slots=True)
class Outcome:
    """What the worker reported: the files it exported, the devices it used, how long each stage and
    each training epoch took (the first with TensorFlow's tracing), and the losses."""

    exported: dict[str, Path] = field(default_factory=dict)
    export_bytes: dict[str, int] = field(default_factory=dict)
    gpus: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    epoch_seconds: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    error: dict | None = None
    _stage: tuple[str, float] | None = None  # the stage under way and when it began

    def record(self, event: dict) -> None:
        kind, now = event["event"], event["time"]
        if kind == "error":
            self.error = event
        elif kind == "device":
            self.gpus = event["gpus"]
        elif kind == "exported":
            self.exported[event["format"]] = Path(event["path"])
            self.export_bytes[event["format"]] = event["bytes"]
        elif kind == "epoch" and event["stage"] == "train":
            if event.get("loss") is not None:
                self.losses.append(event["loss"])
            self.epoch_seconds.append(event["seconds"])
        elif kind in ("stage", "done"):
            if self._stage is not None:
                self.seconds[self._stage[0]] = round(now - self._stage[1], 1)
            named = event.get("stage", "") + (f"-{event['format']}" if "format" in event else "")
            self._stage = (named, now) if kind == "stage" else None


def weights_url(architecture: str) -> str:
    return WEIGHTS_URL + ARCHITECTURES[architecture].archive


def weights_folder(architecture: str, given: str | None, default_root: Path) -> Path:
    """The pretrained checkpoint's folder: `given` (the checkpoint folder itself, or a folder holding
    one per architecture), else the user's cache, where Model Maker's download goes."""
    subfolder = ARCHITECTURES[architecture].folder
    if given is None:
        return default_root / subfolder
    root = Path(given).expanduser()
    for candidate in (root, root / subfolder):
        if (candidate / f"{CHECKPOINT}.index").is_file():
            return candidate
    raise TrainingError(f"{root} holds no {CHECKPOINT} checkpoint for {architecture}; it should be the folder "
                        f"unpacked from {weights_url(architecture)} (with {CHECKPOINT}.index in it).")


def run(python: Path, job: Job, on_event: Callable[[dict], None]) -> Outcome:
    """Run the worker to its end, passing each event on; TrainingError in one sentence if it fails.
    A KeyboardInterrupt or any other exception here stops the worker before it goes on."""
    work = Path(job.work)
    (work / "job.json").write_text(json.dumps(asdict(job)), encoding="utf-8")
    outcome = Outcome()
    with open(work / "log.txt", "wb") as log:
        # -I: isolated, so neither this folder's modules nor $PYTHON* variables reach the training environment
        worker = subprocess.Popen([str(python), "-I", "-u", str(WORKER), str(work / "job.json")], stdout=subprocess.PIPE,
                                  stderr=log, stdin=subprocess.DEVNULL, cwd=work, env=_worker_env(work),
                                  **_own_group())
        try:
            for event in _events(worker.stdout):
                outcome.record(event)
                on_event(event)
            code = worker.wait()
        except BaseException:
            stop(worker)
            raise
    if code != 0 or set(outcome.exported) != set(job.exports):
        raise _failure(outcome.error, code, work / "log.txt", job)
    return outcome


def _events(stream) -> Iterator[dict]:
    for line in stream:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a library that wrote to the real stdout before the worker redirected it
        if isinstance(event, dict) and "event" in event:
            yield event


def _worker_env(work: Path) -> dict[str, str]:
    """The worker's environment: its temporary files in the work folder (Model Maker makes temporary
    folders it never removes), and no CUDA log chatter."""
    env = dict(os.environ)
    for name in ("TMPDIR", "TEMP", "TMP"):
        env[name] = str(work)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("PYTHONPATH", None)  # the assistant's own packages are not the training environment's
    return env


def _own_group() -> dict:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def stop(worker: subprocess.Popen) -> None:
    """Ask the worker's process group to stop, then make it; return only when it has gone, even
    through another Ctrl-C."""
    while worker.poll() is None:
        try:
            _signal_group(worker, signal.SIGTERM)
            try:
                worker.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(worker, getattr(signal, "SIGKILL", signal.SIGTERM))
                worker.wait()
        except KeyboardInterrupt:
            continue  # a second Ctrl-C: the worker still goes before the command does


def _signal_group(worker: subprocess.Popen, signum: int) -> None:
    try:
        if sys.platform == "win32":
            worker.terminate() if signum == signal.SIGTERM else worker.kill()
        else:
            os.killpg(worker.pid, signum)
    except ProcessLookupError:
        pass


def _failure(error: dict | None, code: int, log: Path, job: Job) -> TrainingError:
    """One sentence on why the worker failed."""
    if error and error.get("kind") == "weights":
        return TrainingError(
            f"Could not download the pretrained weights for {job.architecture} (no internet?); on a connected "
            f"machine fetch {error['url']}, unpack it, and pass the folder with --weights DIR (or set "
            f"$ASSISTANT_TRAIN_WEIGHTS).")
    if error and error.get("kind") == "disk":
        return TrainingError(f"The disk is full ({error['message']}); free some space and train again. "
                             "No model was written.")
    if error and error.get("kind") == "memory":
        return TrainingError("Training ran out of memory; try a smaller --batch-size.")
    said = (error or {}).get("message") or _last_line(log)
    return TrainingError(f"Training failed (exit code {code}): {said}")


def _last_line(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "nothing"
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or ["nothing"])[-1][:300]
