"""`assistant profiles list|show|check|classes`: the caregiver profiles and the class names they may use."""

from __future__ import annotations

import argparse
import sys

from ..config import models
from ..config.profile_files import ProfileProblems, load_profile, shipped_profiles
from ..errors import AssistantError
from ..process.run_context import RunContext
from ..process.shown import shown
from ..process.signals import EXIT_OK
from .common import EXIT_BAD_INPUT, require_detector


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
            require_detector(model_path)
            failed += 1
            print(shown(str(exc), lines=True), file=sys.stderr)
            continue
        print(shown(f"{spec}: ok ({profile.name}, {len(profile.objects)} classes)"))
    return EXIT_BAD_INPUT if failed else EXIT_OK


def cmd_profiles_classes(args: argparse.Namespace, context: RunContext) -> int:
    from ..language import catalog as language

    if args.language not in language.available():
        raise AssistantError(f"There is no language {args.language!r}; there are: {', '.join(language.available())}.")
    also = {label: [w for w in dict.fromkeys((noun.form("one"), *noun.words)) if w != label]
            for label, noun in language.load(args.language).nouns.items()}
    for label in sorted(models.classes(models.labels(models.resolve(args.model)))):
        print(label + (f" (also: {', '.join(also[label])})" if also.get(label) else ""))
    return EXIT_OK
