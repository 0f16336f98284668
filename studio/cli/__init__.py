"""`flipbook`: the command line, one module per command group named like its engine counterpart (generate,
interpolate, upscale, translate, edit, tune, world, evaluate, studio); `options` declares what they share. Each
command is a thin layer over an engine task; errors the user can fix are printed as one line that says what to
fix (no traceback) with exit status 2. Everyday commands are listed first, the trainers of the embedded models
after them."""
from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version

from . import edit, evaluate, generate, interpolate, studio, translate, tune, upscale, world
from .options import HelpFormatter

USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
EVERYDAY = (generate, interpolate, upscale, translate, edit, tune, world, evaluate, studio)
TRAINERS = (generate, interpolate, upscale, translate, evaluate)
TRAINING_HEADING = "training (rebuild an embedded model, or train one on your own base):"


class _Formatter(HelpFormatter):
    """The top-level help: a heading before the first trainer (`first_trainer`, set by build_parser)."""

    first_trainer = None

    def _format_action(self, action):
        text = super()._format_action(action)
        if self.first_trainer is not None and getattr(action, "dest", None) == self.first_trainer:
            return "\n" + " " * max(self._current_indent - 2, 0) + TRAINING_HEADING + "\n" + text
        return text


def _version() -> str:
    try:
        return version("flipbook")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="flipbook", formatter_class=_Formatter,
                                description="Flipbook: image diffusion models made into video models.",
                                epilog="`flipbook COMMAND --help` shows a command's options and their defaults.")
    p.add_argument("--version", action="version", version=f"flipbook {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    for group in EVERYDAY:
        group.add_commands(sub)
    everyday = len(sub.choices)
    for group in TRAINERS:
        group.add_trainers(sub)
    first = list(sub.choices)[everyday]
    p.formatter_class = type("Formatter", (_Formatter,), {"first_trainer": first})
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # no "Loading weights" bars from transformers and the hub: Flipbook's own progress says what runs
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("flipbook: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        print(f"flipbook {args.command}: error: {e}", file=sys.stderr)
        return 2
