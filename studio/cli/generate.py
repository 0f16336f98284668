"""`flipbook generate` (and `generate --cascade`), `train-base`, `train-mode` and `train-pyramid`: text to video
(engine.generate, engine.cascade) and the training of its keyframe models (engine.training.base, .video,
.pyramid).
(Engine imports are inside the handlers: diffusers and the models load only when a command runs, not for --help.)"""
from __future__ import annotations

import sys
from pathlib import Path

from engine.files import atomic_path
from engine.registry import (CASCADE_DEPTH, DEFAULT_INTERP, DEFAULT_OVERLAP, INTERP_METHODS, MEASURED_WHY,
                             KEYFRAME_MODES, LONG_METHODS, MODEL_FREE_INTERP, STAGE_STEPS, UPSCALE_MODES,
                             default_upscale_mode)
from engine.sidecar import read_sidecar

from .options import (HelpFormatter, add_model, add_motion, add_out, add_seed, add_training, finite_float,
                      memory_options, positive_float, positive_int, use_threads)
from .progress import StageProgress

GENERATE_KEYS = ("prompt", "negative_prompt", "seed", "frames", "steps", "guidance", "mode", "scheduler", "fps",
                 "model", "tuned", "pyramid", "renoise", "dtype", "device", "memory", "motion", "speed", "path",
                 "motion_plan", "motion_method", "motion_strength", "plan", "cross_frame", "image", "image_sha256",
                 "context_window", "context_overlap", "long_method")
LONG_KEYS = ("image", "image_sha256", "context_window", "context_overlap", "long_method")  # keyframes alone
# keys older sidecars lack (they sampled without a motion plan, all frames in one pass, and replay so)
SIDECAR_DEFAULTS = {"renoise": True, "dtype": "fp32", "device": "cpu", "speed": 1.0, "motion_plan": False,
                    "cross_frame": False, "context_window": 0}
CASCADE_KEYS = ("cascade_depth", "stage_steps", "interp", "interp_method", "sr", "sr_mode", "sr_tuned", "expert",
                "decoder", "strength", "top", "detail_sigma", "keep_stages")
TRAINABLE = ", ".join(m for m in KEYFRAME_MODES if m != "zero-shot")


def add_commands(sub):
    g = sub.add_parser("generate", help="generate a video from a prompt with the keyframe model",
                       formatter_class=HelpFormatter)
    g.add_argument("--prompt", help="a world prompt, e.g. 'a red circle moving left on black' (`flipbook words` "
                                    "lists the words); required unless --from")
    g.add_argument("--negative-prompt", default=None, help="what the clip should not show")
    add_seed(g)
    g.add_argument("--frames", type=positive_int, default=8,
                   help="keyframes to generate, up to 256 (the models train on 8; longer clips go in context windows)")
    g.add_argument("--steps", type=positive_int, default=25, help="sampling steps")
    g.add_argument("--guidance", type=finite_float, default=4.0, help="classifier-free guidance scale (1: none)")
    g.add_argument("--mode", default=None, metavar="MODE",
                   help="tuning mode: " + ", ".join(KEYFRAME_MODES) + " (default: the best embedded one)")
    g.add_argument("--scheduler", default=None,
                   help="the sampler (default: dpm++; flow for flow-matching models; with --pyramid the pyramid's own)")
    g.add_argument("--pyramid", type=positive_int, nargs="?", const=0, default=None, metavar="K",
                   help="sample through TPDiff's temporal pyramid: the embedded pyramid-trained model unless --tuned "
                        "names one; K, the stages, is the model's own when left out")
    g.add_argument("--no-renoise", dest="renoise", action="store_false",
                   help="with --pyramid: upsample between stages without renoising (the ablation)")
    g.add_argument("--fps", type=positive_float, default=2.0, help="frame rate of the written file")
    add_motion(g)
    _long_options(g)
    add_model(g)
    g.add_argument("--tuned", default=None, help="a tuned-mode folder (default: assets/modes/MODE; with --model, "
                                                  "one trained on that model)")
    g.add_argument("--from", dest="from_json", default=None, help="repeat the generation a sidecar JSON records")
    add_out(g)
    _cascade_options(g)
    g.set_defaults(run=generate)


def _long_options(g):
    """Long clips and image-to-video (engine.diffusion.windows)."""
    w = g.add_argument_group("long clips and image-to-video")
    w.add_argument("--image", default=None, metavar="FIRST.png",
                   help="start the clip from this picture (png or jpg; cropped and resized to the clip): frame 0 as "
                        "given, the rest moves as the prompt or --motion says")
    w.add_argument("--context-window", type=int, default=None, metavar="N",
                   help="frames the model sees at once (default: 8, what it was trained on, when --frames is more; "
                        "0: every frame at once, up to 64)")
    w.add_argument("--context-overlap", type=int, default=DEFAULT_OVERLAP, metavar="N",
                   help="frames two windows in a row share")
    w.add_argument("--long-method", default="windows", choices=LONG_METHODS,
                   help="windows: overlapping windows fused at every step (FreeNoise); autoregressive: each window "
                        "starts from the last frames of the one before; chunks: independent windows (the baseline)")


def _cascade_options(g):
    """`generate --cascade`: keyframes → interpolation → pixel SR → expert translation."""
    c = g.add_argument_group("cascade", "with --cascade: the keyframes (the options above) are interpolated (×4 frames, "
                                        "×4 fps), upscaled (×4) and translated by the latent expert")
    c.add_argument("--cascade", action="store_true", help="run the whole cascade instead of keyframes alone")
    c.add_argument("--cascade-depth", default=None, choices=["keyframes", "interpolate", "upscale", "translate"],
                   help=f"the last stage to run (default {CASCADE_DEPTH}, since {MEASURED_WHY['translate']})")
    c.add_argument("--stage-steps", type=positive_int, default=STAGE_STEPS,
                   help=f"sampling steps of the later stages (default {STAGE_STEPS}: {MEASURED_WHY['stage_steps']})")
    c.add_argument("--interp", default=None, metavar="FOLDER",
                   help="interpolation model folder (default assets/interp/METHOD)")
    c.add_argument("--interp-method", default=None, choices=[*MODEL_FREE_INTERP, *INTERP_METHODS],
                   help=f"tween or blend (no model), group (FusionFrames) or masked (MPL-Video); default "
                        f"{DEFAULT_INTERP}, since {MEASURED_WHY['interpolate']}; or the method of --interp's model")
    c.add_argument("--sr", default=None, metavar="FOLDER", help="image SR folder (default assets/sr/image)")
    c.add_argument("--sr-mode", default=None, metavar="MODE",
                   help="the upscaling mode: " + ", ".join(UPSCALE_MODES) + " (default: the best one available)")
    c.add_argument("--sr-tuned", default=None, metavar="FOLDER", help="a tuned video SR folder")
    c.add_argument("--expert", default=None, metavar="FOLDER", help="expert folder (default assets/expert/t900)")
    c.add_argument("--decoder", default=None, help="temporal decoder variant or folder, or image (default: the best "
                                                   "temporal decoder trained on the expert's VAE, else image)")
    c.add_argument("--strength", type=finite_float, default=0.5,
                   help="expert translation strength (0: through the VAE alone)")
    c.add_argument("--top", type=positive_int, default=None,
                   help="the translated clip's long side (default: the expert's, 128); 512 goes up from the pixel "
                        "stage's 128² in latent space, MPL-Video's way")
    c.add_argument("--detail-sigma", type=positive_float, default=None,
                   help="translation keeps the pixel stage's frequencies below a Gaussian of this many pixels and adds "
                        "only its detail above (e.g. 0.5, measured at 512²; default: the translated frames as they are)")
    c.add_argument("--keep-stages", action="store_true", help="also write each stage's clip (OUT-keyframes.mp4, ...)")


def add_trainers(sub):
    b = add_training(sub.add_parser("train-base", help="train the embedded text-to-image base (rebuilds assets/base)",
                                    formatter_class=HelpFormatter), steps=5200, batch_size=32, name="base")
    b.add_argument("--snr-gamma", type=positive_float, default=None,
                   help="weight the loss by Min-SNR-γ; the embedded base's later stages use 5")
    b.add_argument("--prediction", default="epsilon", choices=["epsilon", "v_prediction"], help="what the UNet predicts")
    b.add_argument("--init", default=None, help="start from this base folder (a new stage with its own work dir)")
    b.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate")
    b.set_defaults(run=train_base)
    _train_mode_parser(sub)
    _train_pyramid_parser(sub)


def _mode_training(parser, steps: int = 600):
    parser.add_argument("--steps", type=positive_int, default=steps, help="optimiser steps")
    parser.add_argument("--batch-size", type=positive_int, default=4, help="clips a step")
    parser.add_argument("--lr", type=positive_float, default=5e-4, help="learning rate")
    add_seed(parser)


def _train_mode_parser(sub):
    m = sub.add_parser("train-mode", help="tune one mode of the inflated base on world videos (assets/modes/MODE)",
                       formatter_class=HelpFormatter)
    m.add_argument("--mode", required=True, metavar="MODE", help="the mode to train: " + TRAINABLE)
    _mode_training(m)
    m.add_argument("--snr-gamma", type=positive_float, default=5.0, help="Min-SNR-γ loss weighting")
    m.add_argument("--motion-weight", type=positive_float, default=1.0,
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
                                                 "SimDA's lsa,ta,attn_adapter,ffn_adapter (default: none)")
    add_model(m, generation=False)
    m.add_argument("--out", default=None, help="default: assets/modes/MODE")
    m.add_argument("--work-dir", default=None, help="checkpoints (default runs/modes/MODE, under $FLIPBOOK_RUNS when "
                                                   "set); resumes from here")
    m.set_defaults(run=train_mode)


def _train_pyramid_parser(sub):
    py = sub.add_parser("train-pyramid", help="train a keyframe model for TPDiff's temporal pyramid, or its vanilla "
                                              "baseline (--stages 1), on 16-frame world clips",
                        formatter_class=HelpFormatter)
    py.add_argument("--form", required=True, choices=["ddim", "flow"],
                    help="ddim (the base's own diffusion) or flow (the base read as a flow-matching model)")
    py.add_argument("--stages", type=positive_int, default=3, help="pyramid stages (1: the vanilla baseline)")
    py.add_argument("--no-align", dest="align", action="store_false", help="train without data-noise alignment")
    py.add_argument("--mode", default="ff-conv1d-attn1d-blocks", metavar="MODE",
                    help="the mode whose modules train: " + TRAINABLE)
    _mode_training(py)
    add_model(py, generation=False)
    py.add_argument("--out", required=True, help="the tuned folder (e.g. assets/modes/pyramid-ddim)")
    py.add_argument("--work-dir", default=None, help="checkpoints (default runs/pyramid/NAME); resumes from here")
    py.set_defaults(run=train_pyramid)


def generate(args) -> int:
    use_threads()
    # heavy: diffusers and the engine's models load only when the command runs, not for --help
    from engine.generate import generate_video, generation_steps

    replays_cascade = args.from_json and (read_sidecar(args.from_json) or {}).get("kind") == "cascade"
    if args.cascade or replays_cascade:
        return generate_cascade(args)
    params = {k: getattr(args, k, None) for k in GENERATE_KEYS if k != "memory"}
    params["memory"] = memory_options(args)
    if args.from_json:
        if not Path(args.from_json).is_file():
            raise FileNotFoundError(f"no sidecar at {args.from_json}; give --from the .json written beside a "
                                    "generated clip")
        record = read_sidecar(args.from_json)
        if not isinstance(record, dict) or record.get("kind") != "generate":
            raise ValueError(f"{args.from_json} is not a generate sidecar")
        params = {k: record.get(k, SIDECAR_DEFAULTS.get(k)) for k in GENERATE_KEYS}
        if params["pyramid"]:  # the pyramid took its own steps, whatever scheduler an older sidecar recorded
            params["scheduler"] = None
    if not params["prompt"]:
        raise ValueError("give --prompt (or --from a sidecar)")
    progress = StageProgress({"keyframes": generation_steps(**params)})
    path, _ = generate_video(out=args.out, callback=progress.step, **params)
    progress.close()
    print(path)
    return 0


def measured_defaults(args) -> dict:
    """The depth and interpolation method asked for, else the measured defaults, saying why on stderr."""
    chosen = {"depth": args.cascade_depth or CASCADE_DEPTH,
              "interp_method": args.interp_method or (None if args.interp else DEFAULT_INTERP)}  # --interp: its model
    if args.interp_method is None and chosen["interp_method"] == DEFAULT_INTERP and chosen["depth"] != "keyframes":
        print(f"interpolate: {DEFAULT_INTERP}, since {MEASURED_WHY['interpolate']} (--interp-method chooses)",
              file=sys.stderr)
    if args.cascade_depth is None and CASCADE_DEPTH != "translate":
        print(f"depth {CASCADE_DEPTH}: {MEASURED_WHY['translate']} (--cascade-depth translate runs it)",
              file=sys.stderr)
    return chosen


def generate_cascade(args) -> int:
    """`generate --cascade` (or `generate --from` a cascade sidecar)."""
    # heavy: diffusers and the engine's models load only when the command runs, not for --help
    from engine.cascade import run_cascade, steps_by_stage
    from engine.generate import generation_steps

    if args.from_json:
        record = read_sidecar(args.from_json) if Path(args.from_json).is_file() else None
        if not isinstance(record, dict) or record.get("kind") != "cascade":
            raise ValueError(f"{args.from_json} is not a cascade sidecar (the .json beside a `generate --cascade` clip)")
        settings = {"motion_plan": False, **record["settings"]}  # sidecars before motion plans sampled without one
        if settings.get("decoder") is None and record.get("decoder"):  # the decoder it used, even if a better one
            settings["decoder"] = record["decoder"]                    # has been embedded since
    else:
        if not args.prompt:
            raise ValueError("give --prompt (or --from a sidecar)")
        if args.image or args.context_window is not None or args.long_method != "windows":
            raise ValueError("--image, --context-window and --long-method are for keyframes alone: drop --cascade, or "
                             "run the cascade on an 8-frame clip (then `flipbook interpolate` and `upscale` it)")
        # the keyframes' settings the cascade takes (it samples them in one pass, from noise)
        keyframes = [k for k in GENERATE_KEYS if k not in ("pyramid", "renoise", "memory", "plan", *LONG_KEYS)]
        settings = {k: getattr(args, k) for k in keyframes}
        settings.update({k: getattr(args, k) for k in CASCADE_KEYS if k != "cascade_depth"})
        settings.update(measured_defaults(args))
        settings["sr_mode"] = args.sr_mode or default_upscale_mode(args.sr)
    progress = StageProgress(steps_by_stage(settings["depth"], settings["frames"], settings["steps"],
                                            settings["stage_steps"], settings["strength"], settings["interp_method"],
                                            generation_steps(**settings)))
    path, _, record = run_cascade(args.out, on_stage=progress.stage, callback_on_step_end=progress.step, **settings)
    progress.close()
    for stage in record["stages"]:
        print(f"{stage['stage']}: {stage['frames']} frames {stage['size'][1]}×{stage['size'][0]} at {stage['fps']:g} fps,"
              f" {stage['seconds']:.1f} s, peak +{stage['peak_mb']:.0f} MB")
    print(path)
    return 0


def _check_trainable(mode: str):
    if mode not in KEYFRAME_MODES or mode == "zero-shot":
        raise ValueError(f"choose a mode to train from: {TRAINABLE}")


def train_base(args) -> int:
    use_threads()
    # heavy: the trainer (diffusers, the engine's models, accelerate) loads only when it runs, not for --help
    from engine.training.base import base_report, evaluate_base
    from engine.training.base import train_base as train

    train(args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed, work_dir=args.work_dir,
          snr_gamma=args.snr_gamma, prediction=args.prediction, init=args.init, lr=args.lr)
    text = base_report(evaluate_base(args.out), 200, 25, 4.0)
    with atomic_path(Path(args.out) / "report.md") as tmp:
        tmp.write_text(text)
    print(text)
    print(f"base model written to {args.out}")
    return 0


def train_mode(args) -> int:
    _check_trainable(args.mode)
    use_threads()
    # heavy: the trainer (diffusers, the engine's models, accelerate) loads only when it runs, not for --help
    from engine.distributed import process_state
    from engine.training.modes import train_mode as train

    ablate = [a for a in args.ablate.split(",") if a]
    if args.model and not args.out:
        raise ValueError("with --model, give --out: a folder for modes tuned on that model (assets/modes holds the "
                         "embedded base's)")
    out = args.out or f"assets/modes/{args.mode}"
    work_dir = args.work_dir or (f"runs/modes/{Path(out).resolve().parent.name}-{Path(out).name}" if args.model else None)
    train(args.mode, out, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
          work_dir=work_dir, ablate=ablate, snr_gamma=args.snr_gamma, base=args.model,
          motion_weight=args.motion_weight, noise_share=args.noise_share, tune_text=args.tune_text,
          warped_noise=args.warped_noise, init=args.init)
    if process_state().is_main_process:
        print(f"{args.mode} written to {out}")
    return 0


def train_pyramid(args) -> int:
    _check_trainable(args.mode)
    use_threads()
    # heavy: the trainer (diffusers, the engine's models, accelerate) loads only when it runs, not for --help
    from engine.distributed import process_state
    from engine.training.pyramid import train_pyramid as train

    train(args.form, args.out, count=args.stages, align=args.align, mode=args.mode, steps=args.steps,
          batch_size=args.batch_size, lr=args.lr, seed=args.seed, base=args.model, work_dir=args.work_dir)
    if process_state().is_main_process:
        print(f"{args.form} {'pyramid' if args.stages > 1 else 'vanilla'} model written to {args.out}")
    return 0
