"""The training job itself: MediaPipe Model Maker, run by the training environment's Python.

Never imported by the assistant: it needs TensorFlow and Model Maker, which live in their own
environment (`assistant.training.environment`) because they pin an older mediapipe. The assistant
runs it as `python worker.py JOB.json` and reads one JSON event per line from its standard output;
everything Model Maker and TensorFlow print goes to standard error, which the assistant keeps in a
log. It writes only inside the job's work folder: exports are written under a temporary name and
renamed when whole, so a stop or a full disk leaves no model that looks finished.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

class Events:
    """One JSON object per line on the original standard output, flushed at once."""

    def __init__(self) -> None:
        self._out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)  # Model Maker's and TensorFlow's own prints go to the log, never into the events
        sys.stdout = sys.stderr

    def __call__(self, event: str, **fields: object) -> None:
        self._out.write(json.dumps({"event": event, "time": time.time(), **fields}) + "\n")


def _report_progress(tf, emit: Events, stage: list[str], totals: dict[str, tuple[int, int]]) -> None:
    """Every Keras fit in this process reports each step's loss and each epoch's losses: Model Maker
    trains and runs quantization-aware training through `fit` and takes no callback of ours."""

    class Progress(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._epoch, self._began = epoch + 1, time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            epochs, steps = totals[stage[0]]
            emit("step", stage=stage[0], epoch=self._epoch, epochs=epochs, step=batch + 1, steps=steps,
                 loss=_number((logs or {}).get("total_loss")))

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            emit("epoch", stage=stage[0], epoch=epoch + 1, epochs=totals[stage[0]][0],
                 loss=_number(logs.get("total_loss")), validation_loss=_number(logs.get("val_total_loss")),
                 seconds=round(time.monotonic() - self._began, 2))

    fit = tf.keras.Model.fit

    def fit_with_progress(self, *args, callbacks=None, **kwargs):
        return fit(self, *args, callbacks=[*(callbacks or []), Progress()], **kwargs)

    tf.keras.Model.fit = fit_with_progress


def _number(value) -> float | None:
    return None if value is None else float(value)


def _weights(spec, folder: str, emit: Events) -> None:
    """Point Model Maker at the pretrained checkpoint folder; download it there first when it is
    absent (Model Maker's own download), into a temporary folder renamed when complete."""
    checkpoint = os.path.join(folder, spec.checkpoint_name + ".index")
    files = spec.downloaded_files
    if not os.path.isfile(checkpoint):
        parent = os.path.dirname(os.path.abspath(folder))
        os.makedirs(parent, exist_ok=True)
        partial = tempfile.mkdtemp(prefix=".partial-", dir=parent)
        os.rmdir(partial)  # Model Maker creates it; an existing folder would be taken as complete
        files.path = partial
        emit("stage", stage="download", url=files.url)
        try:
            files.get_path()
        except BaseException as exc:  # requests' connection errors, a bad archive, a stop
            shutil.rmtree(partial, ignore_errors=True)
            if not isinstance(exc, Exception):
                raise
            emit("error", kind="weights", url=files.url, folder=folder, message=str(exc))
            sys.exit(3)
        os.replace(partial, folder)
    files.path = os.path.abspath(folder)  # an absolute path: Model Maker's join with its temp folder keeps it


def _export(detector, quantization, fmt: str, target: str, export_dir: str, emit: Events) -> None:
    """Export one format to `target`, written under a temporary name and renamed when whole."""
    emit("stage", stage="export", format=fmt)
    config = quantization.QuantizationConfig.for_float16() if fmt == "float16" else None
    partial = f".{fmt}.partial.tflite"
    try:
        detector.export_model(partial, quantization_config=config)
        os.replace(os.path.join(export_dir, partial), target)
    finally:
        if os.path.exists(os.path.join(export_dir, partial)):
            os.remove(os.path.join(export_dir, partial))
    emit("exported", format=fmt, path=target, bytes=os.path.getsize(target))


def run(job: dict, emit: Events) -> None:
    import tensorflow as tf
    from mediapipe_model_maker import object_detector, quantization

    emit("device", gpus=[d.name for d in tf.config.list_physical_devices("GPU")], cores=os.cpu_count())
    tf.keras.utils.set_random_seed(job["seed"])
    supported = object_detector.SupportedModels[job["spec"]]
    _weights(supported.value(), job["weights"], emit)  # the spec's files are shared by every spec made later

    emit("stage", stage="data")
    cache = os.path.join(job["work"], "cache")
    train = object_detector.Dataset.from_coco_folder(job["train"], cache_dir=os.path.join(cache, "train"))
    validation = object_detector.Dataset.from_coco_folder(job["validation"],
                                                          cache_dir=os.path.join(cache, "validation"))
    steps = max(1, len(train) // job["batch_size"])
    stage = ["train"]
    _report_progress(tf, emit, stage, {"train": (job["epochs"], steps), "qat": (job["qat_epochs"], steps)})
    emit("stage", stage="train", epochs=job["epochs"], steps=steps, train=len(train), validation=len(validation))
    hparams = object_detector.HParams(learning_rate=job["learning_rate"], batch_size=job["batch_size"],
                                      epochs=job["epochs"], export_dir=job["work"])
    detector = object_detector.ObjectDetector.create(
        train, validation, object_detector.ObjectDetectorOptions(supported_model=supported, hparams=hparams))
    for fmt in (f for f in job["exports"] if f != "int8"):
        _export(detector, quantization, fmt, job["exports"][fmt], job["work"], emit)
    if "int8" in job["exports"]:
        stage[0] = "qat"
        emit("stage", stage="qat", epochs=job["qat_epochs"], steps=steps)
        detector.quantization_aware_training(train, validation, object_detector.QATHParams(
            learning_rate=job["qat_learning_rate"], batch_size=job["batch_size"], epochs=job["qat_epochs"],
            decay_steps=job["qat_decay_steps"]))
        _export(detector, quantization, "int8", job["exports"]["int8"], job["work"], emit)
    emit("done")


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # cleanups run when stopped
    emit = Events()
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    try:
        run(job, emit)
    except MemoryError:
        emit("error", kind="memory", message="out of memory")
        sys.exit(4)
    except Exception as exc:
        # TensorFlow's own file writes raise its errors, not OSError; their message names the cause
        full = getattr(exc, "errno", None) in (28, 27, 122) or "No space left on device" in str(exc)
        emit("error", kind="disk" if full else "other", message=str(exc).splitlines()[0][:300] if str(exc) else "")
        raise


if __name__ == "__main__":
    main()
