"""Training clips for a tuning mode: batches from the world's training split (`world_batches`) or from clips a user
gives (`load_clips`, `fit_clip`, `clip_batches`), which `engine.tune` trains on.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..io import read_video
from .base import CAPTION_DROPOUT
from .modes import KEYFRAMES, train_mode, video_batch

_DEFAULTS = {k: p.default for k, p in inspect.signature(train_mode).parameters.items()}
LR, SNR_GAMMA = _DEFAULTS["lr"], _DEFAULTS["snr_gamma"]  # what `flipbook train-mode` uses, kept in step


def world_batches(batch_size: int, seed: int = 0, clip: dict = KEYFRAMES) -> Callable[[int], dict]:
    """Train-split world clips at `clip`'s size, frame rate and length (what `train_mode` trains on)."""
    return lambda step: video_batch(step, batch_size, seed, **clip)


def fit_clip(video: torch.Tensor, size: int, frames: int) -> torch.Tensor:
    """(F, 3, H, W) in [0, 1] -> (3, frames, size, size): evenly spaced frames, centre-cropped square, resized."""
    if video.ndim != 4 or video.shape[1] != 3:
        raise ValueError(f"expected frames shaped (F, 3, H, W), got {tuple(video.shape)}")
    if video.shape[0] < 2:
        raise ValueError("a training clip needs at least 2 frames")
    idx = torch.linspace(0, video.shape[0] - 1, frames).round().long()
    x = video[idx].float()
    h, w = x.shape[-2:]
    side = min(h, w)
    x = x[..., (h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    if side != size:
        x = F.interpolate(x, size=(size, size), mode="area" if side > size else "bilinear",
                          **({} if side > size else {"align_corners": False}))
    return x.clamp(0, 1).permute(1, 0, 2, 3).contiguous()  # f c h w -> c f h w


def load_clips(paths: list[str | Path], size: int = 32, frames: int = 8) -> list[torch.Tensor]:
    """Read video files (mp4, gif, webm, …) as training clips (3, frames, size, size) in [0, 1].
    Raises engine.io.VideoReadError (a ValueError) naming the file that cannot be used."""
    if not paths:
        raise ValueError("give at least one clip")
    return [fit_clip(read_video(p)[0], size, frames) for p in paths]


def clip_batches(clips: list[torch.Tensor], captions: str | list[str], batch_size: int, seed: int = 0,
                 dropout: float = CAPTION_DROPOUT) -> Callable[[int], dict]:
    """Batches drawn from given clips (each (3, F, H, W) in [0, 1], one shape), deterministic in (step, seed).
    One caption for every clip, or one a clip; a tenth of captions drop so classifier-free guidance still works."""
    if not clips:
        raise ValueError("give at least one clip")
    if len({tuple(c.shape) for c in clips}) > 1:
        raise ValueError("every clip must have the same shape; fit them first (fit_clip)")
    captions = [captions] * len(clips) if isinstance(captions, str) else list(captions)
    if len(captions) != len(clips):
        raise ValueError(f"{len(clips)} clips but {len(captions)} captions")
    stack = torch.stack(clips)

    def batch(step: int) -> dict:
        rng = np.random.default_rng([seed, 2468, step])
        pick = rng.integers(len(clips), size=batch_size)
        texts = ["" if rng.random() < dropout else captions[i] for i in pick]
        return {"pixels": stack[torch.from_numpy(pick)] * 2 - 1, "captions": texts, "seed": int(rng.integers(2**31))}

    return batch
