"""The `assistant` command: the only place that prints for people and chooses exit codes. Here, the
command line and the dispatch to a command; what each command does is in `commands/`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .commands.common import EXIT_BAD_INPUT, EXIT_FAILURE, report
from .commands.dataset import (
    cmd_dataset_calibrate,
    cmd_dataset_eval,
    cmd_dataset_find,
    cmd_dataset_plot,
)
from .commands.describe import cmd_describe
from .commands.models import cmd_models_fetch, cmd_models_list, cmd_models_remove
from .commands.profiles import (
    cmd_profiles_check,
    cmd_profiles_classes,
    cmd_profiles_list,
    cmd_profiles_show,
)
from .commands.run import cmd_run
from .commands.train import FORMATS, cmd_train
from .commands.web import DEFAULT_ADDRESS, cmd_web
from .datasets import EVAL_MIN_SCORE
from .errors import AssistantError
from .process.run_context import RunContext
from .process.signals import EXIT_INTERRUPTED, EXIT_OK, stopped_by
from .runtime.controls import KEY_HELP, VIEW_KEY_HELP
from .speech.engine_names import SPEECH_CHOICES


def _named(text: str) -> str:
    """An argparse type: a file, folder or name, never empty (an empty path means the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a file, a folder or a name")
    return text


def _number(text: str, kind: type = float) -> float:
    """`text` as a float (or an int), or argparse's error in a few words."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None


def _unit(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def _count(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is less than 1")
    return value


def _positive(text: str) -> float:
    """An argparse type: a number above 0."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not above 0")
    return value


def _share(text: str) -> float:
    """An argparse type: a fraction from 0 up to, not including, 1."""
    value = _unit(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text} leaves nothing to train on; 0.2 is usual")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The `assistant` command line: one sub-parser per command, each command group added by its own function."""
    parser = argparse.ArgumentParser(prog="assistant",
                                     description="Tells you, in short spoken sentences, what the camera sees and where.")
    parser.add_argument("--verbose", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand that is not given --verbose must not reset `assistant --verbose CMD`.
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    with_model = argparse.ArgumentParser(add_help=False)
    _model_option(with_model, "a model name from 'assistant models list' or a .tflite file (default: the best present)")
    with_model.add_argument("--profile", type=_named, metavar="NAME|PATH", help="a shipped profile name or a YAML file (default: default)")
    _add_run(commands, common, with_model)
    _add_web(commands, common, with_model)
    _add_describe(commands, common, with_model)
    _add_profiles(commands, common)
    _add_dataset(commands, common, with_model)
    _add_models(commands, common)
    _add_train(commands, common)
    return parser


def _model_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """--model, a model name or file, with the help that says what this command does with it."""
    parser.add_argument("--model", type=_named, metavar="NAME|PATH", help=help_text)


def _add_run(commands: argparse._SubParsersAction, common: argparse.ArgumentParser,
             with_model: argparse.ArgumentParser) -> None:
    """`run`: the source, speech and transcript, limits, and the debug view's outputs."""
    run = commands.add_parser("run", parents=[common, with_model], help="speak what the camera or a file shows",
                              description="Speak what the camera or a file shows.", epilog=KEY_HELP)
    run.add_argument("--source", metavar="SRC",
                     help="camera index (default 0), video file, image file or directory, or stream URL")
    run.add_argument("--speech", metavar="OUT", help=f"{SPEECH_CHOICES} (default: the profile's voice engine)")
    run.add_argument("--transcript", type=_named, metavar="FILE.jsonl", help="write each utterance as a JSON line")
    run.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    run.add_argument("--realtime", action="store_true",
                     help="play a video file like a live camera: at its own frame rate, dropping the frames "
                          "the loop is too slow for")
    run.add_argument("--max-fps", type=float, metavar="N",
                     help="look at most N frames a second (default: the profile's max_fps, else no cap); a video "
                          "file is sampled at N frames a second of its own time, as a slow device would see it")
    run.add_argument("--give-up-s", type=float, metavar="SECONDS",
                     help="end the run when a lost camera or stream has not come back for this long (default: never)")
    view = run.add_argument_group("debug view", "boxes coloured by what became of them, a confidence heatmap "
                                  "and figures. " + VIEW_KEY_HELP)
    view.add_argument("--debug", action="store_true", help="show the debug view in a window (needs a display)")
    view.add_argument("--record", type=_named, metavar="FILE.mp4", help="write the debug view to a video file (no display needed)")
    view.add_argument("--snapshots", type=_named, metavar="DIR", help="save the debug view as PNGs every --snapshot-every frames")
    view.add_argument("--snapshot-every", type=int, default=30, metavar="N", help="frames between snapshots (30)")
    view.add_argument("--heatmap-only", action="store_true", help="the heatmap without boxes")
    view.add_argument("--candidates", type=_unit, default=0.1, metavar="SCORE",
                      help="lowest score the debug view shows, below the profile's own thresholds (0.1)")
    view.add_argument("--half-life", type=float, default=1.0, metavar="SECONDS",
                      help="how fast the heatmap fades (1.0)")
    _web_options(run.add_argument_group("caregiver's page", "a web page with the live view, the profile editor "
                                        "and a photo try-out; beyond loopback it asks for a code the assistant says"),
                 default=None, help_text="serve the caregiver's page at [HOST:]PORT (8080 is 127.0.0.1:8080, this "
                                         "machine only; 0.0.0.0:8080 reaches the home network, with pairing)")
    run.set_defaults(func=cmd_run)


def _web_options(group: argparse._ActionsContainer, default: str | None, help_text: str) -> None:
    """--web [HOST:]PORT and the TLS files, for `run` and `web`."""
    group.add_argument("--web", metavar="[HOST:]PORT", default=default, help=help_text)
    group.add_argument("--web-cert", type=_named, metavar="FILE.pem", help="serve the page over HTTPS with this "
                                                                           "certificate (with --web-key)")
    group.add_argument("--web-key", type=_named, metavar="FILE.pem", help="the certificate's private key")


def _add_web(commands: argparse._SubParsersAction, common: argparse.ArgumentParser,
             with_model: argparse.ArgumentParser) -> None:
    """`web`: the caregiver's page without a camera."""
    web = commands.add_parser("web", parents=[common, with_model], help="serve the caregiver's page without a camera",
                              description="Serve the caregiver's page (the profile editor and the photo try-out) "
                                          "without a camera, until Ctrl-C.")
    _web_options(web, default=DEFAULT_ADDRESS,
                 help_text=f"where to serve it (default {DEFAULT_ADDRESS}, this machine only; 0.0.0.0:8080 "
                           "reaches the home network, with pairing)")
    web.set_defaults(func=cmd_web)


def _add_describe(commands: argparse._SubParsersAction, common: argparse.ArgumentParser,
                  with_model: argparse.ArgumentParser) -> None:
    """`describe`: images, JSON output and the still debug view."""
    describe = commands.add_parser(
        "describe", parents=[common, with_model], help="say what is in images",
        description="Say at once what is in each image, as the assistant would, then one line per object: "
                    "class, score, direction, clock face and distance. A folder means every image in it.")
    describe.add_argument("images", nargs="+", metavar="IMAGE|DIR")
    describe.add_argument("--json", action="store_true", help="one JSON object per image (JSON Lines)")
    describe.add_argument("--debug-out", type=_named, metavar="PATH",
                          help="draw the debug view: a .png file for one image, else a folder of PNGs")
    describe.add_argument("--threshold", type=_unit, metavar="SCORE",
                          help="with --debug-out, draw boxes scored at least this (default: each class's speaking "
                               "threshold (its min_score or the model's calibration), so every spoken object has its box)")
    describe.add_argument("--candidates", type=_unit, default=0.1, metavar="SCORE",
                          help="with --debug-out, the lowest score in the heatmap (0.1)")
    describe.set_defaults(func=cmd_describe)


def _add_profiles(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`profiles list|show|classes|check`."""
    profiles = commands.add_parser("profiles", help="list, show or check caregiver profiles")
    actions = profiles.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="shipped profiles and what each is for")
    listing.set_defaults(func=cmd_profiles_list)
    show = actions.add_parser("show", parents=[common], help="print a profile after 'extends' is applied")
    show.add_argument("name", type=_named, metavar="NAME|PATH")
    show.set_defaults(func=cmd_profiles_show)
    classes = actions.add_parser("classes", parents=[common],
                                 help="the class names the model knows, with the other names accepted for them")
    _model_option(classes, "this model's classes (default: the best present)")
    classes.add_argument("--language", default="en", metavar="CODE",
                         help="also list the words a profile may use for each class in this language (default: en)")
    classes.set_defaults(func=cmd_profiles_classes)
    check = actions.add_parser("check", parents=[common], help="validate profile files; exit 0 if all are valid")
    check.add_argument("files", type=_named, nargs="+", metavar="FILE")
    _model_option(check, "check class names against this model's labels")
    check.set_defaults(func=cmd_profiles_check)


def _add_dataset(commands: argparse._SubParsersAction, common: argparse.ArgumentParser,
                 with_model: argparse.ArgumentParser) -> None:
    """`dataset find|plot|eval` on one labelled set, and `dataset calibrate` on several."""
    labelled = argparse.ArgumentParser(add_help=False)  # one labelled set, as find, plot and eval take it
    where = labelled.add_mutually_exclusive_group(required=True)
    where.add_argument("--coco", type=_named, metavar="ANN.json", help="a COCO instances file (with --images)")
    where.add_argument("--voc", type=_named, metavar="DIR", help="a Pascal VOC folder holding Annotations/ and JPEGImages/")
    labelled.add_argument("--images", type=_named, metavar="DIR", help="the folder of the COCO file's images")
    data = commands.add_parser("dataset", help="find, draw and evaluate on labelled sets (COCO or Pascal VOC)")
    actions = data.add_subparsers(dest="action", required=True)
    find = actions.add_parser("find", parents=[common, labelled], help="images that show the given classes")
    find.add_argument("--classes", required=True, metavar="A,B", help="comma-separated COCO class names")
    find.add_argument("--all", action="store_true", help="only images with every class (default: any)")
    find.add_argument("--json", action="store_true", help='one JSON object: {"images": [...], "total": n}')
    find.set_defaults(func=cmd_dataset_find)
    plot = actions.add_parser("plot", parents=[common, labelled],
                              help="draw predicted and ground-truth boxes on the images with the classes")
    plot.add_argument("--classes", metavar="A,B", help="comma-separated COCO class names (default: all)")
    plot.add_argument("--threshold", type=_unit, default=0.5, metavar="SCORE", help="lowest predicted score (0.5)")
    plot.add_argument("--out", type=_named, required=True, metavar="DIR", help="folder for the PNGs")
    _model_option(plot, "a model name or .tflite file")
    plot.set_defaults(func=cmd_dataset_plot)
    evaluate = actions.add_parser("eval", parents=[common, labelled, with_model],
                                  help="COCO mAP, per class and size, overlap recall, and what would be said")
    evaluate.add_argument("--json", action="store_true", help="one JSON object with every figure")
    evaluate.add_argument("--min-score", type=_unit, default=EVAL_MIN_SCORE, metavar="SCORE",
                          help="lowest candidate score scored for mAP (0.05, as COCO evaluation expects)")
    evaluate.add_argument("--report", type=_named, metavar="OUT_DIR", help="write report.md, metrics.json and plots there")
    evaluate.set_defaults(func=cmd_dataset_eval)
    _add_dataset_calibrate(actions, common)


def _add_dataset_calibrate(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`dataset calibrate`: any number of VOC folders and COCO files, folds and evidence."""
    calibrate = actions.add_parser(
        "calibrate", parents=[common], help="measure a model's speaking thresholds on labelled sets and save them")
    _model_option(calibrate, "the model to calibrate (default: the best present)")
    calibrate.add_argument("--voc", type=_named, action="append", metavar="DIR", help="a Pascal VOC folder (repeatable)")
    calibrate.add_argument("--coco", type=_named, action="append", metavar="ANN.json", help="a COCO instances file (repeatable)")
    calibrate.add_argument("--images", type=_named, action="append", metavar="DIR", help="the images of each --coco, in order")
    calibrate.add_argument("--folds", type=int, default=5, choices=range(2, 21), metavar="K", help="folds by image (5)")
    calibrate.add_argument("--min-images", type=int, default=20, metavar="N",
                           help="images of evidence a class needs before it may leave the global threshold (20)")
    calibrate.add_argument("--out", type=_named, metavar="FILE", help="where to write (default: beside the model, else the user cache)")
    calibrate.add_argument("--json", action="store_true", help="print the calibration as one JSON object")
    calibrate.set_defaults(func=cmd_dataset_calibrate)


def _add_train(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`train`: labelled sets in, an installed model out."""
    from .training.job import ARCHITECTURES

    train = commands.add_parser(
        "train", parents=[common], help="teach the detector new objects from labelled photos (MediaPipe Model Maker)",
        description="Fine-tunes an SSD MobileNet detector on labelled photos, then evaluates, calibrates and "
                    "installs it in your model folder. The first run makes the training environment (about 3.3 GB).")
    data = train.add_argument_group("the labelled photos (any number of each, merged)")
    data.add_argument("--voc", type=_named, action="append", default=[], metavar="DIR",
                      help="a Pascal VOC folder (Annotations/, JPEGImages/)")
    data.add_argument("--coco", type=_named, action="append", default=[], metavar="ANN.json",
                      help="a COCO instances file (with --images)")
    data.add_argument("--images", type=_named, action="append", default=[], metavar="DIR",
                      help="the images of each --coco, in order")
    data.add_argument("--yolo", type=_named, action="append", default=[], metavar="DIR",
                      help="a YOLO folder (data.yaml, or classes.txt with images/ and labels/)")
    data.add_argument("--classes", metavar="SPEC",
                      help="the classes to learn, renamed with old=new: 'door,stair=stairs' (default: every class)")
    data.add_argument("--keep", metavar="A,B", help="COCO classes the model should still know, such as person,car, "
                                                    "taken from --keep-coco")
    data.add_argument("--keep-coco", type=_named, metavar="ANN.json", help="the COCO file to take --keep images from")
    data.add_argument("--keep-images", type=_named, metavar="DIR", help="the folder of --keep-coco's images")
    data.add_argument("--validation", type=_share, default=0.2, metavar="FRACTION",
                      help="the share of photos kept out of training to check it (0.2)")
    data.add_argument("--seed", type=int, default=0, help="the split's and training's seed (0)")
    model = train.add_argument_group("the model")
    model.add_argument("--name", type=_named, metavar="NAME", help="the name to install it under (required)")
    model.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="mobilenet_v2_i256",
                       help="mobilenet_v2_i256 (default, fastest), mobilenet_v2_i320 (finer detail), "
                            "mobilenet_multi_avg_i256")
    model.add_argument("--epochs", type=_count, default=30, metavar="N", help="passes over the photos (30)")
    model.add_argument("--batch-size", type=_count, default=8, metavar="N", help="photos per step (8)")
    model.add_argument("--learning-rate", type=_positive, default=0.3, metavar="RATE", help="(0.3, for a batch of 256)")
    model.add_argument("--qat-epochs", type=_count, default=10, metavar="N",
                       help="quantization-aware training epochs for int8 (10)")
    model.add_argument("--export", default="float16", metavar="FORMATS",
                       help=f"{', '.join(FORMATS)}, comma-separated; the first is installed as NAME, others as "
                            "NAME-FORMAT (float16)")
    model.add_argument("--weights", type=_named, metavar="DIR",
                       help="the pretrained checkpoint's folder, for a machine without internet "
                            "(or set $ASSISTANT_TRAIN_WEIGHTS)")
    model.add_argument("--folds", type=int, default=5, choices=range(2, 21), metavar="K",
                       help="calibration folds on the validation split (5)")
    model.add_argument("--replace", action="store_true", help="replace an installed model of the same name")
    train.add_argument("--setup", action="store_true", help="only make the training environment, then stop")
    train.set_defaults(func=cmd_train)


def _add_models(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`models list|fetch|remove`."""
    model_cmd = commands.add_parser("models", help="list, download or remove detection models")
    actions = model_cmd.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="show known models and whether each is present")
    listing.set_defaults(func=cmd_models_list)
    fetch = actions.add_parser("fetch", parents=[common], help="download and verify a model")
    fetch.add_argument("name", type=_named, nargs="?", help="model name (default: the default model)")
    fetch.set_defaults(func=cmd_models_fetch)
    remove = actions.add_parser("remove", parents=[common], help="remove a trained model from your model folder")
    remove.add_argument("name", type=_named, help="the trained model's name (see 'assistant models list')")
    remove.set_defaults(func=cmd_models_remove)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command `argv` (default: the process's arguments) in this process, and return its
    exit code; the signal handlers, environment and standard output are as they were afterwards."""
    with RunContext() as context:
        return run_command(argv, context)


def run_command(argv: Sequence[str] | None, context: RunContext) -> int:
    """Run the command `argv` within `context`, which the caller restores; return its exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0), or a usage error argparse has already printed (2)
        return int(exc.code or EXIT_OK)
    if not args.verbose:  # OpenCV and FFmpeg log to stderr; our own sentence says what went wrong
        context.set_default_env("OPENCV_LOG_LEVEL", "SILENT")
        context.set_default_env("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        return args.func(args, context)
    except AssistantError as exc:
        report(exc, args.verbose)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing left to say to it
        context.stdout.close()
        return EXIT_OK
    except Exception as exc:
        stop = stopped_by(exc)
        if stop is not None:  # a signal landed inside native code, which wrapped it (an import's "initialization failed")
            return EXIT_INTERRUPTED if isinstance(stop, KeyboardInterrupt) else EXIT_OK
        report(exc, args.verbose, prefix="unexpected failure (run with --verbose for details): ")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
