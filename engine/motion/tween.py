"""In-between frames by moving each keyframe's object to the in-between time (motion-compensated blending), the
interpolation that does not ghost where a blend does.

A linear blend of two keyframes draws an object that moved further than its own size twice, half transparent
(engine.metrics.ghosting). Here each keyframe's object region (`find_region`: what stands out from each row's
median, the background estimate) is carried towards the other keyframe's along the straight line between their
centres, and scaled by the ratio of their areas, then the two carried layers are blended by time (keyframe a's
weight 1 − τ at τ of the way to b). The object is drawn once, opaque: its coverage is the larger of the two
carried masks and its colour their time-weighted mean. The background is each keyframe where its own object
does not cover it (time-weighted where both show it), the background estimate where neither does.

It knows translation and growth; a rotation is blended, not turned, and a curved path (an orbit between keyframes
half a turn apart) is cut straight. A gap is blended where the regions cannot be trusted: an object missing from
either keyframe, a region over `MAX_SHARE` of the frame (a background the region finder mistakes for objects),
or two regions whose areas differ more than `MAX_GROWTH`×.

    '(T, 3, H, W) keyframes -> (4T − 3, 3, H, W)': frame 4k is keyframe k; 4k + 1, 4k + 2, 4k + 3 are τ = ¼, ½, ¾.
"""
from __future__ import annotations

import torch

from .region import Region, find_region
from .warp import _similarity, _warp

FACTOR = 4  # in-between frames per keyframe gap, plus one: engine.models.interpolation.FACTOR
MAX_SHARE, MAX_GROWTH = 0.35, 2.5  # beyond these a region is not one object (see the docstring)


def _carried(frame: torch.Tensor, region: Region, shift: torch.Tensor, scale: float) -> tuple[torch.Tensor, ...]:
    """Frame (1, 3, H, W)'s object layer moved by `shift` (1, 2) pixels and scaled about its centre: (premultiplied
    colour (1, 3, H, W), coverage (1, 1, H, W))."""
    maps = _similarity(region.centre, shift, 0.0, scale)
    return _warp(frame * region.mask, maps), _warp(region.mask, maps)


def tween(a: torch.Tensor, b: torch.Tensor, tau: float, ra: Region, rb: Region) -> torch.Tensor:
    """The frame τ of the way from keyframe a to b (each (1, 3, H, W) in [0, 1], with their regions)."""
    step = rb.centre - ra.centre
    growth = (rb.mask.sum() / ra.mask.sum()).sqrt().item()
    colour_a, cover_a = _carried(a, ra, tau * step, growth ** tau)
    colour_b, cover_b = _carried(b, rb, (tau - 1) * step, growth ** (tau - 1))
    weight_a, weight_b = (1 - tau) * (1 - ra.mask), tau * (1 - rb.mask)  # where each keyframe shows its background
    seen = weight_a + weight_b
    background = torch.where(seen > 0, (weight_a * a + weight_b * b) / seen.clamp(min=1e-6),
                             (1 - tau) * ra.background + tau * rb.background)
    mixed = (1 - tau) * cover_a + tau * cover_b
    colour = ((1 - tau) * colour_a + tau * colour_b) / mixed.clamp(min=1e-6)
    cover = torch.maximum(cover_a, cover_b)
    return (colour * cover + background * (1 - cover)).clamp(0, 1)


def trusted(ra: Region, rb: Region) -> bool:
    """Whether two keyframes' regions look like one object each, the same one (else their gap is blended)."""
    if not (ra.found.item() and rb.found.item()):
        return False
    area_a, area_b = ra.mask.mean().item(), rb.mask.mean().item()
    return max(area_a, area_b) <= MAX_SHARE and max(area_a, area_b) / min(area_a, area_b) <= MAX_GROWTH


def tween_keyframes(keys: torch.Tensor) -> torch.Tensor:
    """Keyframes (T, 3, H, W) in [0, 1] -> (4T − 3, 3, H, W): each gap filled by `tween` (a blend where the regions
    are not `trusted`)."""
    if keys.ndim != 4 or keys.shape[1] != 3 or keys.shape[0] < 2:
        raise ValueError(f"expected at least 2 keyframes shaped (T, 3, H, W), got {tuple(keys.shape)}")
    keys = keys.float()
    regions = [find_region(k[None]) for k in keys]
    frames = [keys[:1]]
    for i in range(len(keys) - 1):
        a, b, ra, rb = keys[i:i + 1], keys[i + 1:i + 2], regions[i], regions[i + 1]
        for j in range(1, FACTOR):
            tau = j / FACTOR
            frames.append(tween(a, b, tau, ra, rb) if trusted(ra, rb) else (1 - tau) * a + tau * b)
        frames.append(b)
    return torch.cat(frames)
