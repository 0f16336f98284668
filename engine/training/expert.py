"""Train the latent side of the cascade on the world at the top resolution (MPL-Video §3.6):

- `train_vae`: the VAE (`engine.models.expert.world_vae`) on world stills at 128² (random 64² crops by default:
  it is fully convolutional, and a crop costs a quarter), reconstruction MSE plus a small KL term (SD's weight,
  1e-6 a latent sum against the pixel mean). Its latents' scaling factor is measured afterwards, 1/std over
  training frames, as SD's 0.18215 was, so that the diffusion model sees unit-variance latents.
- `train_expert`: the latent video UNet (`expert_unet`, inflated, a tuning mode's temporal modules) from scratch
  on world clips encoded by that VAE, reading the base's frozen text encoder; every weight trains. Timesteps are
  drawn from 0..max_timestep only (900: the expert; 1000: the ordinary model, the comparison). v-prediction on the
  cosine schedule, Min-SNR-5, 10 % of captions dropped (for guidance). Random 64² crops of 8-frame 128² clips by
  default (16² latents; the UNet is convolutional and samples 32² latents): a whole-frame step costs 51 GFLOP
  (VAE encoding included), a crop step 13.

Both run in the shared loop (`engine.training.loop`: accelerate, progress bar, EMA, resumable checkpoints, loss
plot) and write their folder whole or not at all.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from ..distributed import process_state
from ..metrics import psnr
from ..models.base import load_base, train_scheduler
from ..models.expert import (EXPERT_CHANNELS, EXPERT_RECORD, VAE_ASSET, VAE_CHANNELS, VAE_RECORD, expert_timesteps,
                             expert_unet, load_world_vae, vae_factor, world_vae)
from ..models.inflate import inflate
from ..tuning import save_tuned
from ..sidecar import model_hash, recorded_path
from ..models.vae import encode_frames
from ..tuning import MODES, apply_mode
from ..world import render, sample_split_spec
from .base import diffusion_loss, save_base
from ..files import atomic_folder
from .checkpoint import run_folder
from .loop import train_loop
from .sr import _text_cache, sr_batch

EXPERT_MODES = tuple(m for m, spec in MODES.items() if spec.trains == "added")  # modes made of added modules
EXPERT_MODE = "ff-conv1d-attn1d-blocks"
KL_WEIGHT = 1e-6


def world_batch(step: int, batch_size: int, seed: int, size: int, crop: int | None = None, frames: int = 1,
                fps: float = 8.0) -> dict:
    """{"pixels": stills (B, 3, c, c) or clips (B, 3, F, c, c) in [-1, 1], rendered at `size` and cropped to
    `crop` (c; default whole frames), "captions", "seed"}: train-split world frames at random moments, the
    frames of a clip `fps` apart, deterministic in (step, seed)."""
    if size % 4 or (crop and (crop % 4 or not 4 <= crop <= size)):
        raise ValueError(f"the frame side ({size}) and crop ({crop}) must be multiples of 4, the crop at most the side")
    batch = sr_batch(step, batch_size, seed, size // 4, 4, crop or size, frames, fps)  # its high-resolution half
    return {"pixels": batch["high"], "captions": batch["captions"], "seed": batch["seed"]}


def val_clips(n: int, size: int, frames: int = 8, fps: float = 8.0) -> tuple[torch.Tensor, list[str]]:
    """Validation clips 0..n−1 (n, 3, F, size, size) in [0, 1] and their captions, starting 1 s in."""
    specs = [sample_split_spec("val", i) for i in range(n)]
    clips = [render(spec, size, fps, frames, t0=1.0).transpose(0, 1) for spec, _ in specs]
    return torch.stack(clips), [caption for _, caption in specs]


def vae_loss(vae, pixels: torch.Tensor, seed: int, kl_weight: float = KL_WEIGHT) -> torch.Tensor:
    posterior = vae.encode(pixels).latent_dist
    z = posterior.sample(torch.Generator().manual_seed(seed))
    return (vae.decode(z).sample - pixels).pow(2).mean() + kl_weight * posterior.kl().mean() / pixels[0].numel()


@torch.no_grad()
def latent_scale(vae, size: int, seed: int = 0, n: int = 32) -> float:
    """1 / std of the VAE's latents (posterior means) over `n` whole training frames."""
    pixels = world_batch(10**6, n, seed, size)["pixels"]
    z = torch.cat([vae.encode(x).latent_dist.mode() for x in pixels.split(8)])
    return 1.0 / z.std().item()


@torch.no_grad()
def reconstruction_psnr(vae, size: int, n: int = 8) -> float:
    """Mean PSNR (dB) of the VAE's reconstruction of `n` validation clips' first frames at `size`."""
    frames = val_clips(n, size, frames=1)[0][:, :, 0]  # b 3 h w
    out = vae.decode(vae.encode(frames * 2 - 1).latent_dist.mode()).sample / 2 + 0.5
    return psnr(out.clamp(0, 1)[:, :, None], frames[:, :, None]).mean().item()


def train_vae(out: str | Path = VAE_ASSET, steps: int = 2000, batch_size: int = 4, lr: float = 5e-4, seed: int = 0,
              work_dir: str | Path = "runs/vae", size: int = 128, crop: int | None = 64, channels=VAE_CHANNELS,
              latent_channels: int = 4, kl_weight: float = KL_WEIGHT, checkpoint_every: int = 250) -> dict:
    """Train the VAE from scratch on world stills; write its folder (fp16) with vae.json."""
    torch.manual_seed(seed)
    work_dir = run_folder(work_dir)
    crop = min(crop or size, size)
    vae = world_vae(size, channels, latent_channels)
    if crop % vae_factor(vae):
        raise ValueError(f"--size and --crop must be multiples of {vae_factor(vae)} for {len(channels)} VAE levels")
    state = train_loop({"vae": vae}, lambda s: world_batch(s, batch_size, seed, size, crop),
                       lambda b: vae_loss(vae, b["pixels"], b["seed"], kl_weight), steps, work_dir, lr=lr,
                       checkpoint_every=checkpoint_every, title="VAE")
    if process_state().is_main_process:
        vae.register_to_config(scaling_factor=latent_scale(vae, size, seed))
        record = {"size": size, "crop": crop, "channels": list(channels), "latent_channels": latent_channels,
                  "factor": vae_factor(vae), "scaling_factor": vae.config.scaling_factor, "kl_weight": kl_weight,
                  "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                  "val_psnr": round(reconstruction_psnr(vae, size), 2), "data": "world stills, train split"}
        with atomic_folder(out) as tmp:
            vae.half().save_pretrained(tmp, safe_serialization=True)
            vae.float()
            (tmp / VAE_RECORD).write_text(json.dumps(record, indent=1))
            if (Path(work_dir) / "loss.png").is_file():
                shutil.copy2(Path(work_dir) / "loss.png", tmp / "loss.png")
    process_state().wait_for_everyone()
    return state


def train_expert(out: str | Path, max_timestep: int = 900, steps: int = 2000, batch_size: int = 2, lr: float = 5e-4,
                 seed: int = 0, vae: str | Path | None = None, base: str | Path | None = None,
                 work_dir: str | Path | None = None, mode: str = EXPERT_MODE, channels=EXPERT_CHANNELS,
                 frames: int = 8, fps: float = 8.0, crop: int | None = 64, snr_gamma: float | None = 5.0,
                 noise_share: float = 0.0, checkpoint_every: int = 100, size: int | None = None) -> dict:
    """Train the latent video UNet from scratch on timesteps 0..max_timestep on clips rendered at `size` (default
    the VAE's; the side translation works at); write an expert folder."""
    timesteps = expert_timesteps(max_timestep)
    if mode not in EXPERT_MODES:
        raise ValueError(f"choose an expert mode from: {', '.join(EXPERT_MODES)} (every weight trains from scratch, "
                         "so full and lora add nothing)")
    if not 0 <= noise_share <= 1:
        raise ValueError(f"--noise-share must be in [0, 1], got {noise_share}")
    torch.manual_seed(seed)
    device = process_state().device
    b = load_base(base, device=device)  # its text encoder and tokenizer, frozen
    v, vae_record = load_world_vae(vae, device)
    v.requires_grad_(False)
    size = int(size or vae_record["size"])
    crop = min(crop or size, size)
    if size % 4:
        raise ValueError(f"--size must be a multiple of 4, got {size}")
    if crop % (vae_factor(v) * 2 ** (len(channels) - 1)):
        raise ValueError(f"the crop ({crop}) must be a multiple of {vae_factor(v) * 2 ** (len(channels) - 1)}: the VAE "
                         f"divides it by {vae_factor(v)} and the UNet halves that {len(channels) - 1} times")
    unet = expert_unet(crop // vae_factor(v), v.config.latent_channels, b.text_encoder.config.hidden_size, channels)
    video = apply_mode(inflate(unet), mode)
    video.requires_grad_(True)  # from scratch: the spatial UNet trains with the temporal modules
    scheduler = train_scheduler("v_prediction")
    text = _text_cache(b.tokenizer, b.text_encoder)

    def loss(batch):
        with torch.no_grad():
            x0 = encode_frames(v, batch["pixels"])
        return diffusion_loss(video, text(batch["captions"]), x0, scheduler, batch["seed"], snr_gamma,
                              batch.get("rows"), noise_share=noise_share, timesteps=timesteps)

    work_dir = run_folder(work_dir or f"runs/expert/{Path(out).name}")
    state = train_loop({"video": video}, lambda s: world_batch(s, batch_size, seed + 5, size, crop, frames, fps), loss,
                       steps, work_dir, lr=lr, checkpoint_every=checkpoint_every, title=f"expert t ≤ {max_timestep}")
    if process_state().is_main_process:
        record = {"max_timestep": max_timestep, "timesteps": [timesteps[0], timesteps[1] - 1], "mode": mode,
                  "channels": list(channels), "size": size, "crop": crop, "frames": frames, "fps": fps,
                  "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "snr_gamma": snr_gamma,
                  "noise_share": noise_share, "prediction": "v_prediction", "vae": recorded_path(vae or VAE_ASSET),
                  "vae_hash": model_hash(v), "base": str(base or "embedded"), "data": "world clips, train split"}
        save_expert(out, video, b, v, dict(scheduler.config), record, [work_dir / "loss.png"])
    process_state().wait_for_everyone()
    return state


def save_expert(out: str | Path, video, base, vae, scheduler_config: dict, record: dict, extras=()):
    """An SD-style latent folder (unet/, vae/, text_encoder/, tokenizer/, scheduler/; fp16) with video/ (the mode's
    temporal modules) and expert.json, written whole or not at all."""
    for name, p in video.named_parameters():  # the tuned folder holds the mode's own modules; unet/ the rest
        p.requires_grad_(name.startswith("added."))
    with atomic_folder(out) as tmp:
        save_base(tmp, video.unet, base.text_encoder, base.tokenizer, scheduler_config, list(extras))
        vae.half().save_pretrained(tmp / "vae", safe_serialization=True)
        vae.float()
        save_tuned(video, tmp / "video", model_hash(video.unet),
                   {"kind": "expert", "max_timestep": record["max_timestep"], "noise_share": record["noise_share"]})
        (tmp / EXPERT_RECORD).write_text(json.dumps(record, indent=1))
