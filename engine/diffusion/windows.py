"""Long clips from a model trained on a few frames: sliding context windows and FreeNoise's noise rescheduling.

A video UNet trained on W frames sees only W at a time; a clip of F > W frames is denoised in windows of W frames
that overlap (AnimateDiff's sliding contexts; FreeNoise, Qiu et al., ICLR 2024, §3.3 "window-based attention
fusion"). At every step each window is predicted on its own, 'b c F h w -> b c W h w' for each window, and a
frame's prediction is the weighted mean over the windows that hold it. The weights rise from a window's edges to
its middle (FreeNoise's fusion), so where two windows meet each hands over to the other gradually, not at a seam.

Windows that start from independent noise drift apart in content: FreeNoise §3.2 reschedules the noise so that
every window draws on the same few frames of noise. The first W frames get fresh noise; each later run of
`stride = W − overlap` frames is the noise of the frames one window back, in a shuffled order. The noise stays
N(0, I) per frame (it is the same draws), and the long clip shares the first window's layout.

Both work on any prediction (ε, v or flow velocity: fusing is linear) and any model, pixel or latent, embedded
or a real checkpoint.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..registry import DEFAULT_OVERLAP, LONG_METHODS  # noqa: F401 (the methods: windows, autoregressive, chunks)


def check_windows(window: int, overlap: int):
    if window < 2:
        raise ValueError(f"a context window needs at least 2 frames, got {window}")
    if not 0 <= overlap < window:
        raise ValueError(f"the overlap must be from 0 to the window's frames − 1 ({window - 1}), got {overlap}")


def context_windows(frames: int, window: int, overlap: int) -> list[range]:
    """The fewest windows of `window` frames that cover the clip with at least `overlap` frames shared by each
    two in a row, spread evenly from the first frame to the last. One window when the clip fits in it."""
    check_windows(window, overlap)
    if frames <= window:
        return [range(frames)]
    count = -(-(frames - window) // (window - overlap)) + 1
    return [range(s, s + window) for s in (round(k * (frames - window) / (count - 1)) for k in range(count))]


def fusion_weights(window: int) -> torch.Tensor:
    """FreeNoise's fusion weights for a window's frames: 1, 2, … up to its middle and back down, (window,)."""
    i = torch.arange(window, dtype=torch.float32)
    return torch.minimum(i + 1, window - i)


def windowed(predict: Callable, window: int, overlap: int) -> Callable:
    """`predict(x, t)` for clips (B, C, F, h, w) of any length, made from one that sees `window` frames at a time."""
    check_windows(window, overlap)

    def fused(x: torch.Tensor, t) -> torch.Tensor:
        spans = context_windows(x.shape[2], window, overlap)
        if len(spans) == 1:
            return predict(x, t)
        total = torch.zeros_like(x)
        weight = torch.zeros(x.shape[2], dtype=x.dtype, device=x.device)
        w = fusion_weights(window).to(x.device, x.dtype)
        for span in spans:
            frames = slice(span.start, span.stop)
            total[:, :, frames] += predict(x[:, :, frames], t) * w.view(1, 1, -1, 1, 1)
            weight[frames] += w
        return total / weight.view(1, 1, -1, 1, 1)

    return fused


def rescheduled_noise(noise: torch.Tensor, window: int, overlap: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """FreeNoise's noise rescheduling of (B, C, F, h, w) noise: the first `window` frames kept, each later run of
    `window − overlap` frames the frames one window back in a shuffled order (the shuffle drawn from `generator`)."""
    check_windows(window, overlap)
    out = noise.clone()
    stride = window - overlap
    for start in range(window, noise.shape[2], stride):
        count = min(stride, noise.shape[2] - start)
        back = torch.arange(start - window, start - window + count)
        order = back[torch.randperm(count, generator=generator)]
        out[:, :, start:start + count] = out[:, :, order]
    return out
