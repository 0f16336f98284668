"""Latent expert translation (MPL-Video §3.6): a latent video model that only refines detail.

A small VAE (diffusers `AutoencoderKL`, 4× down-sampling, 4 latent channels) is trained on world frames at the
top resolution (128², what pixel super-resolution produces). A latent `UNet2DConditionModel`, inflated into a
video UNet with a tuning mode's temporal modules (`engine.models.inflate`, `engine.tuning`) and reading the
base's text encoder, is trained on timesteps 0..max_timestep only (900 of 1000: the "expert"; 1000: the ordinary
model it is compared with). At inference the pixel SR output is encoded, noised to t ≤ max_timestep and denoised
with the same prompt (SDEdit), then decoded (`engine.pipelines.translate`).

Folders. The VAE: an `AutoencoderKL` folder (config.json, fp16 safetensors) with vae.json (size, measured
reconstruction PSNR, its latents' scaling factor). An expert: an SD-style latent model folder that `load_base`
reads as it is (unet/, vae/, text_encoder/, tokenizer/, scheduler/), with video/ (the mode's temporal modules, a
tuned-mode folder naming the UNet's hash) and expert.json (max_timestep and how it was trained).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel

from ..registry import ASSETS, EXPERT_RECORD
from .base import Base, _load, load_base, resolve_device, resolve_dtype
from .inflate import VideoUNet
from ..tuning import load_tuned, read_tuned
from ..sidecar import model_hash

ROOT = ASSETS
VAE_ASSET, EXPERT_ASSET = ROOT / "vae", ROOT / "expert"
VAE_CHANNELS, EXPERT_CHANNELS = (16, 32, 64), (32, 64, 64)
VAE_RECORD = "vae.json"
TIMESTEPS = 1000


def world_vae(size: int = 128, channels=VAE_CHANNELS, latent_channels: int = 4) -> AutoencoderKL:
    """The VAE: len(channels) − 1 halvings (4× for three levels), attention only in the mid block."""
    n = len(channels)
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
                         up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(channels),
                         layers_per_block=1, latent_channels=latent_channels, norm_num_groups=min(8, channels[0]),
                         sample_size=size, scaling_factor=1.0)


def vae_factor(vae) -> int:
    return 2 ** (len(vae.config.block_out_channels) - 1)


def expert_unet(sample_size: int = 32, in_channels: int = 4, cross_attention_dim: int = 64,
                channels=EXPERT_CHANNELS) -> UNet2DConditionModel:
    """The latent UNet: a plain resnet level at the latent's full size, cross-attention below it."""
    n = len(channels)
    return UNet2DConditionModel(
        sample_size=sample_size, in_channels=in_channels, out_channels=in_channels, block_out_channels=tuple(channels),
        layers_per_block=1, down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1),
        up_block_types=("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",), cross_attention_dim=cross_attention_dim,
        attention_head_dim=4, norm_num_groups=8)


def expert_timesteps(max_timestep: int) -> tuple[int, int]:
    """The timesteps an expert trains on, as (lo, hi) for `diffusion_loss`: 0..max_timestep inclusive, at most the
    whole schedule (max_timestep ≥ 999)."""
    if not 1 <= max_timestep <= TIMESTEPS:
        raise ValueError(f"--max-timestep must be between 1 and {TIMESTEPS} (900: the expert; {TIMESTEPS}: the whole "
                         f"schedule), got {max_timestep}")
    return 0, min(max_timestep + 1, TIMESTEPS)


def _record(folder: Path, name: str, train: str) -> dict:
    if not (folder / name).is_file():
        raise FileNotFoundError(f"no {name.removesuffix('.json')} model at {folder} (it needs {name}); train one with "
                                f"`{train}`")
    try:
        return json.loads((folder / name).read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{folder / name} is not valid JSON ({e}); the folder is damaged: train it again") from None


def load_world_vae(folder: str | Path | None = None, device="cpu", dtype=None) -> tuple[AutoencoderKL, dict]:
    """A VAE folder (default assets/vae) and its vae.json."""
    folder = Path(folder) if folder else VAE_ASSET
    record = _record(folder, VAE_RECORD, f"flipbook train-vae --out {folder}")
    vae = _load(AutoencoderKL, str(folder), None, torch_dtype=resolve_dtype(dtype), use_safetensors=True)
    return vae.to(resolve_device(device)).eval(), record


@dataclass
class Expert:
    base: Base  # unet (the image UNet), text encoder, tokenizer, scheduler and VAE
    video: VideoUNet  # the UNet inflated, with its trained temporal modules
    record: dict = field(default_factory=dict)
    source: str = ""

    @property
    def max_timestep(self) -> int:
        return int(self.record["max_timestep"])

    @property
    def size(self) -> int:
        """The frame side it was trained at (the VAE's)."""
        return int(self.record["size"])

    def hashes(self) -> dict:
        return {"expert_unet": model_hash(self.video), "vae": model_hash(self.base.vae),
                "text_encoder": model_hash(self.base.text_encoder)}


def load_expert(folder: str | Path | None = None, device="cpu", dtype=None) -> Expert:
    """An expert folder (default assets/expert/t900)."""
    folder = Path(folder) if folder else EXPERT_ASSET / "t900"
    record = _record(folder, EXPERT_RECORD, f"flipbook train-expert --out {folder}")
    base = load_base(folder, "cpu", torch.float32)  # fp32 first: the hash is of the weights as stored
    if read_tuned(folder / "video").get("base_hash") != model_hash(base.unet):
        raise ValueError(f"{folder}/video does not belong to {folder}/unet (its temporal modules were trained with "
                         f"another UNet); train the expert again with `flipbook train-expert --out {folder}`")
    video = load_tuned(base.unet, folder / "video")
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    base.text_encoder.to(device, dtype)
    base.vae.to(device)
    return Expert(base, video.to(device=device, dtype=dtype).eval(), record, str(folder))
