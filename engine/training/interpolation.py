"""Train the interpolation models on world clips (ground truth at any frame rate comes from the renderer).

A training clip is 4K−3 frames rendered at 32/s fps (K keyframes: every 4th frame). The skip-frame value s
is the number of 1/32-second steps between output frames: s = 4 is 2 fps keyframes → 8 fps, s = 1 is 8 fps
→ 32 fps. The group model sees s ∈ 1…6 (half the clips at s = 4, the cascade's step) and is told s; the
masked model trains at s = 4 only, as MPL-Video's module does (fixed 8 fps).

By default both learn the residual form: what linear blending of the keyframes misses, predicted as x0
(`residual`, engine/models/interpolation.py). In the papers' form (`residual=False`) both regress v (the group
model always, as FusionFrames does; the masked model its keyframe model's target, v for the embedded base). Either
way with the plain MSE of the papers' objectives (no Min-SNR weighting: the keyframes
matter most at high noise, which Min-SNR all but ignores), with the keyframes perturbed by a random number of
forward-diffusion steps tp ∈ 0…250 that the model is told (conditional frame perturbation / noise conditioning
augmentation), and replaced by zeros a tenth of the time (m = 0) so that context guidance works. The group
model's target is the three middle frames of every gap; the masked model's is every frame. The blend a residual
is taken against is of the clean keyframes, which sampling has too.

The group model's three middle frames share their noise (PYoCo's mixed prior with ρ = NOISE_SHARE = 1; see
`frame_noise`). With independent noise, the replicated output conv (three copies of the base's frame) is wrong
by a whole noise draw in two of the three frames, and a UNet 32 channels wide learns only slowly to carry three
frames' noise apart: after 150 steps the second and third frames' v-error at t = 100 was still 1.03 (0.28 for
the first). With shared noise the copies are wrong only by how much the frames differ (0.03 after the same
150 steps), and what is left to learn is the motion.

A latent (SD-style) base's model learns on the clips' VAE latents (rendered at the base's frame size and encoded
each step, the VAE frozen), so "frames" above are latent frames there.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import DDPMScheduler

from ..distributed import process_state
from ..models.base import load_base
from ..models.interpolation import (FACTOR, KEYFRAME_MODE, METHODS, MaskedInterpolationUNet, blend_clip,
                                    blend_middles, frames_as_slots, keyframe_pairs, middle_frames, noise_augment, output_frames, save_interpolator,
                                    slots_as_frames)
from ..tuning import ASSET as MODES_ASSET
from ..sidecar import model_hash, recorded_path
from ..registry import is_tuned_folder
from ..world.render import render
from ..world.splits import sample_split_spec
from ..world.vocab import CLIP_SECONDS
from .base import diffusion_loss
from .checkpoint import run_folder
from .loop import train_loop

BASE_RATE = 32.0       # fps of skip-frame 1
CASCADE_SKIP = 4       # 2 fps keyframes → 8 fps: the cascade's interpolation step
SKIPS = (1, 2, 3, 4, 5, 6)
MAX_LEVEL = 250        # FusionFrames: perturbation level tp ∈ {0, …, 250}
UNCOND_PROB = 0.1      # FusionFrames' uncond_prob: keyframes replaced by zeros (m = 0)
RESIDUAL_SCHEDULE = {"prediction_type": "sample", "sample_max_value": 2.0, "clip_sample_range": 2.0}
# a residual (frames − blend, at most ±1.5) is predicted as x0; DDIM clips it at ±2, DPM-Solver++'s thresholding
# (sample_max_value 1, as for every pixel model) at ±1, which only a near-black/white edge's residual exceeds
NOISE_SHARE = 1.0      # group model: the three middle frames share their noise (see the module's docstring)


def interp_batch(step: int, batch_size: int, seed: int = 0, size: int = 32, keyframes: int = 8,
                 skips=SKIPS, cascade_share: float = 0.5) -> dict:
    """Train-split clips of 4K−3 frames in [-1, 1] (B, 3, F, H, W) at random skip-frame values (a share
    `cascade_share` at s = 4) and start times; deterministic in (step, seed)."""
    rng = np.random.default_rng([seed, 1357, step])
    frames, skip = output_frames(keyframes), []
    clips = []
    for i in range(batch_size):
        spec, _ = sample_split_spec("train", step * batch_size + i, seed + 2)
        s = CASCADE_SKIP if CASCADE_SKIP in skips and rng.random() < cascade_share else int(rng.choice(skips))
        fps = BASE_RATE / s
        t0 = rng.uniform(0, max(0.0, CLIP_SECONDS - (frames - 1) / fps))
        clips.append(render(spec, size, fps, frames, t0).permute(1, 0, 2, 3))  # f c h w -> c f h w
        skip.append(float(s))
    return {"frames": torch.stack(clips) * 2 - 1, "skip": torch.tensor(skip), "seed": int(rng.integers(2**31))}


def conditioning_draws(batch: dict, shape: tuple, alphas_cumprod: torch.Tensor, context: torch.Tensor):
    """The keyframes perturbed at random levels and dropped (zeros, level 0) with probability UNCOND_PROB;
    drawn for the global batch and sliced to this process's rows. Returns (context, level)."""
    g = torch.Generator().manual_seed(batch["seed"] + 1)
    start, stop, n = batch.get("rows") or (0, shape[0], shape[0])
    level = torch.randint(0, MAX_LEVEL + 1, (n,), generator=g)[start:stop]
    keep = (torch.rand(n, generator=g) >= UNCOND_PROB)[start:stop]
    noise = torch.randn((n, *shape[1:]), generator=g)[start:stop].to(context.device)
    level = level * keep
    context = noise_augment(context, level, noise, alphas_cumprod)
    return context * keep.to(context.device, context.dtype).view(-1, *([1] * (context.ndim - 1))), level


def group_loss(model, scheduler, batch: dict, snr_gamma: float | None) -> torch.Tensor:
    """v-loss on the three middle frames of every gap (a residual model: x0-loss on what blending the keyframes
    misses), given each gap's (perturbed) keyframe pair; the three frames' noise shares the model's `noise_share`."""
    clip = batch["frames"]
    pairs = keyframe_pairs(clip[:, :, ::FACTOR])
    x0 = middle_frames(clip) - (blend_middles(pairs) if model.config.get("residual") else 0)
    pairs, level = conditioning_draws(batch, pairs.shape, scheduler.alphas_cumprod, pairs)
    gaps = pairs.shape[2]
    forward = lambda noisy, t, _: slots_as_frames(model(frames_as_slots(noisy, gaps), t, pairs, level.to(clip.device),
                                                        batch["skip"]))
    return diffusion_loss(forward, None, slots_as_frames(x0), scheduler, batch["seed"], snr_gamma,
                          batch.get("rows"), noise_share=model.config.noise_share)


def masked_loss(model, scheduler, batch: dict, snr_gamma: float | None) -> torch.Tensor:
    """The keyframe model's loss on every frame of the clip (a residual model: x0-loss on what blending the
    keyframes misses), given its (perturbed) keyframes in the masked input."""
    clip = batch["frames"]
    mask = torch.zeros(clip.shape[0], 1, clip.shape[2], 1, 1, device=clip.device)
    mask[:, :, ::FACTOR] = 1
    context, level = conditioning_draws(batch, clip.shape, scheduler.alphas_cumprod, clip)
    forward = lambda noisy, t, _: model(noisy, t, context, mask, level.to(clip.device))
    x0 = clip - (blend_clip(clip[:, :, ::FACTOR]) if model.config.get("residual") else 0)
    return diffusion_loss(forward, None, x0, scheduler, batch["seed"], snr_gamma, batch.get("rows"))


LOSSES = {"group": group_loss, "masked": masked_loss}


def train_interpolator(method: str, out: str | Path, steps: int = 2000, batch_size: int = 4, lr: float = 1e-3,
                       seed: int = 0, base: str | Path | None = None, tuned: str | Path | None = None,
                       work_dir: str | Path | None = None, checkpoint_every: int = 100, size: int | None = None,
                       keyframes: int = 8, snr_gamma: float | None = None, noise_share: float = NOISE_SHARE,
                       residual: bool = True, on_step=None) -> dict:
    """Train `method` ('group' or 'masked') from the base (the masked model from the keyframe model: the base
    and the tuned mode `tuned`, by default the embedded one) on world clips of `size`² pixels (default: the base's
    frame size); write `out` (fp16) and return the loop's final state. Resumes from `work_dir` (default
    runs/interp/METHOD). A latent base's model works on VAE latents; its folder records the VAE's hash.
    `residual` (the default): learn what blending the keyframes misses, as x0 (engine/models/interpolation.py);
    False: the papers' form, the frames themselves (the group model with v-prediction)."""
    if method not in METHODS:
        raise ValueError(f"unknown interpolation method {method!r}; choose one of: {', '.join(METHODS)}")
    b = load_base(base, device=process_state().device)
    size = size or b.unet.config.sample_size * b.vae_scale_factor  # pixels (a latent model: what its VAE encodes)
    multiple = b.vae_scale_factor * 2 ** (len(b.unet.config.block_out_channels) - 1)
    if size % multiple:
        raise ValueError(f"--size {size} must be a multiple of {multiple} for this base (its UNet halves the "
                         f"{'latent' if b.latent else 'frame'} side {len(b.unet.config.block_out_channels) - 1} times)")
    if method == "masked":
        default = MODES_ASSET / KEYFRAME_MODE  # the embedded keyframe model, on the embedded base only
        tuned = tuned or (default if base is None and is_tuned_folder(default) else None)
        model = MaskedInterpolationUNet.from_base(b, tuned, residual=residual)
    else:
        model = METHODS[method].from_base(b, noise_share, residual)
    model.requires_grad_(True)
    # FusionFrames' group model predicts v whatever the base did; MPL-Video's keeps its keyframe model's target
    # (and, whatever the base's output, no learned variance: the interpolators predict the frames' v or ε only)
    config = {**{k: v for k, v in b.scheduler.config.items() if k != "variance_type"},
              **({"prediction_type": "v_prediction"} if method == "group" else {}),
              **(RESIDUAL_SCHEDULE if residual else {})}
    scheduler = DDPMScheduler.from_config(config)
    skips = SKIPS if method == "group" else (CASCADE_SKIP,)
    work_dir = run_folder(work_dir or f"runs/interp/{method}")
    loss = LOSSES[method]

    def step_loss(batch):
        if b.latent:  # a latent base: the model learns on the clips' VAE latents
            with torch.no_grad():
                batch = {**batch, "frames": b.encode(batch["frames"])}
        return loss(model, scheduler, batch, snr_gamma)

    state = train_loop({"model": model}, lambda s: interp_batch(s, batch_size, seed, size, keyframes, skips),
                       step_loss, steps, work_dir, lr=lr, checkpoint_every=checkpoint_every,
                       title=f"interpolation ({method})", on_step=on_step)
    if process_state().is_main_process:
        latent = {"latent": True, "vae_hash": model_hash(b.vae)} if b.latent else {"latent": False}
        record = {**latent, "target": "residual" if residual else "frames", "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "size": size,
                  "keyframes": keyframes, "skips": list(skips), "max_level": MAX_LEVEL, "uncond_prob": UNCOND_PROB,
                  "snr_gamma": snr_gamma, "noise_share": model.config.get("noise_share"), "base": str(base or "embedded"), "base_hash": model_hash(b.unet),
                  "tuned": recorded_path(tuned) if tuned else None, "final_loss": state["losses"][-1] if state["losses"] else None}
        save_interpolator(model, dict(config), out, record, [work_dir / "loss.png"])
    process_state().wait_for_everyone()
    return state
