"""Frames through an image VAE (latent models): every frame is an image, 'b c f h w -> (b f) c h w', encoded or
decoded `chunk` frames at a time so that a long clip never holds every frame's activations at once.

Latents are scaled the diffusers way, z = (mean − shift_factor) · scaling_factor, and keep the caller's dtype;
the VAE runs in its own (`load_base` keeps a VAE that overflows in fp16 in fp32). Encoding takes the
posterior's mean: the same clip gives the same latents on any number of processes.
"""
from __future__ import annotations

import torch
from einops import rearrange


def _factors(vae) -> tuple[float, float]:
    return vae.config.scaling_factor, vae.config.shift_factor or 0.0


def _chunks(x: torch.Tensor, chunk: int | None):
    if chunk is not None and chunk < 1:
        raise ValueError(f"frame chunks must hold at least one frame, got {chunk}")
    return x.split(chunk or x.shape[0])


def encode_frames(vae, video: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """(B, 3, F, H, W) in [-1, 1] -> scaled latents (B, C, F, H/s, W/s)."""
    scale, shift = _factors(vae)
    frames = rearrange(video, "b c f h w -> (b f) c h w")
    z = torch.cat([vae.encode(x.to(vae.dtype)).latent_dist.mode() for x in _chunks(frames, chunk)])
    return rearrange((z.to(video.dtype) - shift) * scale, "(b f) c h w -> b c f h w", f=video.shape[2])


def decode_frames(vae, latents: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """Scaled latents (B, C, F, h, w) -> frames (B, 3, F, h·s, w·s), about [-1, 1]."""
    scale, shift = _factors(vae)
    z = rearrange(latents, "b c f h w -> (b f) c h w") / scale + shift
    x = torch.cat([vae.decode(part.to(vae.dtype)).sample for part in _chunks(z, chunk)])
    return rearrange(x.to(latents.dtype), "(b f) c h w -> b c f h w", f=latents.shape[2])
