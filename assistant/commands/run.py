"""`assistant run`: speak what the camera or a file shows, until it ends or is stopped, then one
summary line."""

from __future__ import annotations

import argparse
import queue
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..config import calibration
from ..config.profile import Profile
from ..config.profile_files import profile_path
from ..errors import AssistantError
from ..process.run_context import RunContext
from ..speech.engine_names import NONE, PRINT, speech_spec
from ..speech.factory import make_backend
from ..speech.speaker import Speaker
from .checks import check_run_numbers, check_run_outputs, require_voice
from .common import StopSignals, load, note, report, warn

if TYPE_CHECKING:
    from ..config.rules import Rules
    from ..runtime.loop import RunStats
    from ..web.context import WebContext
    from ..web.live import LiveFeed

T = TypeVar("T")


def _speech_spec(args: argparse.Namespace, profile: Profile) -> str:
    """--speech, else what the profile's voice engine stands for."""
    return args.speech or speech_spec(profile.voice.engine)


def cmd_run(args: argparse.Namespace, context: RunContext) -> int:
    from ..runtime.controls import TerminalKeys
    from ..runtime.loop import RunOptions, run, voice_settings
    from ..runtime.reload import ProfileWatcher
    from ..runtime.transcript import Transcript
    from ..sources.capture import FFMPEG_OPTIONS, FFMPEG_OPTIONS_ENV
    from ..sources.source import is_url, open_source
    from ..vision.detector import mediapipe_detectors
    from .web import check_web, say_through, web_page

    check_run_numbers(args)
    check_web(args)
    rules, model_path, labels = load(args.profile, args.model)
    profile = rules.profile
    speech = _speech_spec(args, profile)
    check_run_outputs(args, model_path, speech)
    settings = voice_settings(profile)
    require_voice(speech, settings)
    speech_notes = [calibration.in_use(rules.calibration, model_path)]  # said once the inputs are checked
    watcher = ProfileWatcher(profile_path(args.profile), labels, calibration=rules.calibration, warn=warn)
    signals = StopSignals(context)
    stop = signals.stop
    if is_url(args.source or ""):
        context.set_default_env(FFMPEG_OPTIONS_ENV, FFMPEG_OPTIONS)
    commands: queue.SimpleQueue = queue.SimpleQueue()
    viewing = args.debug or args.record or args.snapshots
    with open_source(args.source, realtime=args.realtime, stop=stop, note=note, warn=warn,
                     threads=context.captures) as source:
        backend = make_backend(speech, settings, speech_notes.append, warn=warn, stdout=context.stdout,
                               paced=not source.one_at_a_time)
        viewer = _viewer(args, commands) if viewing else None
        transcript = Transcript(Path(args.transcript), warn) if args.transcript else None
        for message in speech_notes:
            note(message)
        feed, ctx = _live(args, rules, model_path, labels, commands, live=source.live, queued=lambda: speaker.queued)
        speaker = Speaker(backend, settings=settings, on_spoken=_chain(feed and feed.heard,
                                                                       transcript and transcript.write),
                          warn=warn, max_age_s=profile.freshness_s, on_output_closed=stop.set,
                          stdout=context.stdout)
        speaker.wait_ready()  # its warning must print before the detector briefly silences native stderr
        show = (lambda report: viewer.show(report, speaker.queued, speaker.last_spoken)) if viewer else None
        options = RunOptions(max_frames=args.max_frames, stop=stop, watcher=watcher,
                             on_profile_error=lambda e: report(e, args.verbose), commands=commands,
                             on_frame=_chain(feed and feed.observe, show),
                             candidates=args.candidates if viewer or feed else None, give_up_s=args.give_up_s,
                             max_fps=args.max_fps)
        try:
            with web_page(args, ctx, say_through(speaker, profile.language)), TerminalKeys(commands.put):
                stats = run(source, mediapipe_detectors(model_path), rules, speaker, options)
        finally:
            if viewer:
                viewer.close()
            speaker.close(drain=not stop.is_set())
            if transcript:
                transcript.close()
    note(_summary(stats, speaker, speech))
    return signals.exit_code



def _live(args: argparse.Namespace, rules: Rules, model_path: Path, labels: tuple[str, ...],
          commands: queue.SimpleQueue, *, live: bool,
          queued: Callable[[], int]) -> tuple[LiveFeed | None, WebContext | None]:
    """With --web: the feed the page reads the run from (`live`: the source is a camera or stream;
    `queued`: the sentences waiting to be said), and the page's context; else (None, None)."""
    if not getattr(args, "web", None):
        return None, None
    from ..web.context import WebContext
    from ..web.live import LiveFeed, calibration_line

    feed = LiveFeed(rules, model_path.name, calibration_line(rules.calibration), live=live,
                    queued=queued)
    return feed, WebContext(args.profile, model_path, labels, rules.calibration, live=feed, commands=commands)


def _chain(*calls: Callable[[T], None] | None) -> Callable[[T], None] | None:
    """One callback calling each given one in order; None if none is given."""
    given = [call for call in calls if call]
    if len(given) <= 1:
        return given[0] if given else None

    def each(value: T) -> None:
        for call in given:
            call(value)
    return each


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
    from ..view.viewer import Viewer, has_display

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
        warn=warn,
    )
