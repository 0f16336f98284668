"""Pixel super-resolution, IF stage II-like (MPL-Video §3.5; Inflation §3.1 inflates it into a video model).

A diffusers `UNet2DConditionModel` takes the noisy sample with the bilinear-upsampled low-resolution frame
concatenated (6 channels). The condition is noise-augmented (the cosine schedule's q(x_t | x_0) at a level t) and
the level reaches the UNet as `class_labels` through a timestep-style class embedding (`class_embed_type=
"timestep"`, as DeepFloyd IF's stage II). Cross-attention reads the base's text encoder's states. Attention sits
only at the lowest resolution, so the UNet costs little at 128².

Where this departs from IF stage II, and why (measured on 2 CPU cores, where a model gets minutes of training,
not weeks): what is diffused is the *residual* high − bicubic(low), predicted as x0 (prediction_type "sample"),
with the UNet's output convolution zero-initialised. A model that adds nothing is then bicubic upsampling, and
each training step can only add detail. IF's form (v-prediction of the frame itself) had to learn to copy the
condition first: after 400 steps × 16 crops its x0 estimate was still worse than the condition at every noise
level ≥ 100, and sampled frames were noisy (24.8 dB against bicubic's 32.7 on validation frames). At one tiny
budget (150 steps × 8 crops of 32²) the frame target sampled at 13.6 dB, the residual with v-prediction 16.8 dB,
with x0-prediction 29.5 dB; with whole frames the residual model beat bicubic after 200 steps (35.6 dB).
`target="image"` in sr.json keeps IF's form. Sampling adds iterative back-projection (`back_project`), so each
frame box-averages to its low-resolution frame, and starts every frame of a segment from the same noise.

An SR folder holds unet/ (fp16), text_encoder/ and tokenizer/ (the base's, frozen, copied so the folder stands
alone), scheduler/ (the training schedule) and sr.json (scale, sizes, target, noise levels). A real checkpoint is an
IF stage II-style pipeline folder (what `IFSuperResolutionPipeline.save_pretrained` writes: unet/ with 6 input
channels, a timestep class embedding and learned variance, T5 text_encoder/ and tokenizer/, scheduler/ and
image_noising_scheduler/) and loads without sr.json, read as IF stage II is run (`stage_ii_record`): ×4, the frame
itself diffused, the condition upsampled bilinearly with aligned corners and augmented to level 250. Video SR inflates
its UNet (`engine.models.inflate`) in a tuning mode (`engine.tuning`); tuned modes save apart
(`engine.tuning`) and name the image SR UNet's hash they were tuned on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DConditionModel
from einops import rearrange
from transformers import AutoTokenizer

from ..registry import ASSETS, is_tuned_folder
from .base import HUB_ID, _load, _text_encoder_class, resolve_device, resolve_dtype
from .inflate import VideoUNet
from ..tuning import load_tuned, read_tuned
from ..sidecar import model_hash

ASSET = ASSETS / "sr"
SR_CHANNELS = (16, 32, 64, 96)
RECORD = "sr.json"
VIDEO_MODES = ("zero-shot", "full", "temporal")


def sr_unet(sample_size: int = 128, cross_attention_dim: int = 64, channels=SR_CHANNELS) -> UNet2DConditionModel:
    """The SR UNet: plain resnet blocks at the high resolutions, cross-attention at the lowest one."""
    n = len(channels)
    return UNet2DConditionModel(
        sample_size=sample_size, in_channels=6, out_channels=3, block_out_channels=tuple(channels), layers_per_block=1,
        down_block_types=("DownBlock2D",) * (n - 1) + ("CrossAttnDownBlock2D",),
        up_block_types=("CrossAttnUpBlock2D",) + ("UpBlock2D",) * (n - 1),
        cross_attention_dim=cross_attention_dim, attention_head_dim=4, norm_num_groups=8, class_embed_type="timestep")


def side_multiple(unet) -> int:
    """High-resolution sides must be multiples of this (the UNet halves them len(channels) − 1 times)."""
    return 2 ** (len(unet.config.block_out_channels) - 1)


def upsample(low: torch.Tensor, size: tuple[int, int], mode: str = "bilinear", align_corners: bool = False
             ) -> torch.Tensor:
    """Bilinear (the condition) or bicubic (what a residual model adds to; clamped to [-1, 1]) upsampling of
    (B, C, h, w) or (B, C, F, h, w) to `size` (`align_corners`: as IF stage II's pipeline upsamples)."""
    frames = low if low.ndim == 4 else rearrange(low, "b c f h w -> (b f) c h w")
    frames = F.interpolate(frames, size=tuple(size), mode=mode, align_corners=align_corners)
    frames = frames.clamp(-1, 1) if mode == "bicubic" else frames
    return frames if low.ndim == 4 else rearrange(frames, "(b f) c h w -> b c f h w", b=low.shape[0])


def back_project(high: torch.Tensor, low: torch.Tensor, iterations: int = 3) -> torch.Tensor:
    """Iterative back-projection (data consistency): add the bilinear upsample of what the low-resolution frames
    say the box-averaged high-resolution ones get wrong, `iterations` times. (B, C, F, H, W) and (B, C, F, h, w)
    in [-1, 1]; the result averages back to `low` (up to clamping), as a camera at the low resolution would see it."""
    s = high.shape[-1] // low.shape[-1]
    for _ in range(iterations):
        error = low - F.avg_pool3d(high, (1, s, s))
        high = (high + upsample(error, high.shape[-2:])).clamp(-1, 1)
    return high


def augment(cond: torch.Tensor, level: torch.Tensor, scheduler, noise: torch.Tensor) -> torch.Tensor:
    """Noise conditioning augmentation: the condition at noise level `level` (B,) of the training schedule."""
    return scheduler.add_noise(cond, noise.to(cond), level.to(cond.device))


def sr_forward(unet, noisy: torch.Tensor, cond: torch.Tensor, t, text: torch.Tensor, level: torch.Tensor):
    """The UNet's prediction for [noisy, condition] (images or, through a VideoUNet, clips) at noise level `level`."""
    out = unet(torch.cat([noisy, cond.to(noisy.dtype)], 1), t, text, class_labels=level)
    return out.sample if hasattr(out, "sample") else out


@dataclass
class SR:
    unet: UNet2DConditionModel
    text_encoder: torch.nn.Module
    tokenizer: object
    scheduler_config: dict
    record: dict = field(default_factory=dict)
    source: str = ""
    unet_hash: str = ""
    noising_config: dict | None = None  # the condition's augmentation schedule, where it is not the sampling one

    @property
    def align_corners(self) -> bool:
        """Whether the condition is upsampled with aligned corners (IF stage II) or not (Flipbook's own models)."""
        return bool(self.record.get("align_corners", False))

    @property
    def scale(self) -> int:
        return int(self.record["scale"])

    @property
    def residual(self) -> bool:
        """Whether the UNet denoises high − upsample(low) (sr.json `target`: "residual") or the frame itself."""
        return self.record.get("target", "image") == "residual"

    def sampler_config(self) -> dict:
        """The schedule's config for samplers: a residual lies in [-2, 2], so x0 is clipped there, not to [-1, 1]."""
        return {**self.scheduler_config, **({"sample_max_value": 2.0, "clip_sample_range": 2.0} if self.residual else {})}

    @property
    def noise_level(self) -> int:
        """The augmentation level sampling uses by default (sr.json's `noise_level`)."""
        return int(self.record.get("noise_level", 0))


IF_STAGE_II = {"scale": 4, "target": "image", "noise_level": 250, "max_noise_level": 500, "align_corners": True}
# IF stage II (64² → 256²) as diffusers' IFSuperResolutionPipeline runs it; video modes tune on augmentation levels
# drawn in [0, 500), around the level it samples at (250)


def stage_ii_record(unet: UNet2DConditionModel, scheduler_config: dict) -> dict:
    """What sr.json would say of an IF stage II-style pipeline folder (one without sr.json)."""
    high = unet.config.sample_size
    return {**IF_STAGE_II, "low_size": high // IF_STAGE_II["scale"], "high_size": high, "crop": high,
            "prediction": scheduler_config.get("prediction_type", "epsilon"), "format": "IF stage II"}


def _check_sr_unet(folder: Path, unet: UNet2DConditionModel):
    config = unet.config
    if config.in_channels == 6 and config.class_embed_type == "timestep":
        return
    if (folder / "vae").is_dir() and config.in_channels > 4:
        raise ValueError(f"{folder} is a latent upscaler (SD ×4-style: a VAE and low-resolution pixels beside the "
                         "latents), which Flipbook does not run; use an IF stage II-style pixel SR folder or one made "
                         "by `flipbook train-sr`")
    if config.in_channels in (3, 4):
        raise ValueError(f"{folder} is a text-to-image model, not a super-resolution one: train an SR model with its "
                         f"text encoder (`flipbook train-sr --model {folder} --out SR`) and upscale with --model SR, or "
                         "give an IF stage II-style folder")
    raise ValueError(f"{folder}/unet is not an SR UNet (it needs 6 input channels and a timestep class embedding for "
                     "the noise level); train one with `flipbook train-sr`")


def load_sr(folder: str | Path | None = None, device="cpu", dtype=None) -> SR:
    """An image SR folder (default assets/sr/image): one `flipbook train-sr` wrote, or an IF stage II-style pipeline
    folder. The UNet's hash is taken from its stored weights, so that a tuned video mode can check it was tuned on
    this very model."""
    folder = Path(folder) if folder else ASSET / "image"
    if not folder.exists() and HUB_ID.match(str(folder)):
        raise FileNotFoundError(f"no folder {folder}: super-resolution models load from a folder; fetch it with "
                                f"`huggingface-cli download {folder} --local-dir DIR`, then pass DIR")
    if not (folder / "unet" / "config.json").is_file():
        raise FileNotFoundError(f"no image super-resolution model at {folder} (it needs unet/ and {RECORD}, or to be "
                                f"an IF stage II-style pipeline folder); train one with `flipbook train-sr --out {folder}`")
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    unet = _load(UNet2DConditionModel, str(folder), "unet", torch_dtype=torch.float32, use_safetensors=True)
    _check_sr_unet(folder, unet)
    config = dict(DDIMScheduler.load_config(str(folder), subfolder="scheduler"))
    own = folder / RECORD
    record = json.loads(own.read_text()) if own.is_file() else stage_ii_record(unet, config)
    noising = folder / "image_noising_scheduler" / "scheduler_config.json"
    noising_config = dict(DDPMScheduler.load_config(str(noising.parent))) if noising.is_file() else None
    unet_hash = model_hash(unet)
    text_cls = _text_encoder_class(str(folder), True, {})
    text = _load(text_cls, str(folder), "text_encoder", torch_dtype=dtype, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer")
    unet = unet.to(dtype) if dtype != torch.float32 else unet
    return SR(unet.to(device).eval(), text.to(device).eval(), tokenizer, config, record, str(folder), unet_hash,
              noising_config)


def tuned_folder(mode: str, model: str | Path | None, tuned: str | Path | None) -> Path | None:
    """Where a video mode's weights are: --tuned, else assets/sr/video-MODE for the embedded image model."""
    if mode not in VIDEO_MODES:
        raise ValueError(f"unknown super-resolution mode {mode!r}; choose one of: {', '.join(VIDEO_MODES)}")
    if mode == "zero-shot":
        if tuned:
            raise ValueError(f"--tuned {tuned} holds tuned weights, which zero-shot does not use; drop --tuned or pass "
                             "the mode it was tuned in")
        return None
    if tuned:
        return Path(tuned)
    if model:
        raise FileNotFoundError(f"with --model, give --tuned FOLDER: a {mode} video SR mode tuned on that model "
                                f"(`flipbook train-sr-video --mode {mode} --model {model} --out FOLDER`), "
                                "or use --mode zero-shot")
    return ASSET / f"video-{mode}"


def load_video_sr(mode: str = "zero-shot", model: str | Path | None = None, tuned: str | Path | None = None,
                  device="cpu", dtype=None) -> tuple[SR, VideoUNet, dict]:
    """The image SR model inflated into a video UNet in `mode`, with its tuned weights; and the hashes of what
    it is made of (for sidecars)."""
    folder = tuned_folder(mode, model, tuned)
    if folder is not None and not is_tuned_folder(folder):
        raise FileNotFoundError(f"no tuned video SR weights for mode {mode!r} at {folder}; train them with "
                                f"`flipbook train-sr-video --mode {mode}` or use --mode zero-shot")
    sr = load_sr(model, device, dtype)
    hashes = {"sr_unet": sr.unet_hash, "text_encoder": model_hash(sr.text_encoder)}
    if folder is not None:
        record = read_tuned(folder)
        if record.mode != mode:
            found = record.mode
            raise ValueError(f"{folder} holds mode {found!r}, not {mode!r}; pass --mode {found}")
        if record.get("base_hash") != sr.unet_hash:
            raise ValueError(f"{folder} was tuned on another image SR model (hash {record.get('base_hash')}, this one "
                             f"{sr.unet_hash}); retrain it with `flipbook train-sr-video --mode {mode}`")
    video = load_tuned(sr.unet, folder, mode)
    if folder is not None:
        hashes["video_unet"] = model_hash(video)  # the UNet (tuned too in mode full) and its added modules
    return sr, video.to(device=sr.unet.device, dtype=sr.unet.dtype).eval(), hashes
