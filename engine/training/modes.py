"""Train a tuning mode (engine.tuning) of the inflated base on world videos (keyframes: 8 frames at 2 fps, 32×32 by
default), or on batches given (engine.tune).

The same loop as the base (accelerate, EMA, checkpoints that resume); the text encoder stays frozen.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..distributed import process_state
from ..models.base import load_base
from ..models.text import encode_prompts
from ..sidecar import model_hash
from ..tuning import apply_mode, load_tuned, read_tuned, save_tuned
from ..models.inflate import VideoUNet, inflate
from ..motion import clip_noise, object_plan
from ..world.render import render
from ..world.splits import sample_split_spec
from .base import CAPTION_DROPOUT, diffusion_loss
from .checkpoint import run_folder
from .loop import train_loop

KEYFRAMES = {"size": 32, "fps": 2.0, "frames": 8}


def video_batch(step: int, batch_size: int, seed: int = 0, size: int = 32, fps: float = 2.0, frames: int = 8) -> dict:
    """Clips in [-1, 1] (B, 3, F, H, W), captions, and each clip's true motion plan (its object's own
    trajectory: the world knows every clip's flow exactly), deterministic in (step, seed)."""
    rng = np.random.default_rng([seed, 8765, step])
    clips, captions, plans = [], [], []
    for i in range(batch_size):
        spec, text = sample_split_spec("train", step * batch_size + i, seed + 1)
        clips.append(render(spec, size, fps, frames).permute(1, 0, 2, 3))  # f c h w -> c f h w
        captions.append("" if rng.random() < CAPTION_DROPOUT else text)
        obj = spec.objects[0]
        plans.append(object_plan(obj.motion, frames, fps, 1.0, obj.phase))
    return {"pixels": torch.stack(clips) * 2 - 1, "captions": captions, "plans": plans,
            "seed": int(rng.integers(2**31))}


def start_video(b, mode: str, ablate=(), init: str | Path | None = None) -> VideoUNet:
    """The video UNet a tune starts from: `mode` (less `ablate`) on the inflated base `b`, or the tuned folder
    `init`, which must hold that mode (and then no ablations)."""
    if init is None:
        return apply_mode(inflate(b.unet), mode, set(ablate))
    video = load_tuned(b.unet, init)  # says what is wrong with a folder that is not a tuned mode
    found = read_tuned(init).mode
    if found != mode or ablate:
        raise ValueError(f"{init} holds a tuned {found!r} mode; start a {mode!r} run from a folder of that mode "
                         "(and without --ablate)")
    return video


def caption_encoder(b, tune_text: bool):
    """captions -> the base's text states for them: encoded every step when the text encoder trains
    (`tune_text`), else once a caption, without gradients, and kept."""
    cache: dict[str, torch.Tensor] = {}

    def cached(captions):
        missing = [c for c in set(captions) if c not in cache]
        if missing:
            for c, s in zip(missing, encode_prompts(b.tokenizer, b.text_encoder, missing)):
                cache[c] = s
        return torch.stack([cache[c] for c in captions])

    def text(captions):
        if tune_text:  # the text encoder trains: encode every step
            return encode_prompts(b.tokenizer, b.text_encoder, captions)
        with torch.no_grad():
            return cached(captions)

    return text


def train_mode(mode: str, out: str | Path, steps: int = 600, batch_size: int = 4, lr: float = 5e-4, seed: int = 0,
               base: str | Path | None = None, work_dir: str | Path | None = None, ablate=(), checkpoint_every: int = 100,
               clip=KEYFRAMES, snr_gamma: float | None = 5.0, objective=None, record: dict | None = None,
               batches=None, on_step=None, motion_weight: float = 1.0, noise_share: float = 0.0,
               timesteps: tuple[int, int] | None = None, tune_text: bool = False, warped_noise: bool = False,
               init: str | Path | None = None) -> dict:
    """Tune `mode` on world clips, or on `batches(step)` ({"pixels": (B, 3, F, H, W) in [-1, 1], "captions",
    "seed"}: a user's clips). `objective(video, text_states, pixels, seed) -> loss` replaces the ordinary
    diffusion loss (the temporal pyramid's stage-wise loss does); `record` adds to mode.json; `on_step(step,
    loss)` sees every step (see train_loop); `motion_weight` weights the part of the error that differs between
    frames, and `noise_share` mixes one noise draw into every frame (see diffusion_loss); the tuned folder
    records it, and sampling starts from the same mix. `tune_text` also tunes the text encoder (saved beside the
    mode): one trained with an image base on stills maps motion words, which say nothing about a still, to
    nearly one state, so no temporal module could read them. `warped_noise` trains on noise warped along each
    world clip's true flow (Go-with-the-Flow; engine.motion.clip_noise) instead of independent noise. `init`: a
    tuned folder of the same mode to start from (its tuned weights) instead of the zero-initialised modules."""
    b = load_base(base, device=process_state().device)  # under `accelerate launch`: this process's device
    video = start_video(b, mode, ablate, init)
    b.text_encoder.requires_grad_(False)
    if b.vae is not None:
        b.vae.requires_grad_(False)
    scheduler = b.noise_scheduler()  # the base's own schedule (SD's is not the embedded cosine) and ε or v
    work_dir = run_folder(work_dir or f"runs/modes/{mode}")
    base_hash = model_hash(b.unet)
    b.text_encoder.requires_grad_(tune_text)
    text = caption_encoder(b, tune_text)

    def loss(batch):
        with torch.no_grad():
            x0 = b.encode(batch["pixels"])  # latent models: VAE latents; pixel models: the clips themselves
        if objective is not None:
            return objective(video, text(batch["captions"]), x0, batch["seed"])
        noise = None
        if warped_noise:
            g = torch.Generator().manual_seed(batch["seed"] + 1)
            noise = clip_noise(batch["pixels"], batch["plans"], tuple(x0.shape), g)
        return diffusion_loss(video, text(batch["captions"]), x0, scheduler, batch["seed"], snr_gamma, batch.get("rows"),
                              motion_weight, noise_share, timesteps, noise)

    world = batches is None
    if warped_noise and not world:
        raise ValueError("warped-noise tuning needs world clips, whose flow is known; given clips have none")
    batches = batches or (lambda s: video_batch(s, batch_size, seed, **clip))
    models = {"video": video, **({"text_encoder": b.text_encoder} if tune_text else {})}
    state = train_loop(models, batches, loss, steps, work_dir, lr=lr, checkpoint_every=checkpoint_every,
                       title=f"mode {mode}", on_step=on_step)
    if process_state().is_main_process:  # every process holds the same weights; one writes them
        data = {"batch_size": batch_size, "clip": clip, "motion_weight": motion_weight} if world else {"data": "given clips"}
        save_tuned(video, out, base_hash, {"steps": steps, "lr": lr, **data, "noise_share": noise_share,
                                           "timesteps": list(timesteps) if timesteps else None,
                                           "tune_text": tune_text, "noise": "warped" if warped_noise else "plain",
                                           "init": str(init) if init else None,
                                           "snr_gamma": None if objective else snr_gamma, **(record or {})}, ablate,
                   b.text_encoder if tune_text else None)
    process_state().wait_for_everyone()
    return state
