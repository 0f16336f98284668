"""`flipbook train-sr`, `train-sr-video` and `upscale`: pixel super-resolution on the command line.

`add_parsers(sub)` adds the three subcommands to `flipbook`'s parser (studio/cli.py calls it); each handler is a
thin layer over engine.training.sr and engine.pipelines.upscale, and raises ValueError / FileNotFoundError for
what the user can fix (printed as one line by cli.main).
"""
from __future__ import annotations

from pathlib import Path

SR_ASSET = "assets/sr"
# The best embedded mode first (bench/results/sr.md): zero-shot has the best PSNR (39.38 dB against full's 39.28
# and temporal's 39.24; SSIM and TCC tie within 0.0003) and upscales 3× faster than the inflated modes.
UPSCALE_MODE_ORDER = ("zero-shot", "full", "temporal")


def add_parsers(sub):
    from . import cli
    from .cli import _model_options, _non_negative_int, _positive_float, _positive_int

    seed, finite = getattr(cli, "_seed", int), getattr(cli, "_finite_float", float)  # the shared checks, where present

    t = sub.add_parser("train-sr", help="train the image super-resolution model on world stills (assets/sr/image)",
                       description="IF stage II-like pixel SR: the bilinear-upsampled low-res frame concatenated to the "
                                   "noisy high-res one, noise augmentation with its level as conditioning, the base's "
                                   "text encoder. Trains on world stills rendered at --size and --size × --scale "
                                   "(or aligned random crops of them, --crop); resumes from --work-dir.")
    t.add_argument("--steps", type=_positive_int, default=3000)
    t.add_argument("--batch-size", type=_positive_int, default=4)
    t.add_argument("--lr", type=_positive_float, default=1e-3)
    t.add_argument("--seed", type=seed, default=0)
    t.add_argument("--scale", type=_positive_int, default=4, help="upscaling factor (default 4)")
    t.add_argument("--size", type=_positive_int, default=32, help="low-resolution side (default 32: the keyframes')")
    t.add_argument("--crop", type=_positive_int, default=None,
                   help="train on random high-resolution crops of this side (default: whole frames, --size × --scale)")
    t.add_argument("--channels", default="16,32,64,96", help="UNet block channels, comma-separated")
    t.add_argument("--target", default="residual", choices=["residual", "image"],
                   help="what is diffused: high − upsample(low) (default) or the high-res frame itself (IF stage II)")
    t.add_argument("--prediction", default="sample", choices=["sample", "v_prediction", "epsilon"],
                   help="what the UNet predicts (default sample: x0)")
    t.add_argument("--max-noise-level", type=_positive_int, default=100,
                   help="condition augmentation levels drawn in [0, this) during training")
    t.add_argument("--noise-level", type=_non_negative_int, default=0, help="the level sampling uses by default")
    t.add_argument("--texture-share", type=finite, default=0.15,
                   help="share of training stills that are generic texture pans instead of world renders, in [0, 1] "
                        "(default 0.15; 0 trains on world stills only, which upscales footage from elsewhere worse "
                        "than bicubic)")
    t.add_argument("--checkpoint-every", type=_positive_int, default=250)
    _model_options(t, generation=False)
    t.add_argument("--out", default=f"{SR_ASSET}/image")
    t.add_argument("--work-dir", default="runs/sr/image", help="checkpoints; an interrupted run resumes from here")
    t.set_defaults(run=train_sr)

    v = sub.add_parser("train-sr-video", help="inflate the image SR model and tune a mode on world clips "
                                              "(assets/sr/video-MODE)")
    v.add_argument("--mode", required=True, help="full (every weight) or temporal (the temporal adapter only)")
    v.add_argument("--steps", type=_positive_int, default=400)
    v.add_argument("--batch-size", type=_positive_int, default=1, help="clips a step")
    v.add_argument("--lr", type=_positive_float, default=None, help="default 1e-4 for full, 5e-4 for temporal")
    v.add_argument("--seed", type=seed, default=0)
    v.add_argument("--frames", type=_positive_int, default=8, help="frames a clip (default 8, one segment)")
    v.add_argument("--fps", type=_positive_float, default=8.0)
    v.add_argument("--crop", type=_positive_int, default=None,
                   help="high-resolution crop side (default: the image model's, whole frames)")
    v.add_argument("--carry-prob", type=finite, default=0.5,
                   help="share of clips whose first frame is conditioned on its high-res frame (a carried frame)")
    v.add_argument("--noise-share", type=finite, default=1.0,
                   help="how much of the diffusion noise a clip's frames share, in [0, 1] (upscale samples with 1)")
    v.add_argument("--texture-share", type=finite, default=None,
                   help="share of training clips that are generic texture pans, in [0, 1] (default: the image model's)")
    v.add_argument("--checkpoint-every", type=_positive_int, default=100)
    v.add_argument("--image", "--model", dest="image", default=None, metavar="FOLDER",
                   help=f"the image SR model to inflate: a folder from train-sr (default {SR_ASSET}/image) or an IF "
                        "stage II-style pipeline folder")
    v.add_argument("--out", default=None, help=f"default {SR_ASSET}/video-MODE")
    v.add_argument("--work-dir", default=None, help="checkpoints (default runs/sr/video-MODE); resumes from here")
    v.set_defaults(run=train_sr_video)

    u = sub.add_parser("upscale", help="upscale a clip with the video super-resolution model",
                       description="Works on any clip: frames whose long side exceeds --max-side are scaled down first "
                                   "(area) and odd sizes are padded; the sidecar records what was done. The clip runs "
                                   "in segments of --segment-frames frames, each carrying the last upscaled frame of "
                                   "the one before.")
    u.add_argument("--input", required=True, help="the clip to upscale (.mp4, .gif, .webm, ...)")
    u.add_argument("--out", required=True, help="an .mp4 or .gif path; a .json sidecar is written beside it")
    u.add_argument("--scale", type=_positive_int, default=None, help="default: the model's (4)")
    u.add_argument("--mode", default=None, help="zero-shot, full or temporal (default: the best one available)")
    u.add_argument("--steps", type=_positive_int, default=20)
    u.add_argument("--prompt", default=None, help="what the clip shows (default: its sidecar's prompt, else none)")
    u.add_argument("--noise-level", type=_non_negative_int, default=None,
                   help="augmentation level of the low-res condition (default: the model's)")
    u.add_argument("--segment-frames", type=_positive_int, default=8)
    u.add_argument("--guidance", type=finite, default=1.0, help="classifier-free guidance over the prompt (1: none)")
    u.add_argument("--seed", type=seed, default=0)
    u.add_argument("--max-side", type=_positive_int, default=64,
                   help="longest input side the model runs at (default 64); larger clips are scaled down first")
    u.add_argument("--noise-share", type=finite, default=1.0,
                   help="how much of the initial noise the frames share, in [0, 1] (default 1: what the model fails "
                        "to remove stays put instead of flickering)")
    u.add_argument("--consistency", type=_non_negative_int, default=3,
                   help="back-projection iterations making each frame average back to its input frame (0: none)")
    u.add_argument("--scheduler", default="dpm++", choices=["dpm++", "ddim"])
    u.add_argument("--model", default=None, metavar="FOLDER",
                   help=f"the image SR model: a folder from train-sr (default {SR_ASSET}/image) or an IF stage II-style "
                        "pipeline folder (IFSuperResolutionPipeline's save_pretrained)")
    u.add_argument("--tuned", default=None, help=f"a tuned video SR folder (default {SR_ASSET}/video-MODE)")
    u.add_argument("--device", default="cpu")
    u.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"])
    u.set_defaults(run=upscale)


def _channels(text: str) -> tuple[int, ...]:
    try:
        channels = tuple(int(c) for c in text.split(","))
    except ValueError:
        channels = ()
    if len(channels) < 2 or any(c < 8 or c % 8 for c in channels):
        raise ValueError(f"--channels must be two or more comma-separated multiples of 8, got {text!r}")
    return channels


def train_sr(args) -> int:
    from .commands import _threads

    _threads()
    from engine.training.sr import train_sr_image

    channels = _channels(args.channels)
    if not 0 <= args.texture_share <= 1:
        raise ValueError(f"--texture-share must be in [0, 1], got {args.texture_share}")
    high = args.size * args.scale
    if high % 2 ** (len(channels) - 1):
        raise ValueError(f"--size × --scale ({high}) must be a multiple of {2 ** (len(channels) - 1)} for "
                         f"{len(channels)} UNet levels")
    crop = min(args.crop or high, high)
    if crop % 2 ** (len(channels) - 1):
        raise ValueError(f"--crop must be a multiple of {2 ** (len(channels) - 1)} for {len(channels)} UNet levels")
    train_sr_image(args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed, base=args.model,
                   work_dir=args.work_dir, checkpoint_every=args.checkpoint_every, low=args.size, scale=args.scale,
                   crop=crop, channels=channels, max_noise_level=args.max_noise_level, noise_level=args.noise_level,
                   residual=args.target == "residual", prediction=args.prediction, texture_share=args.texture_share)
    print(f"image super-resolution (×{args.scale}) written to {args.out}")
    return 0


def train_sr_video(args) -> int:
    from .commands import _threads

    _threads()
    from engine.training.sr import train_sr_video as train

    out = args.out or f"{SR_ASSET}/video-{args.mode}"
    train(args.mode, out, args.steps, args.batch_size, args.lr, args.seed, args.image, args.work_dir, args.frames,
          args.fps, args.crop, args.carry_prob, args.checkpoint_every, noise_share=args.noise_share,
          texture_share=args.texture_share)
    print(f"video super-resolution ({args.mode}) written to {out}")
    return 0


def default_mode(model=None) -> str:
    """The best mode whose weights are here (zero-shot for an image SR model of one's own)."""
    from engine.models.sr import ASSET

    if model:
        return "zero-shot"
    return next(m for m in UPSCALE_MODE_ORDER if m == "zero-shot" or (ASSET / f"video-{m}" / "mode.json").is_file())


def upscale(args) -> int:
    from .commands import _threads

    _threads()
    import json

    from engine.pipelines.upscale import upscale_file

    mode = args.mode
    if mode is None:
        mode = json.loads((Path(args.tuned) / "mode.json").read_text()).get("mode") if args.tuned and \
            (Path(args.tuned) / "mode.json").is_file() else default_mode(args.model)
    path, _, notes = upscale_file(args.input, args.out, args.scale, mode, args.steps, args.prompt, args.noise_level,
                                  args.segment_frames, args.seed, args.max_side, args.guidance, args.model, args.tuned,
                                  args.scheduler, args.device, args.dtype, args.noise_share, args.consistency)
    for note in notes:
        print(f"note: {note}")
    print(path)
    return 0
