"""`flipbook`: the command line. Each subcommand is a thin layer over the engine; errors the user can
fix are printed as one line that says what to fix (no traceback) with exit status 2."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from engine import edit_settings

from . import commands

USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _seed(text: str) -> int:
    from engine.validate import check_seed

    try:
        return check_seed(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("seed ")) from None


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _training(parser: argparse.ArgumentParser, steps: int, batch_size: int, name: str) -> argparse.ArgumentParser:
    """The arguments every asset trainer shares; the defaults rebuild the embedded asset."""
    parser.add_argument("--steps", type=_positive_int, default=steps)
    parser.add_argument("--batch-size", type=_positive_int, default=batch_size)
    parser.add_argument("--seed", type=_seed, default=0)
    parser.add_argument("--out", default=f"assets/{name}")
    parser.add_argument("--work-dir", default=f"runs/{name}", help="checkpoints; an interrupted run resumes from here "
                                                                 "(runs/… goes under $FLIPBOOK_RUNS when set)")
    return parser


def _model_options(parser: argparse.ArgumentParser, generation: bool = True) -> argparse.ArgumentParser:
    """--model, and for generation the device, dtype and memory options real checkpoints need."""
    parser.add_argument("--model", default=None, metavar="PATH_OR_ID",
                        help="a diffusers-format model folder or hub id: pixel (IF-style) or latent (SD-style, with "
                             "vae/) (default: the embedded base)")
    if not generation:
        return parser
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda (cuda:N for one GPU of several)")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"],
                        help="weights and activations (fp16 for GPUs; bf16 for recent GPUs and CPUs)")
    parser.add_argument("--attention", default="sdpa", choices=["sdpa", "sliced"],
                        help="sdpa: PyTorch's fused attention (default); sliced: a few heads at a time, less memory")
    parser.add_argument("--vae-slicing", action="store_true", help="decode one frame at a time (latent models)")
    parser.add_argument("--vae-tiling", action="store_true", help="decode frames in tiles (latent models, large frames)")
    parser.add_argument("--cpu-offload", action="store_true",
                        help="keep models on the CPU and move each to the GPU while it runs (with --device cuda)")
    parser.add_argument("--frame-chunk", type=_positive_int, default=None,
                        help="frames the VAE decodes at once (latent models; default all)")
    return parser


def _motion_options(parser: argparse.ArgumentParser, plan: bool = True, methods: bool = True,
                    strength: float = 0.7) -> argparse.ArgumentParser:
    """How the clip moves (engine/motion/README.md): by default (`plan`) as the prompt's motion words say;
    `methods`: also the way the plan is followed (editing always carries the edited frame 0)."""
    from engine.world.vocab import CAMERA_MOVES as camera, MOTIONS  # at parse time: the names live in the engine
    parser.add_argument("--motion", default=None, choices=MOTIONS + camera, metavar="MOTION",
                        help="move the object as a world motion (" + ", ".join(MOTIONS) + ") or the camera ("
                             + ", ".join(camera) + "), whatever the prompt says")
    parser.add_argument("--speed", type=_positive_float, default=1.0,
                        help="the motion's speed relative to the world's own (up to 4; default 1)")
    parser.add_argument("--path", default=None, metavar="'X,Y X,Y ...'",
                        help="the object follows these points (frame units, 0 to 1, (0,0) top left), e.g. "
                             "--path '0.2,0.5 0.8,0.5'")
    parser.add_argument("--motion-plan", action=argparse.BooleanOptionalAction, default=plan,
                        help="follow the prompt's motion words (default %s); --no-motion-plan: the model moves the "
                             "clip on its own (the ablation)" % ("on" if plan else "off"))
    if methods:
        parser.add_argument("--motion-method", default=None, choices=["frame", "noise"],
                            help="frame (default): frame 0 carried along the plan and denoised again; noise: the "
                                 "initial noise warped along the plan")
    parser.add_argument("--motion-strength", type=_positive_float, default=None,
                        help="with the frame method: the share of the schedule (0 to 1, default %g) the carried "
                             "frames are noised back to; higher lets the model redraw more" % strength)
    if methods:
        parser.add_argument("--cross-frame", action="store_true",
                            help="every frame's spatial self-attention attends to frame 0 (Text2Video-Zero), so every "
                                 "frame keeps its look; training-free, any mode")
    return parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="flipbook", description="Flipbook: image diffusion models made into video models.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("render", help="render a world prompt's ground-truth clip")
    r.add_argument("--prompt", required=True)
    r.add_argument("--size", type=_positive_int, default=64)
    r.add_argument("--fps", type=_positive_float, default=8.0)
    r.add_argument("--frames", type=_positive_int, default=16)
    r.add_argument("--seed", type=_seed, default=0)
    r.add_argument("--t0", type=_finite_float, default=0.0, help="start time in seconds")
    r.add_argument("--out", required=True, help="an .mp4 or .gif path; a .json sidecar is written beside it")
    r.set_defaults(run=commands.render)

    g = sub.add_parser("generate", help="generate a video from a prompt with the keyframe model")
    g.add_argument("--prompt")
    g.add_argument("--negative-prompt", default=None)
    g.add_argument("--seed", type=_seed, default=0)
    g.add_argument("--frames", type=_positive_int, default=8)
    g.add_argument("--steps", type=_positive_int, default=25)
    g.add_argument("--guidance", type=_finite_float, default=4.0)
    g.add_argument("--mode", default=None, help="tuning mode (default: the best embedded one)")
    g.add_argument("--scheduler", default="dpm++", help="dpm++ (default), ddim, or flow (flow-matching models)")
    g.add_argument("--pyramid", type=_positive_int, default=None,
                   help="sample through a K-stage temporal pyramid (TPDiff; a pyramid-trained mode)")
    g.add_argument("--no-renoise", dest="renoise", action="store_false",
                   help="with --pyramid: upsample between stages without renoising (the ablation)")
    g.add_argument("--fps", type=_positive_float, default=2.0, help="frame rate of the written file")
    _motion_options(g)
    _model_options(g)
    g.add_argument("--tuned", default=None, help="a tuned-mode folder (default: assets/modes/MODE; with --model, "
                                                  "one trained on that model)")
    g.add_argument("--from", dest="from_json", default=None, help="repeat the generation a sidecar JSON records")
    g.add_argument("--out", required=True, help="an .mp4 or .gif path; a .json sidecar is written beside it")
    g.set_defaults(run=commands.generate)
    from . import expert_commands  # generate --cascade; train-vae, train-expert, train-decoder, translate

    expert_commands.add_cascade_options(g)

    e = sub.add_parser("eval", help="score a folder of clips against their prompts")
    e.add_argument("--videos", required=True, help="folder of .mp4/.gif/.webm clips")
    e.add_argument("--prompts", required=True,
                   help="JSON {file: prompt}, or lines 'file<TAB>prompt', or one prompt a line in file-name order")
    e.add_argument("--judge", default=None, help="judge folder (default: the embedded one)")
    e.add_argument("--out", default=None, help="also write the table to this Markdown file")
    e.set_defaults(run=commands.evaluate)

    j = _training(sub.add_parser("train-judge", help="train the judge on ground-truth clips (rebuilds assets/judge)"),
                  steps=2500, batch_size=48, name="judge")
    j.add_argument("--report-clips", type=_positive_int, default=1000, help="clips per row of the accuracy report")
    j.set_defaults(run=commands.train_judge)

    b = _training(sub.add_parser("train-base", help="train the embedded text-to-image base (rebuilds assets/base)"),
                  steps=5200, batch_size=32, name="base")
    b.add_argument("--snr-gamma", type=_positive_float, default=None,
                   help="weight the loss by Min-SNR-γ; the embedded base's later stages use 5")
    b.add_argument("--prediction", default="epsilon", choices=["epsilon", "v_prediction"])
    b.add_argument("--init", default=None, help="start from this base folder (a new stage with its own work dir)")
    b.add_argument("--lr", type=_positive_float, default=1e-3)
    b.set_defaults(run=commands.train_base)

    m = sub.add_parser("train-mode", help="tune one mode of the inflated base on world videos (assets/modes/MODE)")
    m.add_argument("--mode", required=True)
    m.add_argument("--steps", type=_positive_int, default=600)
    m.add_argument("--batch-size", type=_positive_int, default=4)
    m.add_argument("--lr", type=_positive_float, default=5e-4)
    m.add_argument("--seed", type=_seed, default=0)
    m.add_argument("--snr-gamma", type=_positive_float, default=5.0, help="Min-SNR-γ loss weighting")
    m.add_argument("--motion-weight", type=_positive_float, default=1.0,
                   help="weight of the part of the error that differs between frames (1: plain MSE)")
    m.add_argument("--noise-share", type=float, default=0.0,
                   help="share of one noise draw mixed into every frame, in [0, 1] (PYoCo's mixed prior)")
    m.add_argument("--tune-text", action="store_true", help="also tune the text encoder (saved with the mode)")
    m.add_argument("--warped-noise", action="store_true",
                   help="train on noise warped along each world clip's true motion (Go-with-the-Flow), so that "
                        "the mode follows warped noise when sampling with a plan (--motion-method noise)")
    m.add_argument("--init", default=None, metavar="FOLDER",
                   help="start from this tuned folder of the same mode (e.g. assets/modes/MODE) instead of zero")
    m.add_argument("--ablate", default="", help="parts to switch off: text (temporal attention's prompt reading); "
                                                 "SimDA's lsa,ta,attn_adapter,ffn_adapter")
    _model_options(m, generation=False)
    m.add_argument("--out", default=None, help="default: assets/modes/MODE")
    m.add_argument("--work-dir", default=None, help="checkpoints (default runs/modes/MODE, under $FLIPBOOK_RUNS when "
                                                   "set); resumes from here")
    m.set_defaults(run=commands.train_mode)

    py = sub.add_parser("train-pyramid", help="train a keyframe model for TPDiff's temporal pyramid, or its vanilla "
                                              "baseline (--stages 1), on 16-frame world clips")
    py.add_argument("--form", required=True, choices=["ddim", "flow"],
                    help="ddim (the base's own diffusion) or flow (the base read as a flow-matching model)")
    py.add_argument("--stages", type=_positive_int, default=3, help="pyramid stages (1: the vanilla baseline)")
    py.add_argument("--no-align", dest="align", action="store_false", help="train without data-noise alignment")
    py.add_argument("--mode", default="ff-conv1d-attn1d-blocks", help="the mode whose modules train")
    py.add_argument("--steps", type=_positive_int, default=600)
    py.add_argument("--batch-size", type=_positive_int, default=4)
    py.add_argument("--lr", type=_positive_float, default=5e-4)
    py.add_argument("--seed", type=_seed, default=0)
    _model_options(py, generation=False)
    py.add_argument("--out", required=True, help="the tuned folder (e.g. assets/modes/pyramid-ddim)")
    py.add_argument("--work-dir", default=None, help="checkpoints (default runs/pyramid/NAME); resumes from here")
    py.set_defaults(run=commands.train_pyramid)

    ed = sub.add_parser("edit", help="edit a clip by prompt: one-shot tune on it, DDIM-invert it, sample the edit",
                        description="One-shot video editing (Tune-A-Video, SimDA): tune a mode on the clip with its "
                                    "source prompt, DDIM-invert it, and sample the edited prompt from the inverted "
                                    "latents. The edit is at the model's resolution (32×32 for the embedded base): the "
                                    "clip is centre-cropped to a square and resized. Tuned weights and inverted latents "
                                    "are cached (--cache-dir), so more edits of one clip are quick.")
    ed.add_argument("--input", required=True, help="the clip to edit (.mp4, .gif, .webm)")
    ed.add_argument("--source-prompt", required=True, help="what the clip shows, in the world's words")
    ed.add_argument("--prompt", required=True, help="what it should show: the source prompt with the change made")
    ed.add_argument("--negative-prompt", default=None)
    ed.add_argument("--mode", default=edit_settings.MODE,
                    help="the mode one-shot tuning tunes (default %s; zero-shot: no tuning)" % edit_settings.MODE)
    ed.add_argument("--tune-steps", type=_non_negative_int, default=None,
                    help="one-shot tuning steps (default %d; 0: no tuning)" % edit_settings.TUNE_STEPS)
    ed.add_argument("--tuned", default=None, help="a tuned folder (from `flipbook tune`) instead of one-shot tuning")
    ed.add_argument("--strength", type=_positive_float, default=None,
                    help="how far into the noise the clip is inverted, in (0, 1] (default %.2f; less keeps more of "
                         "the clip, more lets the prompt change more)" % edit_settings.STRENGTH)
    ed.add_argument("--steps", type=_positive_int, default=None,
                    help="DDIM steps for the whole schedule (default %d)" % edit_settings.STEPS)
    ed.add_argument("--guidance", type=_finite_float, default=None,
                    help="classifier-free guidance of the edited prompt (default %.1f)" % edit_settings.GUIDANCE)
    ed.add_argument("--frames", type=_positive_int, default=8, help="frames taken evenly from the clip (default 8)")
    ed.add_argument("--fps", type=_positive_float, default=None, help="frame rate of the written file (default: the input's)")
    ed.add_argument("--seed", type=_seed, default=0)
    ed.add_argument("--lr", type=_positive_float, default=None, help="one-shot tuning learning rate")
    ed.add_argument("--cache-dir", default=None, help="where tuned weights and inverted latents are cached "
                                                     "(default $FLIPBOOK_CACHE or ~/.cache/flipbook)")
    _motion_options(ed, plan=edit_settings.MOTION_PLAN, methods=False, strength=edit_settings.MOTION_STRENGTH)
    _model_options(ed, generation=False)
    ed.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ed.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"])
    ed.add_argument("--out", required=True, help="an .mp4 or .gif path; a .json sidecar is written beside it")
    ed.set_defaults(run=commands.edit)

    tu = sub.add_parser("tune", help="fine-tune a mode on your own clips (a folder, or one clip)",
                        description="A quick fine-tune on your clips, at the model's resolution. Captions: --caption for "
                                    "every clip, else captions.json ({file: caption}) in the folder, else NAME.json "
                                    "beside each clip with a \"prompt\". Checkpoints go to OUT-work every "
                                    "--checkpoint-every steps; a stopped or killed run continues with --resume. Use the "
                                    "result with `generate --tuned OUT`, `edit --tuned OUT`, or `studio --modes "
                                    "PARENT_OF_OUT`.")
    tu.add_argument("--data", required=True, help="a folder of clips (.mp4, .gif, .webm) or one clip")
    tu.add_argument("--caption", default=None, help="one caption for every clip")
    tu.add_argument("--mode", default="simda", help="the mode to tune (default simda)")
    tu.add_argument("--steps", type=_positive_int, default=300)
    tu.add_argument("--checkpoint-every", type=_positive_int, default=100)
    tu.add_argument("--resume", action="store_true", help="continue the run in OUT-work from its last checkpoint")
    tu.add_argument("--batch-size", type=_positive_int, default=4)
    tu.add_argument("--lr", type=_positive_float, default=None, help="learning rate (default: train-mode's)")
    tu.add_argument("--frames", type=_positive_int, default=8, help="frames taken evenly from each clip")
    tu.add_argument("--seed", type=_seed, default=0)
    tu.add_argument("--work-dir", default=None, help="checkpoints (default OUT-work)")
    _model_options(tu, generation=False)
    tu.add_argument("--out", required=True, help="the tuned folder to write")
    tu.set_defaults(run=commands.tune)

    jr = sub.add_parser("judge-report", help="measure the judge's per-attribute accuracy (writes report.md)")
    jr.add_argument("--judge", default=None)
    jr.add_argument("--clips", type=_positive_int, default=1000)
    jr.set_defaults(run=commands.judge_report)

    w = sub.add_parser("words", help="list the words the world's prompts may use")
    w.set_defaults(run=commands.words)

    s = sub.add_parser("studio", help="open the browser studio")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    s.add_argument("--port", type=int, default=7860)
    s.add_argument("--share", action="store_true", help="also open a public gradio share link")
    s.add_argument("--auth", default=None, help="USER:PASSWORD required to open the studio")
    s.add_argument("--queue-size", type=_positive_int, default=32,
                   help="requests that may wait at once; more are refused with 'Queue is full' (default 32)")
    s.add_argument("--max-sessions", type=_positive_int, default=64,
                   help="browser sessions whose state (History) is kept in memory, the oldest dropped (default 64)")
    s.add_argument("--max-upload-mb", type=_positive_float, default=64, help="largest upload accepted (default 64)")
    _model_options(s)
    s.add_argument("--modes", default=None, metavar="DIR",
                   help="folder of tuned modes (DIR/MODE/mode.json) for --model (default: assets/modes)")
    s.set_defaults(run=commands.studio)

    from . import sr_commands  # train-sr, train-sr-video, upscale

    sr_commands.add_parsers(sub)

    from . import interp_commands  # train-interp, interpolate

    interp_commands.add_parsers(sub)
    expert_commands.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("flipbook: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        print(f"flipbook {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
