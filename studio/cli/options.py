"""What every `flipbook` command shares: the checks its arguments' types run, the help formatter that shows
each option's default, and the option families declared once (seed, output, model and memory, motion,
training)."""
from __future__ import annotations

import argparse
import textwrap

import torch

from engine import edit_settings
from engine.validate import check_seed
from engine.world.vocab import CAMERA_MOVES, MOTIONS


def shows_default(action: argparse.Action) -> bool:
    """Whether an option has a default worth showing: a value, not a flag, nothing worked out later."""
    flag = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._StoreConstAction))
    return bool(action.option_strings) and not (flag or action.required or action.default is None
                                                or action.default is argparse.SUPPRESS)


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the help already says it or there is none (a flag off,
    a value the command works out)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if shows_default(action) and "default" not in text:
            text += " (default: %(default)s)"
        return text

    def _split_lines(self, text, width):  # never break a name such as ff-conv1d-attn1d-blocks at its hyphens
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number ≥ 0, got {text}")
    return value


def finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def sizes(text: str) -> list[int]:
    """A comma-separated list of frame sides, each a positive multiple of 4 (e.g. 128,256,512)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v < 4 or v % 4 for v in values):
        raise argparse.ArgumentTypeError(f"must be comma-separated multiples of 4 such as 128,256,512, got {text!r}")
    return values


def seed(text: str) -> int:
    try:
        return check_seed(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("seed ")) from None


def channels(text: str) -> tuple[int, ...]:
    """--channels: two or more comma-separated multiples of 8."""
    try:
        values = tuple(int(c) for c in text.split(","))
    except ValueError:
        values = ()
    if len(values) < 2 or any(c < 8 or c % 8 for c in values):
        raise ValueError(f"--channels must be two or more comma-separated multiples of 8, got {text!r}")
    return values


def use_threads():
    """At most 8 threads for torch (more only adds overhead on these models)."""
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))


def add_seed(parser, help: str = "random seed; the same seed and settings give the same frames"):
    parser.add_argument("--seed", type=seed, default=0, help=help)


def add_out(parser, help: str = "an .mp4 or .gif path; a .json sidecar is written beside it"):
    parser.add_argument("--out", required=True, help=help)


def add_device(parser):
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (cuda:N for one GPU of several)")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"],
                        help="weights and activations (fp16 for GPUs; bf16 for recent GPUs and CPUs)")


def add_training(parser: argparse.ArgumentParser, steps: int, batch_size: int, name: str) -> argparse.ArgumentParser:
    """The arguments every asset trainer shares; the defaults rebuild the embedded asset."""
    parser.add_argument("--steps", type=positive_int, default=steps, help="optimiser steps")
    parser.add_argument("--batch-size", type=positive_int, default=batch_size, help="examples a step")
    add_seed(parser)
    parser.add_argument("--out", default=f"assets/{name}", help="the folder the trained model is written to")
    parser.add_argument("--work-dir", default=f"runs/{name}", help="checkpoints; an interrupted run resumes from here "
                                                                 "(runs/… goes under $FLIPBOOK_RUNS when set)")
    return parser


def memory_options(args) -> dict:
    """The memory flags as MemoryOptions' fields."""
    return {"attention": args.attention, "vae_slicing": args.vae_slicing, "vae_tiling": args.vae_tiling,
            "cpu_offload": args.cpu_offload, "frame_chunk": args.frame_chunk}


def add_model(parser: argparse.ArgumentParser, generation: bool = True) -> argparse.ArgumentParser:
    """--model, and for generation the device, dtype and memory options real checkpoints need."""
    parser.add_argument("--model", default=None, metavar="PATH_OR_ID",
                        help="a diffusers-format model folder or hub id: pixel (IF-style) or latent (SD-style, with "
                             "vae/) (default: the embedded base)")
    if not generation:
        return parser
    add_device(parser)
    parser.add_argument("--attention", default="sdpa", choices=["sdpa", "sliced"],
                        help="sdpa: PyTorch's fused attention; sliced: a few heads at a time, less memory")
    parser.add_argument("--vae-slicing", action="store_true", help="decode one frame at a time (latent models)")
    parser.add_argument("--vae-tiling", action="store_true", help="decode frames in tiles (latent models, large frames)")
    parser.add_argument("--cpu-offload", action="store_true",
                        help="keep models on the CPU and move each to the GPU while it runs (with --device cuda)")
    parser.add_argument("--frame-chunk", type=positive_int, default=None,
                        help="frames the VAE decodes at once (latent models; default all)")
    return parser


def add_motion(parser: argparse.ArgumentParser, plan: bool = True, methods: bool = True,
               strength: float = 0.7) -> argparse.ArgumentParser:
    """How the clip moves (engine/motion/README.md): by default (`plan`) as the prompt's motion words say;
    `methods`: also the way the plan is followed (editing always carries the edited frame 0)."""
    parser.add_argument("--motion", default=None, choices=MOTIONS + CAMERA_MOVES, metavar="MOTION",
                        help="move the object as a world motion (" + ", ".join(MOTIONS) + ") or the camera ("
                             + ", ".join(CAMERA_MOVES) + "), whatever the prompt says (default: the prompt's)")
    parser.add_argument("--speed", type=positive_float, default=1.0,
                        help="the motion's speed relative to the world's own, up to 4")
    parser.add_argument("--path", default=None, metavar="'X,Y X,Y ...'",
                        help="the object follows these points (frame units, 0 to 1, (0,0) top left), e.g. "
                             "--path '0.2,0.5 0.8,0.5'")
    parser.add_argument("--motion-plan", action=argparse.BooleanOptionalAction, default=plan,
                        help="follow the prompt's motion words; --no-motion-plan: the model moves the clip on its own "
                             "(the ablation)")
    if methods:
        parser.add_argument("--motion-method", default=None, choices=["frame", "noise"],
                            help="frame (default): frame 0 carried along the plan and denoised again; noise: the "
                                 "initial noise warped along the plan")
    parser.add_argument("--motion-strength", type=positive_float, default=None,
                        help="with the frame method: the share of the schedule (0 to 1, default %g) the carried "
                             "frames are noised back to; higher lets the model redraw more" % strength)
    if methods:
        parser.add_argument("--cross-frame", action="store_true",
                            help="every frame's spatial self-attention attends to frame 0 (Text2Video-Zero), so every "
                                 "frame keeps its look; training-free, any mode")
    return parser


EDIT_MOTION = {"plan": edit_settings.MOTION_PLAN, "methods": False, "strength": edit_settings.MOTION_STRENGTH}
