"""Frame metrics against ground truth: PSNR, SSIM (torchmetrics) and TCC (Inflation Eq. 2); and one that needs no
ground truth: judder (uneven motion).

Every function takes clips as (B, 3, F, H, W) or
(3, F, H, W) floats in [0, 1], generated first, ground truth second, and returns one number per clip.
"""
from __future__ import annotations

import torch
from einops import rearrange
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure


def _batched(video: torch.Tensor) -> torch.Tensor:
    if video.ndim == 4:
        video = video.unsqueeze(0)
    if video.ndim != 5 or video.shape[1] != 3:
        raise ValueError(f"expected (B, 3, F, H, W) or (3, F, H, W), got {tuple(video.shape)}")
    return video.float()


def _check_pair(generated, truth):
    generated, truth = _batched(generated), _batched(truth)
    if generated.shape != truth.shape:
        raise ValueError(f"generated {tuple(generated.shape)} and ground truth {tuple(truth.shape)} differ in shape")
    return generated, truth


def _frame_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """SSIM of (N, C, H, W) pairs -> (N,); the Gaussian window shrinks for frames under 11 pixels."""
    k = min(11, min(x.shape[-2:]) // 2 * 2 - 1)
    return structural_similarity_index_measure(x, y, data_range=1.0, kernel_size=k, sigma=1.5 * k / 11,
                                               reduction="none")


def psnr(generated: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean over frames of per-frame PSNR (dB): (B,). Identical frames give inf."""
    g, t = _check_pair(generated, truth)
    frames_g, frames_t = rearrange(g, "b c f h w -> (b f) c h w"), rearrange(t, "b c f h w -> (b f) c h w")
    per = peak_signal_noise_ratio(frames_g, frames_t, data_range=1.0, reduction="none", dim=(1, 2, 3))
    return rearrange(per, "(b f) -> b f", b=g.shape[0]).mean(1)


def ssim(generated: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean over frames of per-frame SSIM: (B,)."""
    g, t = _check_pair(generated, truth)
    per = _frame_ssim(rearrange(g, "b c f h w -> (b f) c h w"), rearrange(t, "b c f h w -> (b f) c h w"))
    return rearrange(per, "(b f) -> b f", b=g.shape[0]).mean(1)


def _changes(v: torch.Tensor) -> torch.Tensor:
    """|frame i+1 − frame i| of (B, C, F, H, W): (B, C, F−1, H, W)."""
    return (v[:, :, 1:] - v[:, :, :-1]).abs()


def tcc(generated: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Temporal change consistency: mean_i SSIM(|g_i − g_{i+1}|, |h_i − h_{i+1}|): (B,). Needs F ≥ 2."""
    g, t = _check_pair(generated, truth)
    if g.shape[2] < 2:
        raise ValueError("TCC needs at least 2 frames")
    dg, dt = _changes(g), _changes(t)
    per = _frame_ssim(rearrange(dg, "b c f h w -> (b f) c h w"), rearrange(dt, "b c f h w -> (b f) c h w"))
    return rearrange(per, "(b f) -> b f", b=g.shape[0]).mean(1)


def flicker(generated: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Change between frames that the truth does not have: mean |(g_{i+1} − g_i) − (h_{i+1} − h_i)| over pixels and
    pairs: (B,). An error that stays put from frame to frame scores 0, one that varies (flicker) does not. Unlike
    judder, which normalises by the clip's own motion, it does not blow up where nearly nothing moves. Needs F ≥ 2."""
    g, t = _check_pair(generated, truth)
    if g.shape[2] < 2:
        raise ValueError("flicker needs at least 2 frames")
    return ((g[:, :, 1:] - g[:, :, :-1]) - (t[:, :, 1:] - t[:, :, :-1])).abs().mean(dim=(1, 2, 3, 4))


def judder(video: torch.Tensor, still: float = 1e-3) -> torch.Tensor:
    """Uneven motion: the coefficient of variation (std / mean) of the change between consecutive frames: (B,).

    Steady motion changes every pair alike (≈ 0); held frames followed by jumps alternate small and large changes
    (a frame shown twice: 1). A clip whose mean change is under `still` (nothing moves) scores 0. Reference-free,
    unlike TCC: TCC against a truth the clip is not aligned with rewards small changes, so damped, stuttering motion
    can raise it (see bench/pyramid_bench.py)."""
    v = _batched(video)
    if v.shape[2] < 3:
        raise ValueError("judder needs at least 3 frames")
    change = _changes(v).mean(dim=(1, 3, 4))  # b (f-1)
    mean = change.mean(1)
    cv = change.std(1, unbiased=False) / mean.clamp_min(still)
    return torch.where(mean < still, torch.zeros_like(cv), cv)
