"""Train pixel super-resolution on the world: the image SR UNet on stills, then its inflation into a video SR
UNet in a tuning mode (Inflation Table 1: full or temporal; zero-shot is the inflated image model as it is).

Data: a train-split spec rendered at the low size and at `scale`× — the world's own anti-aliased render at each
size, which is what the cascade's keyframes look like — whole frames by default, or one random aligned crop of
both (`crop`² at the high size; the same window in every frame of a clip). Whole frames train better: at 64²
crops the lowest UNet level sees 8² instead of the 16² it samples at, and 300 steps reached 33.6 dB on
validation frames against 35.3 dB for whole frames (which also drew augmentation levels below 100, not 250).
Clips are `frames` frames at `fps` (8 fps: what interpolation produces) from a random start inside the clip.
`texture_share` mixes in generic texture pans (see `texture_pan`; 0.15 by default, and video tuning inherits the
image model's share). Trained on world stills only (3000 steps), the model beat bicubic on world clips by 7 dB but
lost to it on pans over a photo-like image (32.04 vs 32.11 dB, SSIM 0.920 vs 0.929, on a probe of 2 pans); with the
0.15 share it beats bicubic on both (bench/results/sr.md).

Conditioning: the bilinear-upsampled low frame, noise-augmented at a level drawn uniformly in
[0, max_noise_level) which the UNet is told (IF stage II). For clips, with probability `carry_prob` the first
frame's condition is its high-resolution frame instead: what the upscale pipeline puts there when it carries
the last frame of one segment into the next (MPL-Video §3.5), so the temporal layers learn to spread it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from diffusers import DDPMScheduler

from ..diffusion.noise import frame_noise
from ..distributed import process_state
from ..models.base import load_base, train_scheduler
from ..models.inflate import inflate
from ..models.sr import RECORD, SR_CHANNELS, augment, load_sr, sr_forward, sr_unet, upsample
from ..models.text import encode_prompts
from ..tuning import save_tuned
from ..sidecar import recorded_path
from ..tuning import apply_mode
from ..world.render import frame_times, render_at
from ..world.splits import sample_split_spec
from ..world.vocab import CLIP_SECONDS
from .base import CAPTION_DROPOUT, diffusion_loss, save_base
from .checkpoint import run_folder
from .loop import train_loop

VIDEO_LR = {"full": 1e-4, "temporal": 5e-4}  # the adapters start at zero and need the larger steps


def texture_pan(rng: np.random.Generator, size: int, frames: int = 1, scale: int = 4) -> torch.Tensor:
    """A generic texture, not from the world, panned a few pixels a frame: (F, 3, size, size) in [0, 1]. Colour
    gratings of random frequency and orientation over a random colour, crossed by a few hard, anti-aliased straight
    edges: it teaches the model that not every low-resolution variation is a world edge to sharpen. The gratings
    stay below 0.4 cycles a low-resolution pixel (the low size's Nyquist limit is 0.5): finer ones alias when
    box-filtered, so their residual cannot be predicted from the low frame, and a 0.25 share of gratings up to
    1.2 cycles a low pixel kept the loss flat at 0.01 for 3000 steps and the model no better than bicubic."""
    vy, vx = rng.integers(-3, 4, 2)
    side = size + 3 * (frames - 1)
    y, x = torch.meshgrid(torch.arange(side) + 0.5, torch.arange(side) + 0.5, indexing="ij")
    img = torch.tensor(rng.uniform(0.2, 0.8, 3), dtype=torch.float32).view(3, 1, 1).repeat(1, side, side)
    for _ in range(rng.integers(2, 6)):
        f, a, phase = rng.uniform(0.01, 0.4) / scale, rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        amp = torch.tensor(rng.uniform(-0.2, 0.2, 3), dtype=torch.float32).view(3, 1, 1)
        img = img + amp * torch.sin(2 * np.pi * f * (x * np.cos(a) + y * np.sin(a)) + phase)
    for _ in range(rng.integers(0, 4)):
        a, offset = rng.uniform(0, 2 * np.pi), rng.uniform(0, side)
        alpha = (0.5 - (x * np.cos(a) + y * np.sin(a) - offset)).clamp(0, 1) * rng.uniform(0.3, 0.8)  # a half-plane
        img = img * (1 - alpha) + torch.tensor(rng.uniform(0, 1, 3), dtype=torch.float32).view(3, 1, 1) * alpha
    oy, ox = (3 * (frames - 1) if vy < 0 else 0), (3 * (frames - 1) if vx < 0 else 0)
    crops = [img[:, oy + k * vy:oy + k * vy + size, ox + k * vx:ox + k * vx + size] for k in range(frames)]
    return torch.stack(crops).clamp(0, 1)


def sr_batch(step: int, batch_size: int, seed: int = 0, low: int = 32, scale: int = 4, crop: int | None = 64,
             frames: int = 1, fps: float = 8.0, texture_share: float = 0.0) -> dict:
    """{"high": (B, 3, H, W) or (B, 3, F, H, W) in [-1, 1], "low": the same at 1/scale, "captions", "seed"},
    deterministic in (step, seed). `frames` = 1 gives stills at random moments, more gives clips at `fps`.
    A `texture_share` of the samples are generic texture pans (`texture_pan`, box-filtered to the low size,
    no caption) instead of world renders."""
    high_size = low * scale
    crop = crop or high_size
    if crop % scale or not scale <= crop <= high_size:
        raise ValueError(f"crop must be a multiple of the scale ({scale}) between {scale} and {high_size}, got {crop}")
    rng = np.random.default_rng([seed, 2468, step])
    lows, highs, captions = [], [], []
    for i in range(batch_size):
        spec, text = sample_split_spec("train", step * batch_size + i, seed + 3)
        t0 = rng.uniform(0, max(0.0, CLIP_SECONDS - (frames - 1) / fps))
        times = frame_times(fps, frames, t0)
        lo, hi = render_at(spec, times, low), render_at(spec, times, high_size)  # f 3 h w
        trng = np.random.default_rng([seed, 1357, step, i])
        if texture_share and trng.random() < texture_share:
            hi = texture_pan(trng, high_size, frames, scale)
            lo, text = torch.nn.functional.avg_pool2d(hi, scale), ""
        c = crop // scale
        y, x = rng.integers(0, low - c + 1, 2)
        lows.append(lo[..., y:y + c, x:x + c].transpose(0, 1))  # c f h w
        highs.append(hi[..., y * scale:(y + c) * scale, x * scale:(x + c) * scale].transpose(0, 1))
        captions.append("" if rng.random() < CAPTION_DROPOUT else text)
    low_t, high_t = torch.stack(lows) * 2 - 1, torch.stack(highs) * 2 - 1
    if frames == 1:
        low_t, high_t = low_t[:, :, 0], high_t[:, :, 0]
    return {"high": high_t, "low": low_t, "captions": captions, "seed": int(rng.integers(2**31))}


def sr_loss(unet, text: torch.Tensor, high: torch.Tensor, low: torch.Tensor, scheduler, seed: int,
            max_noise_level: int = 100, carry_prob: float = 0.0, snr_gamma: float | None = None,
            rows: tuple[int, int, int] | None = None, residual: bool = True, noise_share: float = 0.0,
            noising=None, align_corners: bool = False) -> torch.Tensor:
    """The diffusion loss of `high` given the augmented, upsampled `low` (images or clips; an image UNet or a
    VideoUNet). With `residual` the diffused sample is what bicubic upsampling misses, high − bicubic(low) (see
    `engine.models.sr`). `noise_share`: clips' frames share their diffusion noise by this much (what the upscale
    pipeline samples from). `noising`: the condition's augmentation schedule (default `scheduler`); `align_corners`:
    how the condition is upsampled (IF stage II's way: True). Levels, augmentation noise and carries are drawn for
    the global batch, sliced by `rows`."""
    g = torch.Generator().manual_seed(seed + 1)
    start, stop, n = rows or (0, high.shape[0], high.shape[0])
    level = torch.randint(0, max(1, max_noise_level), (n,), generator=g)[start:stop].to(high.device)
    noise = torch.randn((n, *high.shape[1:]), generator=g)[start:stop]
    carry = (torch.rand(n, generator=g) < carry_prob)[start:stop].to(high.device)
    cond = upsample(low, high.shape[-2:], align_corners=align_corners)
    base = upsample(low, high.shape[-2:], "bicubic")
    if high.ndim == 5 and carry.any():  # the segment's first frame: the carried, already upscaled frame
        for x in (cond, base):
            x[:, :, 0] = torch.where(carry[:, None, None, None], high[:, :, 0], x[:, :, 0])
    x0 = high - base if residual else high
    cond = augment(cond, level, noising or scheduler, noise)
    forward = lambda x, t, s: sr_forward(unet, x, cond, t, s, level)
    return diffusion_loss(forward, text, x0, scheduler, seed, snr_gamma, rows, noise_share=noise_share)


def _text_cache(tokenizer, text_encoder):
    """Frozen text states per caption, encoded once."""
    cache: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def states(captions: list[str]) -> torch.Tensor:
        missing = [c for c in dict.fromkeys(captions) if c not in cache]
        if missing:
            cache.update(zip(missing, encode_prompts(tokenizer, text_encoder, missing)))
        return torch.stack([cache[c] for c in captions])
    return states


def train_sr_image(out: str | Path, steps: int = 3000, batch_size: int = 4, lr: float = 1e-3, seed: int = 0,
                   base: str | Path | None = None, work_dir: str | Path = "runs/sr/image", checkpoint_every: int = 250,
                   low: int = 32, scale: int = 4, crop: int | None = None, channels=SR_CHANNELS,
                   max_noise_level: int = 100, noise_level: int = 0, snr_gamma: float | None = None,
                   residual: bool = True, prediction: str = "sample", texture_share: float = 0.15) -> dict:
    """Train the image SR UNet from scratch with the base's frozen text encoder; write an SR folder (fp16).
    `noise_level` is the augmentation level sampling will use by default (recorded in sr.json)."""
    torch.manual_seed(seed)
    work_dir = run_folder(work_dir)
    b = load_base(base, device=process_state().device)
    b.text_encoder.requires_grad_(False)
    unet = sr_unet(low * scale, b.text_encoder.config.hidden_size, channels)
    if residual:  # start at "nothing to add": the bicubic upsample itself, which training can only improve on
        torch.nn.init.zeros_(unet.conv_out.weight)
        torch.nn.init.zeros_(unet.conv_out.bias)
    scheduler = train_scheduler(prediction)
    text = _text_cache(b.tokenizer, b.text_encoder)

    def loss(batch):
        return sr_loss(unet, text(batch["captions"]), batch["high"], batch["low"], scheduler, batch["seed"],
                       max_noise_level, 0.0, snr_gamma, batch.get("rows"), residual)

    batches = lambda s: sr_batch(s, batch_size, seed, low, scale, crop, texture_share=texture_share)
    state = train_loop({"unet": unet}, batches, loss, steps, work_dir,
                       lr=lr, checkpoint_every=checkpoint_every, title=f"image SR ×{scale}")
    if process_state().is_main_process:
        record = {"scale": scale, "low_size": low, "high_size": low * scale, "crop": crop or low * scale,
                  "channels": list(channels), "max_noise_level": max_noise_level, "noise_level": noise_level,
                  "steps": steps,
                  "batch_size": batch_size, "lr": lr, "seed": seed, "snr_gamma": snr_gamma,
                  "target": "residual" if residual else "image", "prediction": prediction,
                  "texture_share": texture_share,
                  "base": str(base or "embedded"), "data": "world stills, train split"}
        (Path(work_dir) / RECORD).write_text(json.dumps(record, indent=1))
        save_base(out, unet, b.text_encoder, b.tokenizer, dict(scheduler.config),
                  [Path(work_dir) / "loss.png", Path(work_dir) / RECORD])
    process_state().wait_for_everyone()
    return state


def train_sr_video(mode: str, out: str | Path, steps: int = 400, batch_size: int = 1, lr: float | None = None,
                   seed: int = 0, image: str | Path | None = None, work_dir: str | Path | None = None,
                   frames: int = 8, fps: float = 8.0, crop: int | None = None, carry_prob: float = 0.5,
                   checkpoint_every: int = 100, snr_gamma: float | None = None, noise_share: float = 1.0,
                   texture_share: float | None = None) -> dict:
    """Inflate the image SR model, add `mode`'s modules (engine.tuning) and tune on world clips; write a tuned
    folder (mode.json + fp16 tuned.safetensors) that names the image SR UNet's hash. `texture_share`: the share of
    clips that are texture pans (default the image model's, so tuning keeps what it learnt off the world)."""
    if mode not in VIDEO_LR:
        raise ValueError(f"choose a video SR mode to train from: {', '.join(VIDEO_LR)} (zero-shot needs no training)")
    if not 0 <= carry_prob <= 1 or not 0 <= noise_share <= 1:
        raise ValueError(f"--carry-prob and --noise-share must be in [0, 1], got {carry_prob}, {noise_share}")
    torch.manual_seed(seed)
    sr = load_sr(image, device=process_state().device)
    video = apply_mode(inflate(sr.unet), mode)
    scheduler = DDPMScheduler.from_config(sr.scheduler_config)  # the image model's own schedule and prediction
    noising = DDPMScheduler.from_config(sr.noising_config) if sr.noising_config else scheduler
    text = _text_cache(sr.tokenizer, sr.text_encoder)
    low, scale, max_level = sr.record["low_size"], sr.scale, sr.record["max_noise_level"]
    crop = crop or sr.record.get("crop")
    lr = lr or VIDEO_LR[mode]
    texture_share = sr.record.get("texture_share", 0.0) if texture_share is None else texture_share
    if not 0 <= texture_share <= 1:
        raise ValueError(f"--texture-share must be in [0, 1], got {texture_share}")

    def loss(batch):
        return sr_loss(video, text(batch["captions"]), batch["high"], batch["low"], scheduler, batch["seed"],
                       max_level, carry_prob, snr_gamma, batch.get("rows"), sr.residual, noise_share, noising,
                       sr.align_corners)

    batches = lambda s: sr_batch(s, batch_size, seed + 1, low, scale, crop, frames, fps, texture_share)
    state = train_loop({"video": video}, batches, loss, steps, run_folder(work_dir or f"runs/sr/video-{mode}"), lr=lr,
                       checkpoint_every=checkpoint_every, title=f"video SR {mode}")
    if process_state().is_main_process:
        save_tuned(video, out, sr.unet_hash, {"kind": "video-sr", "image_sr": recorded_path(sr.source), "steps": steps,
                                              "lr": lr, "batch_size": batch_size, "frames": frames, "fps": fps,
                                              "crop": crop, "carry_prob": carry_prob, "snr_gamma": snr_gamma,
                                              "noise_share": noise_share, "texture_share": texture_share})
    process_state().wait_for_everyone()
    return state
