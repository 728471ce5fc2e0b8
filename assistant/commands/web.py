"""`assistant web`, and `--web` for `assistant run`: the caregiver's page, served until the command
ends. Beyond loopback the page asks for a pairing code, which the assistant says aloud."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..config.profile import Profile
from ..core import REQUESTED, Utterance
from ..errors import AssistantError
from ..process.run_context import RunContext
from ..speech.engine_names import AUTO, ESPEAK, PYTTSX3, SOUND, speech_spec
from ..speech.speaker import Speaker
from .common import StopSignals, load, note, warn

if TYPE_CHECKING:
    from ..web.context import WebContext
    from ..web.server import WebServer

DEFAULT_ADDRESS = "127.0.0.1:8080"
VOICED = (AUTO, SOUND, ESPEAK, PYTTSX3)  # the engines that say the pairing code aloud; the others only print it


def tls_files(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """--web-cert and --web-key: both or neither, each a readable file; AssistantError in one sentence."""
    cert, key = getattr(args, "web_cert", None), getattr(args, "web_key", None)
    if (cert is None) != (key is None):
        raise AssistantError("Give both --web-cert and --web-key for TLS, or neither.")
    if cert is None:
        return None, None
    files = Path(cert).expanduser(), Path(key).expanduser()
    for option, path in zip(("--web-cert", "--web-key"), files):
        try:
            with path.open("rb") as opened:
                opened.read(1)
        except OSError as exc:
            raise AssistantError(f"{option} {path}: cannot read it ({exc.strerror or exc}).") from None
    return files


def check_web(args: argparse.Namespace) -> None:
    """--web, --web-cert and --web-key as given, checked before anything slow is loaded: a bad address,
    a certificate without its key or without --web, an unreadable file: AssistantError in one sentence."""
    if not args.web:
        if getattr(args, "web_cert", None) or getattr(args, "web_key", None):
            raise AssistantError("--web-cert and --web-key serve the caregiver's page over HTTPS: add --web [HOST:]PORT.")
        return
    from ..web.server import parse_address  # only now: a run without the page never loads the web stack

    parse_address(args.web)
    tls_files(args)


def say_through(speaker: Speaker, language: str) -> Callable[[str], None]:
    """`say(text)` for `web_page`: the text queued on `speaker` as a requested status sentence."""
    return lambda text: speaker.say(Utterance(text, 0, 0, kind="status", priority=REQUESTED, language=language))


@contextmanager
def web_page(args: argparse.Namespace, ctx: WebContext, say: Callable[[str], None]) -> Iterator[WebServer | None]:
    """The page served while the block runs, or None without --web. Beyond loopback it pairs: the
    code is said through `say` and printed. A bad address, a busy port or a bad certificate is an
    AssistantError in one sentence, before the block runs."""
    check_web(args)
    if not args.web:  # before the imports: a run without the page never loads the web stack
        yield None
        return
    from ..web.app import create_app
    from ..web.security import Guard
    from ..web.server import WebServer, is_loopback, parse_address

    host, port = parse_address(args.web)
    certfile, keyfile = tls_files(args)
    guard = Guard(pairing=not is_loopback(host), say=say, note=note)
    server = WebServer(create_app(ctx, guard), host, port, certfile, keyfile)
    server.start()
    try:
        note(f"The caregiver's page is at {server.url}" + ("" if guard.pairing is None else
                                                            " (type the pairing code there)."))
        guard.announce()
        yield server
    finally:
        server.stop()


def cmd_web(args: argparse.Namespace, context: RunContext) -> int:
    """Serve the profile editor and the photo try-out, without a camera, until Ctrl-C or SIGTERM."""
    from ..web.context import WebContext
    from ..web.server import is_loopback, parse_address

    check_web(args)
    host, _ = parse_address(args.web)
    rules, model_path, labels = load(args.profile, args.model)
    ctx = WebContext(args.profile, model_path, labels, calibration=rules.calibration)
    signals = StopSignals(context)
    stop = signals.stop
    with _voice(rules.profile, context, needed=not is_loopback(host)) as say, web_page(args, ctx, say):
        while not stop.wait(0.5):
            pass
    return signals.exit_code


@contextmanager
def _voice(profile: Profile, context: RunContext, needed: bool) -> Iterator[Callable[[str], None]]:
    """`say(text)` in the profile's voice, for the pairing code; silent (the code is printed anyway)
    when it is not needed, the profile's engine only prints or writes files, or no voice can speak."""
    from ..runtime.loop import voice_settings
    from ..speech.factory import make_backend

    spec = speech_spec(profile.voice.engine)
    if not needed or spec not in VOICED:
        yield lambda text: None
        return
    settings = voice_settings(profile)
    try:
        backend = make_backend(spec, settings, note, warn=warn, stdout=context.stdout)
    except AssistantError as exc:
        warn(f"{exc} The pairing code is only printed.")
        yield lambda text: None
        return
    speaker = Speaker(backend, settings=settings, warn=warn, max_age_s=60.0, stdout=context.stdout)
    speaker.wait_ready()
    try:
        yield say_through(speaker, settings.language)
    finally:
        speaker.close(drain=False)
