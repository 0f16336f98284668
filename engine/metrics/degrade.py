"""Degradations of video batches (B, 3, F, H, W) in [0, 1]: blur, noise, down-then-up scaling.

Used to augment the judge's training clips lightly and to measure, at stronger levels, where to trust it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange


def blur(video: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0:
        return video
    radius = max(1, math.ceil(2.5 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=video.dtype)
    k = torch.exp(-x * x / (2 * sigma * sigma))
    k = (k / k.sum()).to(video.device)
    frames = rearrange(video, "b c f h w -> (b f c) 1 h w")
    frames = F.pad(frames, (radius, radius, radius, radius), mode="replicate")
    frames = F.conv2d(F.conv2d(frames, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))
    return rearrange(frames, "(b f c) 1 h w -> b c f h w", b=video.shape[0], c=video.shape[1])


def noise(video: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    n = torch.randn(video.shape, generator=generator, dtype=video.dtype).to(video.device)
    return (video + sigma * n).clamp(0, 1)


def down_up(video: torch.Tensor, factor: float) -> torch.Tensor:
    """Downscale by `factor` (area) and back up (bilinear): the detail a low-resolution stage loses."""
    if factor <= 1:
        return video
    b, h, w = video.shape[0], video.shape[-2], video.shape[-1]
    frames = rearrange(video, "b c f h w -> (b f) c h w")
    small = F.interpolate(frames, size=(max(1, round(h / factor)), max(1, round(w / factor))), mode="area")
    frames = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return rearrange(frames, "(b f) c h w -> b c f h w", b=b).clamp(0, 1)


EVAL_LEVELS = {  # name -> function of a batch; the judge trains with milder versions of the first three
    "clean": lambda v: v,
    "blur σ=1": lambda v: blur(v, 1.0),
    "noise σ=0.08": lambda v: noise(v, 0.08, torch.Generator().manual_seed(0)),
    "down-up ×2": lambda v: down_up(v, 2),
    "blur σ=1.5": lambda v: blur(v, 1.5),
    "noise σ=0.15": lambda v: noise(v, 0.15, torch.Generator().manual_seed(0)),
    "down-up ×4": lambda v: down_up(v, 4),
}
