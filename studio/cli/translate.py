"""`flipbook translate`, `train-vae`, `train-expert` and `train-decoder`: the latent end of the cascade
(MPL-Video §3.6's expert translation, FusionFrames' temporal video decoder; engine.pipelines.translate,
engine.training.expert, engine.training.decoder).
(Engine imports are inside the handlers: diffusers and the models load only when a command runs, not for --help.)"""
from __future__ import annotations

import argparse
from pathlib import Path

from .options import (HelpFormatter, add_model, add_device, add_out, add_seed, add_training, channels, finite_float,
                      non_negative_float, positive_float, positive_int, sizes, use_threads)
from .progress import StageProgress

VAE_ASSET, EXPERT_ASSET, DECODER_ASSET = "assets/vae", "assets/expert", "assets/decoder"


def add_commands(sub):
    t = sub.add_parser("translate", help="refine a clip's detail with the latent expert (SDEdit from t ≤ 900)",
                       description=translate.__doc__, formatter_class=HelpFormatter)
    t.add_argument("--input", required=True, help="the clip (.mp4, .gif, .webm), e.g. the output of `flipbook upscale`")
    add_out(t)
    t.add_argument("--prompt", default=None, help="what the clip shows (default: its sidecar's prompt, else none)")
    t.add_argument("--strength", type=finite_float, default=0.5,
                   help="how far into the noise, in [0, 0.9] (0: through the VAE alone, no denoising)")
    t.add_argument("--steps", type=positive_int, default=20, help="steps over the whole schedule")
    t.add_argument("--guidance", type=finite_float, default=1.0, help="classifier-free guidance (1: none)")
    add_seed(t)
    t.add_argument("--expert", default=None, help=f"an expert folder (default {EXPERT_ASSET}/t900)")
    t.add_argument("--decoder", default=None, help="conv1d, conv3d, conv1d-attn, conv3d-attn, a folder, or image "
                                                   "(default: the best temporal decoder trained on its VAE, else image)")
    t.add_argument("--size", type=positive_int, default=None,
                   help="the output's long side (default: the expert's, 128); larger goes up in resolution")
    t.add_argument("--detail-sigma", type=positive_float, default=None,
                   help="keep the input's colours: its frequencies below a Gaussian of this many output pixels, the "
                        "translation's detail above (e.g. 0.5, measured at 512²; default: the translated frames as "
                        "they are)")
    t.add_argument("--segment-frames", type=positive_int, default=8,
                   help="frames denoised together; longer clips run in segments sharing a frame")
    t.add_argument("--scheduler", default="dpm++", choices=["dpm++", "ddim"], help="the sampler")
    add_device(t)
    t.set_defaults(run=translate)


def add_trainers(sub):
    v = sub.add_parser("train-vae", help="train the VAE on world stills at the top resolution (assets/vae)",
                       description=train_vae.__doc__, formatter_class=HelpFormatter)
    add_training(v, steps=2000, batch_size=4, name="vae")
    v.add_argument("--lr", type=positive_float, default=5e-4, help="learning rate")
    v.add_argument("--size", type=positive_int, default=128, help="frame side (128: what upscale produces)")
    v.add_argument("--crop", type=positive_int, default=64, help="train on random crops of this side")
    v.add_argument("--channels", default="16,32,64", help="block channels, comma-separated (3 levels: 4× down)")
    v.add_argument("--checkpoint-every", type=positive_int, default=250, help="steps between checkpoints")
    v.set_defaults(run=train_vae)
    _train_expert_parser(sub)
    _train_decoder_parser(sub)


def _latent_training(parser, steps: int):
    parser.add_argument("--steps", type=positive_int, default=steps, help="optimiser steps")
    parser.add_argument("--batch-size", type=positive_int, default=2, help="clips a step")
    parser.add_argument("--lr", type=positive_float, default=5e-4, help="learning rate")
    add_seed(parser)


def _train_expert_parser(sub):
    e = sub.add_parser("train-expert", help="train the latent expert video model on t ≤ --max-timestep "
                                            "(assets/expert/tN)", description=train_expert.__doc__, formatter_class=HelpFormatter)
    e.add_argument("--max-timestep", type=positive_int, default=900, help="highest timestep drawn")
    _latent_training(e, 2000)
    e.add_argument("--mode", default="ff-conv1d-attn1d-blocks", help="the tuning mode whose temporal modules it has")
    e.add_argument("--channels", default="32,64,64", help="UNet block channels, comma-separated")
    e.add_argument("--frames", type=positive_int, default=8, help="frames a clip, at 8 fps")
    e.add_argument("--size", type=positive_int, default=None,
                   help="frame side it trains on and translates at (default: the VAE's; more than the pixel stage's "
                        "output makes translation upsample, as MPL-Video's expert does)")
    e.add_argument("--crop", type=positive_int, default=64, help="train on random crops of this side (the size for "
                                                                "whole frames)")
    e.add_argument("--noise-share", type=finite_float, default=0.0,
                   help="share of one noise draw mixed into every frame, in [0, 1] (translation noises the same way)")
    e.add_argument("--checkpoint-every", type=positive_int, default=100, help="steps between checkpoints")
    e.add_argument("--vae", default=None, help=f"the VAE folder (default {VAE_ASSET})")
    add_model(e, generation=False)
    e.add_argument("--out", default=None, help=f"default {EXPERT_ASSET}/tMAX_TIMESTEP")
    e.add_argument("--work-dir", default=None, help="checkpoints (default runs/expert/NAME); resumes from here")
    e.set_defaults(run=train_expert)


def _train_decoder_parser(sub):
    d = sub.add_parser("train-decoder", help="fine-tune a temporal video decoder on world clips (assets/decoder/VARIANT)",
                       description=train_decoder.__doc__, formatter_class=HelpFormatter)
    d.add_argument("--variant", default="conv3d-attn", choices=["conv1d", "conv3d", "conv1d-attn", "conv3d-attn"],
                   help="the temporal layers added")
    _latent_training(d, 600)
    d.add_argument("--frames", type=positive_int, default=8, help="frames a clip")
    d.add_argument("--crop", type=positive_int, default=64, help="random crops of this side")
    d.add_argument("--finetune", default="temporal", choices=["temporal", "decoder"],
                   help="what trains: the temporal layers alone, or the whole decoder with them (the encoder stays "
                        "frozen, so every latent still decodes)")
    d.add_argument("--sizes", type=sizes, default=None,
                   help="render sides taken in turn, e.g. 128,256,512 (default: the VAE's own size)")
    d.add_argument("--still", action=argparse.BooleanOptionalAction, default=True,
                   help="temporal layers that keep a still clip still (edge padding, no frame positions); "
                        "--no-still: zero padding and frame positions, as decoders trained before")
    d.add_argument("--change-weight", type=non_negative_float, default=0.0,
                   help="weight of a loss on the change between consecutive frames (flicker) beside the "
                        "reconstruction's; 0: reconstruction alone, as FusionFrames")
    d.add_argument("--checkpoint-every", type=positive_int, default=100, help="steps between checkpoints")
    d.add_argument("--vae", default=None, help=f"the VAE folder (default {VAE_ASSET})")
    d.add_argument("--out", default=None, help=f"default {DECODER_ASSET}/VARIANT")
    d.add_argument("--work-dir", default=None, help="checkpoints (default runs/decoder/VARIANT); resumes from here")
    d.set_defaults(run=train_decoder)


def train_vae(args) -> int:
    """A small AutoencoderKL (4× down-sampling, 4 latent channels) trained on world stills rendered at --size (random
    --crop crops), reconstruction MSE and a small KL term; its latents' scaling factor is measured afterwards.
    Resumes from --work-dir."""
    levels = channels(args.channels)
    use_threads()
    # heavy: the trainer (diffusers, the engine's models, accelerate) loads only when it runs, not for --help
    from engine.training.expert import train_vae as train

    train(args.out, args.steps, args.batch_size, args.lr, args.seed, args.work_dir, args.size, args.crop, levels,
          checkpoint_every=args.checkpoint_every)
    print(f"VAE written to {args.out}")
    return 0


def train_expert(args) -> int:
    """MPL-Video's expert translation model: a latent UNet inflated with a tuning mode's temporal modules, reading the
    base's text encoder, trained from scratch on world clips encoded by the VAE, on timesteps 0..--max-timestep
    only (900: the expert; 1000: the ordinary model it is compared with). Resumes from --work-dir."""
    levels = channels(args.channels)
    use_threads()
    # heavy: the trainer (diffusers, the engine's models, accelerate) loads only when it runs, not for --help
    from engine.training.expert import train_expert as train

    out = args.out or f"{EXPERT_ASSET}/t{args.max_timestep}"
    train(out, args.max_timestep, args.steps, args.batch_size, args.lr, args.seed, args.vae, args.model, args.work_dir,
          args.mode, levels, args.frames, crop=args.crop, size=args.size, noise_share=args.noise_share,
          checkpoint_every=args.checkpoint_every)
    print(f"expert (t ≤ {args.max_timestep}) written to {out}")
    return 0


def train_decoder(args) -> int:
    """FusionFrames' video decoder: the VAE's decoder with temporal layers after every resnet (zero at first: the image
    decoder), tuned alone (--finetune temporal) or with the whole decoder (--finetune decoder, Table 3's best rows) on
    the reconstruction of 8-frame world clips rendered at --sizes. Resumes from --work-dir."""
    use_threads()
    # heavy: the trainer (diffusers, the engine's models, accelerate) loads only when it runs, not for --help
    from engine.training.decoder import train_decoder as train

    out = args.out or f"{DECODER_ASSET}/{args.variant}"
    train(args.variant, out, args.vae, args.steps, args.batch_size, args.lr, args.seed,
          args.work_dir or (f"runs/decoder/{Path(out).name}" if args.out else None), args.frames, crop=args.crop,
          checkpoint_every=args.checkpoint_every, finetune=args.finetune, sizes=args.sizes, still=args.still,
          change_weight=args.change_weight)
    print(f"temporal decoder ({args.variant}) written to {out}")
    return 0


def translate(args) -> int:
    """Expert translation: the clip is resized (bilinear) to the expert's resolution, encoded, noised to the last
    --strength part of the schedule, denoised with the same prompt and decoded (a temporal decoder if one was
    trained, else the image decoder)."""
    use_threads()
    # heavy: diffusers and the engine's models load only when the command runs, not for --help
    from engine.translate import translate_file

    progress = StageProgress({"translate": None})  # the last --strength of the steps, in every segment
    path, _, notes = translate_file(args.input, args.out, args.prompt, args.strength, args.steps, args.guidance,
                                    args.seed, args.expert, args.decoder, args.scheduler, args.device, args.dtype,
                                    args.segment_frames, callback=progress.step, side=args.size,
                                    detail_sigma=args.detail_sigma)
    progress.close()
    for note in notes:
        print(f"note: {note}")
    print(path)
    return 0
