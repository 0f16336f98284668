"""Train the embedded text-to-image base (IF-like, pixel space, 32×32) on world frames.

Each training image is one frame of a train-split clip at a random moment, with the clip's caption;
10% of captions are dropped so that classifier-free guidance works. The UNet and the text encoder train
together from scratch; the saved asset holds their EMA weights in fp16.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler

from ..distributed import process_state
from ..metrics import attribute_accuracy, load_judge
from ..models.base import base_unet, load_base, model_output, train_scheduler
from ..models.text import build_text_encoder, build_tokenizer, encode_prompts
from ..pipelines.distributed import generate_split
from ..pipelines.load import keyframe_pipeline
from ..world.render import render_at
from ..world.splits import sample_split_spec
from ..world.vocab import CLIP_SECONDS
from ..diffusion.noise import frame_noise
from ..files import atomic_folder
from .checkpoint import run_folder
from .loop import train_loop

CAPTION_DROPOUT = 0.1


def image_batch(step: int, batch_size: int, seed: int = 0, size: int = 32) -> dict:
    """Frames in [-1, 1] (B, 3, size, size) and captions, deterministic in (step, seed)."""
    rng = np.random.default_rng([seed, 4321, step])
    images, captions = [], []
    for i in range(batch_size):
        spec, text = sample_split_spec("train", step * batch_size + i, seed)
        t = torch.tensor([rng.uniform(0, CLIP_SECONDS)])
        images.append(render_at(spec, t, size)[0])
        captions.append("" if rng.random() < CAPTION_DROPOUT else text)
    return {"pixels": torch.stack(images) * 2 - 1, "captions": captions, "seed": int(rng.integers(2**31))}


def diffusion_loss(unet_forward, text_states, x0: torch.Tensor, scheduler, seed: int,
                   snr_gamma: float | None = None, rows: tuple[int, int, int] | None = None,
                   motion_weight: float = 1.0, noise_share: float = 0.0,
                   timesteps: tuple[int, int] | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
    """MSE against the scheduler's target (ε, v = a·ε − b·x0, or x0 itself for prediction_type "sample") at
    uniformly drawn timesteps (works for image and video UNets alike).

    With `snr_gamma`, each sample's loss is weighted by min(SNR, γ)/SNR for ε and min(SNR, γ)/(SNR + 1) for v
    and min(SNR, γ) for x0 (Min-SNR-γ, Hang et al. 2023): the nearly clean timesteps, whose target is easy and
    dominates the gradients, stop crowding out the middle of the schedule where shapes are decided.

    `rows` = (start, stop, n) when x0 is one process's share of a global batch of n (the training loop's
    `batch["rows"]`): noise and timesteps are drawn for all n and sliced, so each sample gets the draw it
    would get on one process. A learned variance in the UNet's output (IF-style) is left out of the loss.

    `motion_weight` λ (videos only): the error e_f of each frame splits into its mean over frames ē and the
    deviations e_f − ē, and the loss is mean(ē² + λ·(e_f − ē)²); λ = 1 is the plain MSE. Motion lives in the
    deviations; a frozen image base makes most of the error common to all frames, which drowns the motion
    part of the gradient. Any λ > 0 is a positive-definite weighting of the same error, so its minimiser is
    still the conditional mean: it changes the emphasis, not the target.

    `noise_share` ρ (videos only): each frame's noise is √ρ·(one draw shared by the clip's frames) + √(1−ρ)·(its
    own draw), PYoCo's mixed noise prior; sampling must start from the same mix (see `frame_noise`).

    `timesteps` = (lo, hi) draws t uniformly from lo..hi−1 instead of the whole schedule.

    `noise` (shaped like x0, this process's rows): the noise to use, e.g. warped along each clip's true flow
    (engine.motion.clip_noise, Go-with-the-Flow's tuning); timesteps are drawn as ever.
    """
    g = torch.Generator().manual_seed(seed)
    start, stop, n = rows or (0, x0.shape[0], x0.shape[0])
    drawn = frame_noise((n, *x0.shape[1:]), g, noise_share)[start:stop].to(x0.device)
    noise = drawn if noise is None else noise.to(x0)
    lo, hi = timesteps or (0, scheduler.config.num_train_timesteps)
    t = torch.randint(lo, hi, (n,), generator=g)[start:stop].to(x0.device)
    noisy = scheduler.add_noise(x0, noise, t)
    prediction = scheduler.config.prediction_type
    if prediction == "v_prediction":
        target = scheduler.get_velocity(x0, noise, t)
    else:
        target = x0 if prediction == "sample" else noise
    err = model_output(unet_forward(noisy, t, text_states), x0.shape[1]) - target
    if err.ndim == 5 and motion_weight != 1.0:  # b c f h w
        common = err.mean(2, keepdim=True)
        err = (common.pow(2) + motion_weight * (err - common).pow(2)).flatten(1).mean(1)  # b
    else:
        err = err.pow(2).flatten(1).mean(1)  # b
    if snr_gamma is None:
        return err.mean()
    alpha_bar = scheduler.alphas_cumprod.to(x0.device)[t]
    snr = alpha_bar / (1 - alpha_bar)
    weight = snr.clamp(max=snr_gamma)
    if prediction != "sample":
        weight = weight / (snr + 1 if prediction == "v_prediction" else snr)
    return (err * weight).mean()


def save_base(out: str | Path, unet, text_encoder, tokenizer, scheduler_config: dict, extras: list[Path] = ()):
    """Write a diffusers-format folder (fp16 safetensors), whole or not at all."""
    with atomic_folder(out) as tmp:  # reports (*.md) written beside the weights stay
        for name, model in (("unet", unet), ("text_encoder", text_encoder)):
            dtype = model.dtype
            model.to(torch.float16).save_pretrained(tmp / name, safe_serialization=True)
            model.to(dtype)
        tokenizer.save_pretrained(tmp / "tokenizer")
        DDIMScheduler.from_config(scheduler_config, timestep_spacing="trailing",
                                  clip_sample=True).save_pretrained(tmp / "scheduler")
        for extra in extras:
            if Path(extra).exists():
                shutil.copy2(extra, tmp / Path(extra).name)


def train_base(out: str | Path, steps: int = 5200, batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
               work_dir: str | Path = "runs/base", checkpoint_every: int = 250, snr_gamma: float | None = None,
               prediction: str = "epsilon", init: str | Path | None = None):
    """Train from scratch, or from the base folder `init` (a new stage: fresh optimizer, schedule and EMA)."""
    torch.manual_seed(seed)
    work_dir = run_folder(work_dir)
    if init:
        start = load_base(init)
        tokenizer, text_encoder, unet = start.tokenizer, start.text_encoder, start.unet
    else:
        tokenizer = build_tokenizer()
        text_encoder = build_text_encoder(tokenizer)
        unet = base_unet()
    scheduler = train_scheduler(prediction)

    def loss(b):
        states = encode_prompts(tokenizer, text_encoder, b["captions"])
        return diffusion_loss(lambda x, t, s: unet(x, t, s).sample, states, b["pixels"], scheduler, b["seed"],
                              snr_gamma, b.get("rows"))

    train_loop({"unet": unet, "text_encoder": text_encoder}, lambda s: image_batch(s, batch_size, seed), loss,
               steps, work_dir, lr=lr, checkpoint_every=checkpoint_every, title="base (text-to-image)")
    if process_state().is_main_process:  # under `accelerate launch` every process holds the same weights
        save_base(out, unet, text_encoder, tokenizer, dict(scheduler.config), [Path(work_dir) / "loss.png"])
    process_state().wait_for_everyone()


@torch.no_grad()
def evaluate_base(base: str | Path | None = None, n: int = 200, steps: int = 25, guidance: float = 4.0,
                  batch: int = 50, seed: int = 0, scheduler: str = "dpm++") -> dict[str, dict[str, float]]:
    """Judge the base's stills (one frame, repeated) on validation and held-out prompts. Under `accelerate
    launch` the prompts are split across processes (each prompt has its own seed, so the numbers do not
    depend on how many processes share them)."""
    pipe, _ = keyframe_pipeline("zero-shot", scheduler, model=base)
    judge = load_judge()
    results = {}
    for split in ("val", "heldout"):
        prompts = [sample_split_spec(split, i, seed + 7)[1] for i in range(n)]
        frames = generate_split(pipe, prompts, seed, batch, num_frames=1, num_inference_steps=steps,
                                guidance_scale=guidance)  # b 1 c h w
        stills = frames.permute(0, 2, 1, 3, 4).repeat(1, 1, 2, 1, 1)  # b c 2 h w: a still clip
        acc = attribute_accuracy(judge, stills, prompts)
        results[split] = {k: v for k, v in acc.items() if k in ("shape", "colour", "size", "background")}
    return results


def base_report(results: dict, n: int, steps: int, guidance: float, scheduler: str = "dpm++") -> str:
    keys = ("shape", "colour", "size", "background")
    rows = [f"| {split} | " + " | ".join(f"{r.get(k, float('nan')):.3f}" for k in keys) + " |" for split, r in results.items()]
    return ("# Base (text-to-image) accuracy\n\n"
            f"{n} prompts a split, one still each ({steps} {scheduler} steps, guidance {guidance}), judged for the\n"
            "attributes a still can show (motion needs a video).\n\n"
            "| split | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys) + "\n" + "\n".join(rows) + "\n")
