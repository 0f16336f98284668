"""Initial and training noise for videos: independent per frame, or PYoCo's mixed prior, in which one draw
shared by a clip's frames is mixed into each frame's own, so that an inflated image model starts every frame
from a similar layout and its temporal modules only have to learn what changes.
"""
from __future__ import annotations

import torch
from diffusers.utils.torch_utils import randn_tensor


def frame_noise(shape: tuple, generator: torch.Generator | None, share: float = 0.0, device=None, dtype=None):
    """N(0, I) noise per element; for videos (B, C, F, H, W) with share ρ > 0, correlated over frames:
    √ρ·z_clip + √(1−ρ)·z_frame, so every frame is still N(0, I) and two frames correlate by ρ."""
    draw = lambda s: randn_tensor(s, generator=generator, device=device, dtype=dtype)
    if not share or len(shape) != 5:
        return draw(shape)
    if not 0 <= share <= 1:
        raise ValueError(f"noise share must be in [0, 1], got {share}")
    own = draw(shape)
    clip = draw((*shape[:2], 1, *shape[3:]))  # b c 1 h w, broadcast over frames
    return share ** 0.5 * clip + (1 - share) ** 0.5 * own
