"""The `assistant` command: the only place that prints for people and chooses exit codes."""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import calibration, models, outputs
from .backend_factory import make_backend
from .cli_checks import (
    check_run_numbers,
    check_run_outputs,
    model_inputs,
    require_voice,
)
from .controls import KEY_HELP, VIEW_KEY_HELP
from .datasets import EVAL_MAX_RESULTS, EVAL_MIN_SCORE
from .errors import AssistantError
from .profile import Profile
from .profile_files import (
    ProfileProblems,
    load_profile,
    profile_path,
    shipped_profiles,
)
from .rules import Rules, load_rules
from .run_context import RunContext
from .shown import shown
from .signals import EXIT_INTERRUPTED, EXIT_OK, stop_signals
from .speech import Speaker
from .speech_engines import NONE, PRINT, SPEECH_CHOICES, speech_spec

if TYPE_CHECKING:
    from .pipeline import RunStats

EXIT_FAILURE, EXIT_BAD_INPUT = 1, 2


def _report(exc: BaseException, verbose: bool, prefix: str = "") -> None:
    """One sentence on stderr; the traceback too with --verbose."""
    print(f"error: {shown(prefix + str(exc), lines=isinstance(exc, ProfileProblems))}", file=sys.stderr, flush=True)
    if verbose:
        traceback.print_exception(exc)


def _warn(message: str) -> None:
    print(f"warning: {shown(message)}", file=sys.stderr, flush=True)


def _load(profile_spec: str | None, model_spec: str | None) -> tuple[Rules, Path, tuple[str, ...]]:
    """The validated profile's rules under the model's calibration, a verified model, and the model's
    labels, which include every profile class."""
    model_path = models.resolve(model_spec)
    labels = models.labels(model_path)
    try:
        rules = load_rules(profile_spec, labels, note=_note, calibration=calibration.for_model(model_path))
        return rules, model_path, labels
    except ProfileProblems:
        _require_detector(model_path)  # a model of another kind makes every class look unknown
        raise


def _require_detector(model_path: Path) -> None:
    """ModelError, in one sentence, if MediaPipe cannot run the model as an object detector."""
    from .detector import Detector
    from .errors import ModelError

    try:
        Detector(model_path, video=False).close()
    except ModelError:
        raise ModelError(f"{model_path} is not an object detector (MediaPipe cannot run it as one); pass --model "
                         "with a detection model, such as one from 'assistant models list'.") from None


def _speech_spec(args: argparse.Namespace, profile: Profile) -> str:
    """--speech, else what the profile's voice engine stands for."""
    return args.speech or speech_spec(profile.voice.engine)


def cmd_run(args: argparse.Namespace, context: RunContext) -> int:
    from .capture import FFMPEG_OPTIONS, FFMPEG_OPTIONS_ENV
    from .controls import TerminalKeys
    from .detector import mediapipe_detectors
    from .pipeline import RunOptions, run, voice_settings
    from .reload import ProfileWatcher
    from .sources import is_url, open_source
    from .transcript import Transcript

    check_run_numbers(args)
    rules, model_path, labels = _load(args.profile, args.model)
    profile = rules.profile
    speech = _speech_spec(args, profile)
    check_run_outputs(args, model_path, speech)
    settings = voice_settings(profile)
    require_voice(speech, settings)
    speech_notes = [calibration.in_use(rules.calibration, model_path)]  # said once the inputs are checked
    backend = make_backend(speech, settings, speech_notes.append, warn=_warn, stdout=context.stdout)
    watcher = ProfileWatcher(profile_path(args.profile), labels, calibration=rules.calibration, warn=_warn)
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    context.handle_signals((signal.SIGINT, *stop_signals()), on_signal)
    if is_url(args.source or ""):
        context.set_default_env(FFMPEG_OPTIONS_ENV, FFMPEG_OPTIONS)
    commands: queue.SimpleQueue = queue.SimpleQueue()
    viewing = args.debug or args.record or args.snapshots
    with open_source(args.source, realtime=args.realtime, stop=stop, note=_note, warn=_warn,
                     threads=context.captures) as source:
        viewer = _viewer(args, commands) if viewing else None
        transcript = Transcript(Path(args.transcript), _warn) if args.transcript else None
        for message in speech_notes:
            _note(message)
        speaker = Speaker(backend, settings=settings, on_spoken=transcript.write if transcript else None,
                          warn=_warn, max_age_s=profile.freshness_s, on_output_closed=stop.set,
                          stdout=context.stdout)
        speaker.wait_ready()  # its warning must print before the detector briefly silences native stderr
        show = (lambda report: viewer.show(report, speaker.queued, speaker.last_spoken)) if viewer else None
        options = RunOptions(max_frames=args.max_frames, stop=stop, watcher=watcher,
                             on_profile_error=lambda e: _report(e, args.verbose), commands=commands,
                             on_frame=show, candidates=args.candidates if viewer else None, give_up_s=args.give_up_s,
                             max_fps=args.max_fps)
        try:
            with TerminalKeys(commands.put):
                stats = run(source, mediapipe_detectors(model_path), rules, speaker, options)
        finally:
            if viewer:
                viewer.close()
            speaker.close(drain=not stop.is_set())
            if transcript:
                transcript.close()
    _note(_summary(stats, speaker, speech))
    return EXIT_INTERRUPTED if signal.SIGINT in received else EXIT_OK


def _note(message: str) -> None:
    print(shown(message), file=sys.stderr, flush=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _summary(stats: RunStats, speaker: Speaker, speech: str) -> str:
    """The run's last line: frames, what became of the sentences, and how fresh the frames were."""
    said = ("printed" if speech == PRINT or speaker.printing
            else f"decided, none voiced (--speech {NONE})" if speech == NONE else "spoken")
    cap = f", capped at {stats.max_fps:g}" if stats.max_fps is not None else ""
    parts = [f"{_count(stats.frames, 'frame')} in {stats.seconds:.1f} s ({stats.fps:.1f} fps{cap})",
             f"{_count(speaker.spoken, 'sentence')} {said}", f"{speaker.dropped} dropped as stale"]
    if speaker.unheard:
        parts.append(f"{speaker.unheard} not printed (output closed)")
    if stats.skipped:
        parts.append(f"{_count(stats.skipped, 'unreadable image')} skipped")
    if stats.age_ms_p50 is not None:
        parts.append(f"frame age p50 {stats.age_ms_p50:.0f} ms, p95 {stats.age_ms_p95:.0f} ms")
    parts.append(f"{_count(stats.dropped, 'frame')} dropped")
    if stats.capped:
        parts.append(f"{_count(stats.capped, 'frame')} left out by the cap")
    if stats.camera_lost:
        parts.append(f"camera lost {_count(stats.camera_lost, 'time')}")
    if stats.reloads:
        parts.append(f"profile reloaded {_count(stats.reloads, 'time')}")
    return ", ".join(parts) + "."


def _viewer(args: argparse.Namespace, commands: queue.SimpleQueue):
    """The debug view's outputs from the run options; one sentence if there is nowhere to show it."""
    from .viewer import Viewer, has_display

    if args.snapshot_every < 1:
        raise AssistantError("--snapshot-every must be 1 or more frames.")
    return Viewer(
        window=bool(args.debug) and has_display(),
        record=Path(args.record) if args.record else None,
        snapshots=Path(args.snapshots) if args.snapshots else None,
        snapshot_every=args.snapshot_every,
        heatmap=True,
        boxes=not args.heatmap_only,
        half_life_s=args.half_life,
        commands=commands,
        warn=_warn,
    )


def cmd_describe(args: argparse.Namespace, context: RunContext) -> int:
    from .imaging import cut_off_warning, images_in
    from .pipeline import detector_for
    from .speaking import score_text
    from .stills import describe_image
    from .wording import distance_label

    rules, model_path, _ = _load(args.profile, args.model)
    failed = 0
    images = [image for spec in args.images for image in images_in(spec)]
    several = len(images) > 1
    debug_out = Path(args.debug_out) if args.debug_out else None
    if debug_out is not None and several and debug_out.suffix.lower() == ".png":
        raise AssistantError(f"With several images, --debug-out must be a folder, not {debug_out}.")
    candidates = min(args.candidates, args.threshold or 1.0) if debug_out else None
    if debug_out is not None:
        outputs.check([*model_inputs(args.profile, model_path), *images],
                      [outputs.Target(f"--debug-out (for {image})", _still_view_path(image, debug_out, several))
                       for image in images])
    unsaid = [calibration.in_use(rules.calibration, model_path)]  # said once an image is described
    with detector_for(model_path, rules, video=False, candidates=candidates) as detector:
        for image in images:
            try:
                result = describe_image(image, detector, rules)
                while unsaid:
                    _note(unsaid.pop())
                warning = cut_off_warning(image)
                if warning:
                    _warn(warning)
                if debug_out is not None:
                    _draw_still(result, rules, args.threshold, debug_out, several=several)
            except AssistantError as exc:
                _report(exc, args.verbose)
                failed += 1
                continue
            if args.json:
                print(json.dumps(result.to_json()), flush=True)
            else:
                print(shown(f"{image}: {result.utterance.text}"))
                for s in result.utterance.objects:
                    print(f"  {s.detection.label} {score_text(s.detection.score)} {s.position.direction} "
                          f"({s.position.clock} o'clock) {distance_label(s.position) or 'distance unknown'}")
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _still_view_path(image: Path, out: Path, several: bool) -> Path:
    return out / f"{image.stem}.png" if several or out.is_dir() else out


def _draw_still(result, rules: Rules, threshold: float | None, out: Path, several: bool) -> None:
    """Write one image's debug view: to `out` itself, or into the folder `out` when there are several."""
    from .viewer import still_view, write_png

    path = _still_view_path(result.path, out, several)
    view = still_view(result.image, result.detections, result.fates, rules, threshold, result.scene,
                      result.detect_ms)
    write_png(path, view)


def _dataset(args: argparse.Namespace):
    """The labelled set named by --coco/--images or --voc."""
    if args.coco and not args.images:
        raise AssistantError("--coco needs --images DIR, the folder its file names are in.")
    return _read_set(voc=args.voc, coco=args.coco, images=args.images)


def _read_set(voc: str | None = None, coco: str | None = None, images: str | None = None):
    """One labelled set, VOC or COCO; each missing image and the count of bad boxes are warned about once."""
    from .datasets.readers import read_coco, read_voc

    dataset = read_coco(Path(coco), Path(images)) if coco else read_voc(Path(voc))
    for path in dataset.missing:
        _warn(f"{path} is listed but missing; skipped.")
    if dataset.invalid_boxes:
        n = dataset.invalid_boxes
        _warn(f"{n} {'box is' if n == 1 else 'boxes are'} not numbers, of no size or wholly outside their image; "
              "left out of scoring.")
    return dataset


def _dataset_files(dataset, coco: str | None = None, voc: str | None = None) -> list[Path]:
    """The files a labelled set is read from: its annotations and its images."""
    labels = [Path(coco)] if coco else list((Path(voc) / "Annotations").glob("*.xml"))
    return [*labels, *(image.path for image in dataset.images)]


def _class_list(text: str | None, dataset) -> list[str]:
    from .datasets.find import check_classes

    return check_classes([c.strip() for c in text.split(",") if c.strip()], dataset) if text else []


def cmd_dataset_find(args: argparse.Namespace, context: RunContext) -> int:
    from .datasets.find import find_images_with_classes

    dataset = _dataset(args)
    found = find_images_with_classes(dataset, _class_list(args.classes, dataset), every=args.all)
    if args.json:
        print(json.dumps({"images": [{"image": str(f.image.path), "counts": f.counts} for f in found],
                          "total": len(found), "skipped": len(dataset.missing)}))
    else:
        for f in found:
            print(f"{f.image.path}: " + ", ".join(f"{n} {c}" for c, n in f.counts.items()))
        print(f"{len(found)} of {len(dataset.images)} images"
              + (f" ({len(dataset.missing)} missing, skipped)" if dataset.missing else ""), file=sys.stderr)
    return EXIT_OK


def _progress(items, what: str):
    from tqdm import tqdm

    return tqdm(items, desc=what, unit="image", file=sys.stderr, leave=False)


def cmd_dataset_plot(args: argparse.Namespace, context: RunContext) -> int:
    from .core import Frame
    from .datasets.find import find_images_with_classes
    from .detector import Detector
    from .imaging import read_image
    from .viewer import truth_and_prediction_view, write_png

    dataset = _dataset(args)
    classes = _class_list(args.classes, dataset) or sorted(dataset.labels)
    model_path = models.resolve(args.model)
    out = Path(args.out)
    images = [f.image for f in find_images_with_classes(dataset, classes)]
    outputs.check([model_path, *_dataset_files(dataset, args.coco, args.voc)],
                  [outputs.Target(f"--out (for {image.path})", out / f"{image.path.stem}.png") for image in images])
    with Detector(model_path, video=False, score_threshold=args.threshold, max_results=100, labels=classes) as detector:
        for image in _progress(images, "plotting"):
            frame = Frame(read_image(image.path), 0, 0, still=True, name=str(image.path))
            view = truth_and_prediction_view(frame.image, [t for t in image.truths if t.label in classes],
                                             detector.detect(frame))
            write_png(out / f"{image.path.stem}.png", view)
    print(f"{len(images)} images drawn in {out}", file=sys.stderr)
    return EXIT_OK


def cmd_dataset_eval(args: argparse.Namespace, context: RunContext) -> int:
    from .datasets import evaluation, report
    from .detector import Detector

    dataset = _dataset(args)
    rules, model_path, _ = _load(args.profile, args.model)
    if args.report:
        outputs.check([*model_inputs(args.profile, model_path), *_dataset_files(dataset, args.coco, args.voc)],
                      [outputs.Target("--report", Path(args.report), outputs.REPORT_NAMES)])
    with Detector(model_path, video=False, score_threshold=args.min_score,
                  max_results=EVAL_MAX_RESULTS) as detector:
        predicted = evaluation.predict(dataset, detector.detect, lambda items: _progress(items, "evaluating"))
    result = evaluation.evaluate(dataset, predicted, rules)
    metrics = {**result.metrics, "model": model_path.name}
    if args.report:
        report.write(Path(args.report), metrics, result.evaluator, dataset.categories, result.ground_truth,
                     result.detections, dataset.name)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(report.markdown(metrics, dataset.name), end="")
    return EXIT_OK


def cmd_dataset_calibrate(args: argparse.Namespace, context: RunContext) -> int:
    from .datasets import calibrate, evaluation
    from .detector import Detector

    if len(args.coco or []) != len(args.images or []):
        raise AssistantError("Give one --images DIR for each --coco file, in the same order.")
    if not args.coco and not args.voc:
        raise AssistantError("Give at least one labelled set: --voc DIR, or --coco ANN.json with --images DIR.")
    model_path = models.resolve(args.model)
    labels = models.labels(model_path)
    sets = [(_read_set(voc=v), None, v) for v in args.voc or []]
    sets += [(_read_set(coco=a, images=i), a, None) for a, i in zip(args.coco or [], args.images or [])]
    datasets = [dataset for dataset, _, _ in sets]
    out = Path(args.out) if args.out else None
    if out is not None:
        outputs.check([model_path, *[f for dataset, coco, voc in sets for f in _dataset_files(dataset, coco, voc)]],
                      [outputs.Target("--out", out)])
    calibrate.check_sets(datasets, labels, args.folds)
    records: dict[str, list] = {}
    with Detector(model_path, video=False, score_threshold=calibrate.GRID[0], max_results=EVAL_MAX_RESULTS) as detector:
        for dataset in datasets:
            predicted = evaluation.predict(dataset, detector.detect, lambda items: _progress(items, dataset.name))
            name = dataset.name if dataset.name not in records else f"{dataset.name}-{len(records)}"
            records[name] = calibrate.judge(predicted, dataset.categories, f"{name}:", labels)
    selection, report = calibrate.calibrate(records, args.folds, args.min_images)
    result = calibration.Calibration(models.sha256_of(model_path), labels, selection.default,
                                     selection.thresholds, report)
    written = calibration.write(result, model_path, out)
    if args.json:
        print(json.dumps({"file": str(written), **result.to_json()}))
        return EXIT_OK
    cv = report["cross_validated"]
    moved = ", ".join(f"{c} {t}" for c, t in sorted(selection.thresholds.items())) or "none had the evidence"
    print(f"Every class: {selection.default}. Classes moved: {moved}.")
    print(report["kept_plain"] or calibrate.evidence_line(selection))
    for number, fold in enumerate(report["folds"], 1):
        print(f"Fold {number} ({fold['images']} images, chosen without them: {fold['default']}"
              f"{', ' + ', '.join(f'{c} {t}' for c, t in fold['moved'].items()) if fold['moved'] else ''}): precision "
              f"{fold['chosen']['precision']}, large recall {fold['chosen']['large_recall']}; a plain 0.5: "
              f"{fold['plain_0.5']['precision']}, {fold['plain_0.5']['large_recall']}.")
    print(f"Cross-validated ({args.folds} folds by image): precision {cv['chosen']['precision']}, large recall "
          f"{cv['chosen']['large_recall']}; a plain 0.5: {cv['plain_0.5']['precision']}, "
          f"{cv['plain_0.5']['large_recall']}.")
    for name, check in report["held_out_sets"].items():
        print(f"{name}, chosen without it: precision {check['chosen']['precision']}, large recall "
              f"{check['chosen']['large_recall']}; a plain 0.5: {check['plain_0.5']['precision']}, "
              f"{check['plain_0.5']['large_recall']}.")
    print(f"Written to {written}")
    return EXIT_OK


def cmd_profiles_list(args: argparse.Namespace, context: RunContext) -> int:
    for path in shipped_profiles():
        try:
            profile = load_profile(str(path))
            print(f"{profile.name}: {profile.description}")
        except ProfileProblems:
            print(f"{path.stem}: (invalid; run 'assistant profiles check {path}')")
    return EXIT_OK


def cmd_profiles_show(args: argparse.Namespace, context: RunContext) -> int:
    import yaml

    profile = load_profile(args.name)
    print(yaml.safe_dump(profile.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


def cmd_profiles_check(args: argparse.Namespace, context: RunContext) -> int:
    model_path = models.resolve(args.model)
    labels = models.labels(model_path)
    failed = 0
    for spec in args.files:
        try:
            profile = load_profile(spec, labels, note=lambda message: print(f"note: {shown(message)}"))
        except ProfileProblems as exc:
            _require_detector(model_path)
            failed += 1
            print(shown(str(exc), lines=True), file=sys.stderr)
            continue
        print(shown(f"{spec}: ok ({profile.name}, {len(profile.objects)} classes)"))
    return EXIT_BAD_INPUT if failed else EXIT_OK


def cmd_profiles_classes(args: argparse.Namespace, context: RunContext) -> int:
    from . import language

    if args.language not in language.available():
        raise AssistantError(f"There is no language {args.language!r}; there are: {', '.join(language.available())}.")
    also = {label: [w for w in dict.fromkeys((noun.form("one"), *noun.words)) if w != label]
            for label, noun in language.load(args.language).nouns.items()}
    for label in sorted(set(models.labels(models.resolve(args.model))) - {"???", ""}):
        print(label + (f" (also: {', '.join(also[label])})" if also.get(label) else ""))
    return EXIT_OK


def cmd_models_list(args: argparse.Namespace, context: RunContext) -> int:
    for entry in models.status():
        state = "verified" if entry.verified else ("CHECKSUM MISMATCH" if entry.path else "not present")
        where = f" at {entry.path}" if entry.path else ""
        kind = "official" if entry.info.official else "local"
        print(f"{entry.info.name} ({kind}, {entry.info.size / 1e6:.1f} MB): {state}{where}")
        print(f"    {entry.info.description}")
        if entry.verified:
            print(f"    {_calibration_state(entry.path)}")
    print(f"Searched: {', '.join(str(d) for d in models.search_dirs())} (set ${models.MODEL_DIR_ENV} to add one).")
    return EXIT_OK


def _calibration_state(model_path: Path) -> str:
    """One line on a model's speaking thresholds: calibrated (and where), not calibrated, or refused."""
    path = calibration.find(model_path)
    if path is None:
        return f"not calibrated: every class is spoken at {calibration.UNCALIBRATED} (see 'assistant dataset calibrate')"
    try:
        found = calibration.load(path, model_path)
    except calibration.CalibrationError as exc:
        return f"calibration refused: {exc}"
    return f"calibrated ({path}): {found.summary()}"


def cmd_models_fetch(args: argparse.Namespace, context: RunContext) -> int:
    info = models.info_by_name(args.name or models.load_manifest()[1])
    present = models.find_local(info)
    if present is not None:
        models.verify(present, info)
        print(f"{info.name}: already present and verified at {present}")
        return EXIT_OK
    path = models.fetch(info)
    print(f"{info.name}: verified at {path}")
    return EXIT_OK


def _named(text: str) -> str:
    """An argparse type: a file, folder or name, never empty (an empty path means the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a file, a folder or a name")
    return text


def _unit(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
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
    _add_describe(commands, common, with_model)
    _add_profiles(commands, common)
    _add_dataset(commands, common, with_model)
    _add_models(commands, common)
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
    run.set_defaults(func=cmd_run)


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


def _add_models(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`models list|fetch`."""
    model_cmd = commands.add_parser("models", help="list or download detection models")
    actions = model_cmd.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="show known models and whether each is present")
    listing.set_defaults(func=cmd_models_list)
    fetch = actions.add_parser("fetch", parents=[common], help="download and verify a model")
    fetch.add_argument("name", type=_named, nargs="?", help="model name (default: the default model)")
    fetch.set_defaults(func=cmd_models_fetch)


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
        _report(exc, args.verbose)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing left to say to it
        context.stdout.close()
        return EXIT_OK
    except Exception as exc:
        _report(exc, args.verbose, prefix="unexpected failure (run with --verbose for details): ")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
