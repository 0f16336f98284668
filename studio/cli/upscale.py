"""`flipbook upscale`, `train-sr` and `train-sr-video`: pixel super-resolution (engine.pipelines.upscale,
engine.training.sr).
(Engine imports are inside the handlers: diffusers and the models load only when a command runs, not for --help.)"""
from __future__ import annotations

from engine.registry import UPSCALE_MODES, default_upscale_mode

from .options import (HelpFormatter, add_device, add_model, add_out, add_seed, channels, finite_float,
                      non_negative_int, positive_float, positive_int, use_threads)
from .progress import StageProgress

SR_ASSET = "assets/sr"
IMAGE_MODEL = (f"the image SR model: a folder from train-sr (default {SR_ASSET}/image) or an IF stage II-style "
               "pipeline folder (IFSuperResolutionPipeline's save_pretrained)")


def add_commands(sub):
    u = sub.add_parser("upscale", help="upscale a clip with the video super-resolution model", description=upscale.__doc__,
                       formatter_class=HelpFormatter)
    u.add_argument("--input", required=True, help="the clip to upscale (.mp4, .gif, .webm, ...)")
    add_out(u)
    u.add_argument("--scale", type=positive_int, default=None, help="default: the model's (4)")
    u.add_argument("--mode", default=None, metavar="MODE",
                   help=", ".join(UPSCALE_MODES) + " (default: the best one available)")
    u.add_argument("--steps", type=positive_int, default=20, help="sampling steps")
    u.add_argument("--prompt", default=None, help="what the clip shows (default: its sidecar's prompt, else none)")
    u.add_argument("--noise-level", type=non_negative_int, default=None,
                   help="augmentation level of the low-res condition (default: the model's)")
    u.add_argument("--segment-frames", type=positive_int, default=8, help="frames upscaled together")
    u.add_argument("--guidance", type=finite_float, default=1.0, help="classifier-free guidance over the prompt (1: none)")
    add_seed(u)
    u.add_argument("--max-side", type=positive_int, default=64,
                   help="longest input side the model runs at; larger clips are scaled down first")
    u.add_argument("--noise-share", type=finite_float, default=1.0,
                   help="how much of the initial noise the frames share, in [0, 1] (1: what the model fails to remove "
                        "stays put instead of flickering)")
    u.add_argument("--consistency", type=non_negative_int, default=3,
                   help="back-projection iterations making each frame average back to its input frame (0: none)")
    u.add_argument("--scheduler", default="dpm++", choices=["dpm++", "ddim"], help="the sampler")
    u.add_argument("--model", default=None, metavar="FOLDER", help=IMAGE_MODEL)
    u.add_argument("--tuned", default=None, help=f"a tuned video SR folder (default {SR_ASSET}/video-MODE)")
    add_device(u)
    u.set_defaults(run=upscale)


def add_trainers(sub):
    t = sub.add_parser("train-sr", help="train the image super-resolution model on world stills (assets/sr/image)",
                       description=train_sr.__doc__, formatter_class=HelpFormatter)
    t.add_argument("--steps", type=positive_int, default=3000, help="optimiser steps")
    t.add_argument("--batch-size", type=positive_int, default=4, help="stills a step")
    t.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate")
    add_seed(t)
    t.add_argument("--scale", type=positive_int, default=4, help="upscaling factor")
    t.add_argument("--size", type=positive_int, default=32, help="low-resolution side (32: the keyframes')")
    t.add_argument("--crop", type=positive_int, default=None,
                   help="train on random high-resolution crops of this side (default: whole frames, --size × --scale)")
    t.add_argument("--channels", default="16,32,64,96", help="UNet block channels, comma-separated")
    t.add_argument("--target", default="residual", choices=["residual", "image"],
                   help="what is diffused: high − upsample(low), or the high-res frame itself (IF stage II)")
    t.add_argument("--prediction", default="sample", choices=["sample", "v_prediction", "epsilon"],
                   help="what the UNet predicts (sample: x0)")
    t.add_argument("--max-noise-level", type=positive_int, default=100,
                   help="condition augmentation levels drawn in [0, this) during training")
    t.add_argument("--noise-level", type=non_negative_int, default=0, help="the level sampling uses by default")
    t.add_argument("--texture-share", type=finite_float, default=0.15,
                   help="share of training stills that are generic texture pans instead of world renders, in [0, 1] "
                        "(0 trains on world stills only, which upscales footage from elsewhere worse than bicubic)")
    t.add_argument("--checkpoint-every", type=positive_int, default=250, help="steps between checkpoints")
    add_model(t, generation=False)
    t.add_argument("--out", default=f"{SR_ASSET}/image", help="the folder the model is written to")
    t.add_argument("--work-dir", default="runs/sr/image", help="checkpoints; an interrupted run resumes from here")
    t.set_defaults(run=train_sr)
    _train_sr_video_parser(sub)


def _train_sr_video_parser(sub):
    v = sub.add_parser("train-sr-video", help="inflate the image SR model and tune a mode on world clips "
                                              "(assets/sr/video-MODE)", formatter_class=HelpFormatter)
    v.add_argument("--mode", required=True, metavar="MODE",
                   help="full (every weight) or temporal (the temporal adapter only)")
    v.add_argument("--steps", type=positive_int, default=400, help="optimiser steps")
    v.add_argument("--batch-size", type=positive_int, default=1, help="clips a step")
    v.add_argument("--lr", type=positive_float, default=None, help="default 1e-4 for full, 5e-4 for temporal")
    add_seed(v)
    v.add_argument("--frames", type=positive_int, default=8, help="frames a clip (8: one segment)")
    v.add_argument("--fps", type=positive_float, default=8.0, help="frame rate of the training clips")
    v.add_argument("--crop", type=positive_int, default=None,
                   help="high-resolution crop side (default: the image model's, whole frames)")
    v.add_argument("--carry-prob", type=finite_float, default=0.5,
                   help="share of clips whose first frame is conditioned on its high-res frame (a carried frame)")
    v.add_argument("--noise-share", type=finite_float, default=1.0,
                   help="how much of the diffusion noise a clip's frames share, in [0, 1] (upscale samples with 1)")
    v.add_argument("--texture-share", type=finite_float, default=None,
                   help="share of training clips that are generic texture pans, in [0, 1] (default: the image model's)")
    v.add_argument("--checkpoint-every", type=positive_int, default=100, help="steps between checkpoints")
    v.add_argument("--image", "--model", dest="image", default=None, metavar="FOLDER",
                   help="the image SR model to inflate: " + IMAGE_MODEL.removeprefix("the image SR model: "))
    v.add_argument("--out", default=None, help=f"default {SR_ASSET}/video-MODE")
    v.add_argument("--work-dir", default=None, help="checkpoints (default runs/sr/video-MODE); resumes from here")
    v.set_defaults(run=train_sr_video)


def train_sr(args) -> int:
    """IF stage II-like pixel SR: the bilinear-upsampled low-res frame concatenated to the noisy high-res one, noise
    augmentation with its level as conditioning, the base's text encoder. Trains on world stills rendered at
    --size and --size × --scale (or aligned random crops of them, --crop); resumes from --work-dir."""
    use_threads()
    # heavy: the trainer (diffusers, the engine's models, accelerate) loads only when it runs, not for --help
    from engine.training.sr import train_sr_image

    levels = channels(args.channels)
    if not 0 <= args.texture_share <= 1:
        raise ValueError(f"--texture-share must be in [0, 1], got {args.texture_share}")
    high, multiple = args.size * args.scale, 2 ** (len(levels) - 1)
    if high % multiple:
        raise ValueError(f"--size × --scale ({high}) must be a multiple of {multiple} for {len(levels)} UNet levels")
    crop = min(args.crop or high, high)
    if crop % multiple:
        raise ValueError(f"--crop must be a multiple of {multiple} for {len(levels)} UNet levels")
    train_sr_image(args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed, base=args.model,
                   work_dir=args.work_dir, checkpoint_every=args.checkpoint_every, low=args.size, scale=args.scale,
                   crop=crop, channels=levels, max_noise_level=args.max_noise_level, noise_level=args.noise_level,
                   residual=args.target == "residual", prediction=args.prediction, texture_share=args.texture_share)
    print(f"image super-resolution (×{args.scale}) written to {args.out}")
    return 0


def train_sr_video(args) -> int:
    use_threads()
    # heavy: the trainer (diffusers, the engine's models, accelerate) loads only when it runs, not for --help
    from engine.training.sr import train_sr_video as train

    out = args.out or f"{SR_ASSET}/video-{args.mode}"
    train(args.mode, out, args.steps, args.batch_size, args.lr, args.seed, args.image, args.work_dir, args.frames,
          args.fps, args.crop, args.carry_prob, args.checkpoint_every, noise_share=args.noise_share,
          texture_share=args.texture_share)
    print(f"video super-resolution ({args.mode}) written to {out}")
    return 0


def upscale(args) -> int:
    """Works on any clip: frames whose long side exceeds --max-side are scaled down first (area) and odd sizes are
    padded; the sidecar records what was done. The clip runs in segments of --segment-frames frames, each
    carrying the last upscaled frame of the one before."""
    use_threads()
    # heavy: diffusers and the engine's models load only when the command runs, not for --help
    from engine.upscale import upscale_file
    from engine.tuning import read_tuned

    mode = args.mode or read_tuned(args.tuned).mode or default_upscale_mode(args.model)
    progress = StageProgress({"upscale": None})  # steps a segment × segments: known once the clip is read
    path, _, notes = upscale_file(args.input, args.out, args.scale, mode, args.steps, args.prompt, args.noise_level,
                                  args.segment_frames, args.seed, args.max_side, args.guidance, args.model, args.tuned,
                                  args.scheduler, args.device, args.dtype, args.noise_share, args.consistency,
                                  callback=progress.step)
    progress.close()
    for note in notes:
        print(f"note: {note}")
    print(path)
    return 0
