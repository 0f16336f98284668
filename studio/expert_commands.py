"""`flipbook train-vae`, `train-expert`, `train-decoder`, `translate` and `generate --cascade`: the latent end of
the cascade on the command line (MPL-Video §3.6's expert translation, FusionFrames' temporal video decoder).

`add_parsers(sub)` adds the four subcommands and `add_cascade_options(parser)` the cascade's options to
`generate` (studio/cli.py calls both); each handler is a thin layer over engine.training.expert,
engine.training.decoder, engine.pipelines.translate and engine.cascade, and raises ValueError /
FileNotFoundError for what the user can fix (printed as one line by cli.main).
"""
from __future__ import annotations

from pathlib import Path

VAE_ASSET, EXPERT_ASSET, DECODER_ASSET = "assets/vae", "assets/expert", "assets/decoder"


def _channels(text: str) -> tuple[int, ...]:
    from .sr_commands import _channels as parse

    return parse(text)


def add_parsers(sub):
    from . import cli
    from .cli import _finite_float, _positive_float, _positive_int, _seed

    v = sub.add_parser("train-vae", help="train the VAE on world stills at the top resolution (assets/vae)",
                       description="A small AutoencoderKL (4× down-sampling, 4 latent channels) trained on world stills "
                                   "rendered at --size (random --crop crops), reconstruction MSE and a small KL term; "
                                   "its latents' scaling factor is measured afterwards. Resumes from --work-dir.")
    cli._training(v, steps=2000, batch_size=4, name="vae")
    v.add_argument("--lr", type=_positive_float, default=5e-4)
    v.add_argument("--size", type=_positive_int, default=128, help="frame side (default 128: what upscale produces)")
    v.add_argument("--crop", type=_positive_int, default=64, help="train on random crops of this side (default 64)")
    v.add_argument("--channels", default="16,32,64", help="block channels, comma-separated (3 levels: 4× down)")
    v.add_argument("--checkpoint-every", type=_positive_int, default=250)
    v.set_defaults(run=train_vae)

    e = sub.add_parser("train-expert", help="train the latent expert video model on t ≤ --max-timestep "
                                            "(assets/expert/tN)",
                       description="MPL-Video's expert translation model: a latent UNet inflated with a tuning mode's "
                                   "temporal modules, reading the base's text encoder, trained from scratch on world "
                                   "clips encoded by the VAE, on timesteps 0..--max-timestep only (900: the expert; "
                                   "1000: the ordinary model it is compared with). Resumes from --work-dir.")
    e.add_argument("--max-timestep", type=_positive_int, default=900, help="highest timestep drawn (default 900)")
    e.add_argument("--steps", type=_positive_int, default=2000)
    e.add_argument("--batch-size", type=_positive_int, default=2, help="clips a step")
    e.add_argument("--lr", type=_positive_float, default=5e-4)
    e.add_argument("--seed", type=_seed, default=0)
    e.add_argument("--mode", default="ff-conv1d-attn1d-blocks", help="the tuning mode whose temporal modules it has")
    e.add_argument("--channels", default="32,64,64", help="UNet block channels, comma-separated")
    e.add_argument("--frames", type=_positive_int, default=8, help="frames a clip, at 8 fps (default 8)")
    e.add_argument("--size", type=_positive_int, default=None,
                   help="frame side it trains on and translates at (default: the VAE's; more than the pixel stage's "
                        "output makes translation upsample, as MPL-Video's expert does)")
    e.add_argument("--crop", type=_positive_int, default=64, help="train on random crops of this side (default 64; "
                                                                 "the size for whole frames)")
    e.add_argument("--noise-share", type=_finite_float, default=0.0,
                   help="share of one noise draw mixed into every frame, in [0, 1] (translation noises the same way)")
    e.add_argument("--checkpoint-every", type=_positive_int, default=100)
    e.add_argument("--vae", default=None, help=f"the VAE folder (default {VAE_ASSET})")
    cli._model_options(e, generation=False)
    e.add_argument("--out", default=None, help=f"default {EXPERT_ASSET}/tMAX_TIMESTEP")
    e.add_argument("--work-dir", default=None, help="checkpoints (default runs/expert/NAME); resumes from here")
    e.set_defaults(run=train_expert)

    d = sub.add_parser("train-decoder", help="fine-tune a temporal video decoder's temporal layers on world clips "
                                             "(assets/decoder/VARIANT)",
                       description="FusionFrames' video decoder: the VAE's decoder with temporal layers after every "
                                   "resnet (zero at first: the image decoder), tuned alone on the reconstruction of "
                                   "8-frame world clips. Resumes from --work-dir.")
    d.add_argument("--variant", default="conv3d-attn", choices=["conv1d", "conv3d", "conv1d-attn", "conv3d-attn"])
    d.add_argument("--steps", type=_positive_int, default=600)
    d.add_argument("--batch-size", type=_positive_int, default=2, help="clips a step")
    d.add_argument("--lr", type=_positive_float, default=5e-4)
    d.add_argument("--seed", type=_seed, default=0)
    d.add_argument("--frames", type=_positive_int, default=8)
    d.add_argument("--crop", type=_positive_int, default=64, help="random crops of this side (default 64)")
    d.add_argument("--checkpoint-every", type=_positive_int, default=100)
    d.add_argument("--vae", default=None, help=f"the VAE folder (default {VAE_ASSET})")
    d.add_argument("--out", default=None, help=f"default {DECODER_ASSET}/VARIANT")
    d.add_argument("--work-dir", default=None, help="checkpoints (default runs/decoder/VARIANT); resumes from here")
    d.set_defaults(run=train_decoder)

    t = sub.add_parser("translate", help="refine a clip's detail with the latent expert (SDEdit from t ≤ 900)",
                       description="Expert translation: the clip is resized (bilinear) to the expert's resolution, "
                                   "encoded, noised to the last --strength part of the schedule, denoised with the same "
                                   "prompt and decoded (a temporal decoder if one was trained, else the image decoder).")
    t.add_argument("--input", required=True, help="the clip (.mp4, .gif, .webm), e.g. the output of `flipbook upscale`")
    t.add_argument("--out", required=True, help="an .mp4 or .gif path; a .json sidecar is written beside it")
    t.add_argument("--prompt", default=None, help="what the clip shows (default: its sidecar's prompt, else none)")
    t.add_argument("--strength", type=_positive_float, default=0.5,
                   help="how far into the noise, in (0, 0.9] for the expert (default 0.5)")
    t.add_argument("--steps", type=_positive_int, default=20, help="steps over the whole schedule (default 20)")
    t.add_argument("--guidance", type=_finite_float, default=1.0, help="classifier-free guidance (1: none)")
    t.add_argument("--seed", type=_seed, default=0)
    t.add_argument("--expert", default=None, help=f"an expert folder (default {EXPERT_ASSET}/t900)")
    t.add_argument("--decoder", default=None, help="conv1d, conv3d, conv1d-attn, conv3d-attn, a folder, or image "
                                                   "(default: the best temporal decoder trained on its VAE, else image)")
    t.add_argument("--segment-frames", type=_positive_int, default=8,
                   help="frames denoised together; longer clips run in segments sharing a frame (default 8)")
    t.add_argument("--scheduler", default="dpm++", choices=["dpm++", "ddim"])
    t.add_argument("--device", default="cpu")
    t.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"])
    t.set_defaults(run=translate)


def add_cascade_options(g):
    """`generate --cascade`: keyframes → interpolation → pixel SR → expert translation."""
    from .cli import _positive_float, _positive_int

    c = g.add_argument_group("cascade", "with --cascade: the keyframes (the options above) are interpolated (×4 frames, "
                                        "×4 fps), upscaled (×4) and translated by the latent expert")
    c.add_argument("--cascade", action="store_true", help="run the whole cascade instead of keyframes alone")
    c.add_argument("--cascade-depth", default="translate", choices=["keyframes", "interpolate", "upscale", "translate"],
                   help="the last stage to run (default translate)")
    c.add_argument("--stage-steps", type=_positive_int, default=20, help="sampling steps of the later stages")
    c.add_argument("--interp", default=None, metavar="FOLDER", help="interpolation model (default assets/interp/group)")
    c.add_argument("--interp-method", default=None, choices=["group", "masked"])
    c.add_argument("--sr", default=None, metavar="FOLDER", help="image SR folder (default assets/sr/image)")
    c.add_argument("--sr-mode", default=None, help="zero-shot, full or temporal (default: the best one available)")
    c.add_argument("--sr-tuned", default=None, metavar="FOLDER", help="a tuned video SR folder")
    c.add_argument("--expert", default=None, metavar="FOLDER", help=f"expert folder (default {EXPERT_ASSET}/t900)")
    c.add_argument("--decoder", default=None, help="temporal decoder variant or folder, or image")
    c.add_argument("--strength", type=_positive_float, default=0.5, help="expert translation strength (default 0.5)")
    c.add_argument("--keep-stages", action="store_true", help="also write each stage's clip (OUT-keyframes.mp4, ...)")


CASCADE_KEYS = ("cascade_depth", "stage_steps", "interp", "interp_method", "sr", "sr_mode", "sr_tuned", "expert",
                "decoder", "strength", "keep_stages")


def generate_cascade(args) -> int:
    """`generate --cascade` (or `generate --from` a cascade sidecar)."""
    from engine.cascade import run_cascade
    from engine.sidecar import read_sidecar

    from .sr_commands import default_mode

    if args.from_json:
        record = read_sidecar(args.from_json) if Path(args.from_json).is_file() else None
        if not isinstance(record, dict) or record.get("kind") != "cascade":
            raise ValueError(f"{args.from_json} is not a cascade sidecar (the .json beside a `generate --cascade` clip)")
        settings = {"motion_plan": False, **record["settings"]}  # sidecars before motion plans sampled without one
    else:
        if not args.prompt:
            raise ValueError("give --prompt (or --from a sidecar)")
        keys = ("prompt", "negative_prompt", "seed", "frames", "steps", "guidance", "mode", "scheduler", "fps", "model",
                "tuned", "device", "dtype", "motion", "speed", "path", "motion_plan", "motion_method", "motion_strength", "cross_frame")
        settings = {k: getattr(args, k) for k in keys}
        settings.update({k: getattr(args, k) for k in CASCADE_KEYS if k != "cascade_depth"})
        settings["depth"] = args.cascade_depth
        settings["sr_mode"] = args.sr_mode or default_mode(args.sr)
    path, _, record = run_cascade(args.out, **settings)
    for stage in record["stages"]:
        print(f"{stage['stage']}: {stage['frames']} frames {stage['size'][1]}×{stage['size'][0]} at {stage['fps']:g} fps,"
              f" {stage['seconds']:.1f} s, peak +{stage['peak_mb']:.0f} MB")
    print(path)
    return 0


def train_vae(args) -> int:
    from .commands import _threads

    _threads()
    from engine.training.expert import train_vae as train

    train(args.out, args.steps, args.batch_size, args.lr, args.seed, args.work_dir, args.size, args.crop,
          _channels(args.channels), checkpoint_every=args.checkpoint_every)
    print(f"VAE written to {args.out}")
    return 0


def train_expert(args) -> int:
    from .commands import _threads

    _threads()
    from engine.training.expert import train_expert as train

    out = args.out or f"{EXPERT_ASSET}/t{args.max_timestep}"
    train(out, args.max_timestep, args.steps, args.batch_size, args.lr, args.seed, args.vae, args.model, args.work_dir,
          args.mode, _channels(args.channels), args.frames, crop=args.crop, size=args.size, noise_share=args.noise_share,
          checkpoint_every=args.checkpoint_every)
    print(f"expert (t ≤ {args.max_timestep}) written to {out}")
    return 0


def train_decoder(args) -> int:
    from .commands import _threads

    _threads()
    from engine.training.decoder import train_decoder as train

    out = args.out or f"{DECODER_ASSET}/{args.variant}"
    train(args.variant, out, args.vae, args.steps, args.batch_size, args.lr, args.seed,
          args.work_dir or (f"runs/decoder/{Path(out).name}" if args.out else None), args.frames, crop=args.crop,
          checkpoint_every=args.checkpoint_every)
    print(f"temporal decoder ({args.variant}) written to {out}")
    return 0


def translate(args) -> int:
    from .commands import _threads

    _threads()
    from engine.pipelines.translate import translate_file

    path, _, notes = translate_file(args.input, args.out, args.prompt, args.strength, args.steps, args.guidance,
                                    args.seed, args.expert, args.decoder, args.scheduler, args.device, args.dtype,
                                    args.segment_frames)
    for note in notes:
        print(f"note: {note}")
    print(path)
    return 0
