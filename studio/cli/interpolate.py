"""`flipbook interpolate` and `train-interp`: frame interpolation, T → 4T−3 frames (engine.interpolate,
engine.training.interpolation).
(Engine imports are inside the handlers: diffusers and the models load only when a command runs, not for --help.)"""
from __future__ import annotations

import sys
from pathlib import Path

from engine.registry import DEFAULT_INTERP, INTERP_METHODS, MEASURED_WHY, MODEL_FREE_INTERP

from .options import (HelpFormatter, add_device, add_out, add_seed, non_negative_int, positive_float, positive_int,
                      use_threads)
from .progress import StageProgress

INTERP_ASSET = "assets/interp"


def add_commands(sub):
    i = sub.add_parser("interpolate", help="interpolate a clip: T frames → 4T−3 frames at 4× the frame rate",
                       description=interpolate.__doc__, formatter_class=HelpFormatter)
    i.add_argument("--input", required=True, help="the clip (.mp4, .gif, .webm) whose frames are the keyframes")
    add_out(i)
    i.add_argument("--method", default=None, choices=[*MODEL_FREE_INTERP, *INTERP_METHODS],
                   help=f"tween or blend (no model), group (FusionFrames) or masked (MPL-Video); default: --interp's "
                        f"model, else {DEFAULT_INTERP} ({MEASURED_WHY['interpolate']})")
    i.add_argument("--interp", default=None, metavar="FOLDER",
                   help=f"an interpolation model folder (default {INTERP_ASSET}/METHOD)")
    i.add_argument("--steps", type=positive_int, default=20, help="DPM-Solver++ steps")
    add_seed(i)
    i.add_argument("--guidance", type=float, default=0.25, help="context guidance weight w")
    i.add_argument("--skip", type=positive_int, default=None,
                   help="group: the skip-frame value, output frames 1/32 s × skip apart (default: from the input's "
                        "frame rate; 4 for 2 fps)")
    i.add_argument("--aug-level", type=non_negative_int, default=0,
                   help="forward-diffusion steps applied to the keyframes first (more forgives flawed ones)")
    i.add_argument("--fps", type=positive_float, default=None, help="frame rate of the output (default 4× the input's)")
    i.add_argument("--model", default=None, metavar="PATH_OR_ID",
                   help="the latent (SD-style) base the interpolator was trained from: its VAE encodes the keyframes "
                        "and decodes the result (pixel interpolators need none)")
    add_device(i)
    i.set_defaults(run=interpolate)


def add_trainers(sub):
    t = sub.add_parser("train-interp", help="train an interpolation model on world clips (assets/interp/METHOD)",
                       description=train_interp.__doc__, formatter_class=HelpFormatter)
    t.add_argument("--method", required=True, choices=["group", "masked"], help="which model to train")
    t.add_argument("--steps", type=positive_int, default=2000, help="optimiser steps")
    t.add_argument("--batch-size", type=positive_int, default=4, help="clips a step (8 keyframes → 29 frames each)")
    t.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate")
    add_seed(t)
    t.add_argument("--checkpoint-every", type=positive_int, default=100, help="steps between checkpoints")
    t.add_argument("--target", default="residual", choices=["residual", "frames"],
                   help="residual: learn what blending the keyframes misses, as x0, so an untrained model is the "
                        "blend; frames: the papers' form, the frames themselves (group: v-prediction)")
    t.add_argument("--model", default=None, metavar="PATH_OR_ID",
                   help="the image base to start from (default: the embedded one): a pixel (IF-style) model, or a "
                        "latent (SD-style) one, whose interpolator works on its VAE latents")
    t.add_argument("--size", type=positive_int, default=None,
                   help="side of the training clips in pixels (default: the base's frame size)")
    t.add_argument("--tuned", default=None, help="masked: the keyframe model's tuned mode folder (default: the "
                                                 "embedded ff-conv1d-attn1d-blocks, on the embedded base)")
    t.add_argument("--out", default=None, help=f"default {INTERP_ASSET}/METHOD")
    t.add_argument("--work-dir", default=None, help="checkpoints (default runs/interp/METHOD); resumes from here")
    t.set_defaults(run=train_interp)


def train_interp(args) -> int:
    """group: FusionFrames' model, the three middle frames of every keyframe pair in one pass; masked: MPL-Video's, the
    whole clip with the keyframes in a masked input. Both start from the base (masked: from the keyframe model)
    and train on world clips rendered at the rates they need; an interrupted run resumes from --work-dir."""
    if args.model and not args.out:
        raise ValueError(f"with --model, give --out: {INTERP_ASSET} holds the embedded base's models")
    if args.tuned and args.method != "masked":
        raise ValueError("--tuned is the masked model's starting keyframe model; the group model starts from the base")
    use_threads()
    # heavy: the trainer (diffusers, the engine's models, accelerate) loads only when it runs, not for --help
    from engine.distributed import process_state
    from engine.training.interpolation import train_interpolator

    out = args.out or f"{INTERP_ASSET}/{args.method}"
    work_dir = args.work_dir or (f"runs/interp/{Path(out).name}" if args.out else None)
    train_interpolator(args.method, out, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       base=args.model, tuned=args.tuned, work_dir=work_dir, checkpoint_every=args.checkpoint_every,
                       size=args.size, residual=args.target == "residual")
    if process_state().is_main_process:
        print(f"{args.method} interpolation model written to {out}")
    return 0


def interpolate(args) -> int:
    """Interpolates three frames between every two frames of the input (any size; the embedded models are trained on
    32×32 world clips at 2 → 8 fps) and writes OUT with a .json sidecar holding every setting and the time of
    each stage."""
    if args.guidance != args.guidance or not 0 <= args.guidance <= 10:
        raise ValueError(f"--guidance must be between 0 and 10 (FusionFrames uses 0.25), got {args.guidance}")
    use_threads()
    # heavy: diffusers and the engine's models load only when the command runs, not for --help
    from engine.interpolate import interpolate_file

    method = args.method or (None if args.interp else DEFAULT_INTERP)  # None: the folder's own method
    if args.method is None and method == DEFAULT_INTERP:
        print(f"interpolate: {DEFAULT_INTERP}, since {MEASURED_WHY['interpolate']}", file=sys.stderr)
    progress = StageProgress({"interpolate": 0 if method in MODEL_FREE_INTERP else args.steps})
    path, _ = interpolate_file(args.input, args.out, method=method, folder=args.interp, steps=args.steps,
                               seed=args.seed, guidance=args.guidance, skip=args.skip, aug_level=args.aug_level,
                               fps=args.fps, device=args.device, dtype=args.dtype, model=args.model,
                               callback=progress.step)
    progress.close()
    print(path)
    return 0
