"""Where a planned clip starts: every frame made from a denoised frame 0 along the plan (engine/motion/README.md).

Two training-free ways, for any model, pixel or latent:

- "frame" (Text2Video-Zero's motion dynamics, Khachatryan et al. 2023, §3.1): frame 0 is denoised alone,
  its object region is carried along the plan over the background estimate to every frame, and the clip is
  noised again to `strength` of the schedule with noise warped along the same plan; the video model then
  denoises all frames together. The layout is given, so the object goes where the plan says.
- "noise" (Go-with-the-Flow, Burgert et al. 2025): the initial noise itself is warped along the plan, frame
  0's region found by the same first pass; sampling runs the whole schedule. The model moves the object
  only as far as it follows its noise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from diffusers.utils.torch_utils import randn_tensor

from .plan import MotionPlan, still_plan
from .region import Region, find_region
from .warp import FINE, coarse_noise, plan_maps, warp_image, warp_noise

METHODS = ("frame", "noise")
DEFAULT_METHOD = "frame"
DEFAULT_STRENGTH = 0.7  # "frame": the share of the schedule the warped clip is noised back to


@dataclass
class PlannedStart:
    noise: torch.Tensor         # (B, C, F, h, w) noise warped along the plan
    clean: torch.Tensor         # (B, C, F, h, w) frame 0 carried along the plan (model space)
    region: Region              # frame 0's object region (model space)


def check_method(method: str, strength: float):
    if method not in METHODS:
        raise ValueError(f"unknown motion method {method!r}; choose one of: {', '.join(METHODS)}")
    if not 0 < strength <= 1:
        raise ValueError(f"motion strength must be in (0, 1] (the share of the schedule frame 0's warp is noised "
                         f"back to), got {strength}")


def resume_index(steps: int, strength: float) -> int:
    """The frame method's first step of `steps`: the index of the timestep at `strength` of the schedule
    (steps − index steps are left to take)."""
    return min(steps - 1, round(steps * (1 - strength)))


def first_frame_noise(shape: tuple, generator: torch.Generator | None, r: int = FINE):
    """Fine noise (B, C, rh, rw) and frame 0's noise (B, C, 1, h, w) made from it (each pixel N(0, 1))."""
    b, c, _, h, w = shape
    fine = randn_tensor((b, c, h * r, w * r), generator=generator, dtype=torch.float32)
    return fine, coarse_noise(fine, r)[:, :, None]


def model_region(pixels: torch.Tensor, first: torch.Tensor, encode: Callable) -> Region:
    """The object region of frame 0 found in its pixels (B, 3, H, W) in [0, 1], in the model's space
    (`first` (B, C, h, w)): the background estimate goes through `encode` (pixels in [0, 1] -> model space:
    the VAE for a latent model) and, for a latent model, the mask is pooled to latent cells."""
    region = find_region(pixels)
    s = pixels.shape[-1] // first.shape[-1]
    mask = F.max_pool2d(region.mask, s) if s > 1 else region.mask
    return Region(mask, region.centre / s, encode(region.background).to(first.dtype))


def _maps(plans: list[MotionPlan | None], region: Region, size: tuple[int, int], frames: int, fit: bool = True,
          move_first: bool = True):
    """Every clip's object and camera maps (B, F, 3, 3) along its plan (None: still)."""
    objs, cams = [], []
    for i, plan in enumerate(plans):
        plan = plan or still_plan(frames)
        if plan.frames != frames:
            raise ValueError(f"the motion plan has {plan.frames} frames, the clip {frames}")
        one = Region(region.mask[i:i + 1], region.centre[i:i + 1], region.background[i:i + 1])
        o, c = plan_maps(plan, one, size, fit, move_first)
        objs.append(o)
        cams.append(c)
    return torch.cat(objs), torch.cat(cams)


def planned_start(first: torch.Tensor, pixels: torch.Tensor, encode: Callable, plans: list[MotionPlan | None],
                  fine: torch.Tensor, frames: int, generator: torch.Generator | None = None,
                  move_first: bool = True) -> PlannedStart:
    """From denoised frame 0 (model space, (B, C, h, w)), its pixels and the way pixels go to model space,
    the clip along each clip's plan. `move_first=False`: frame 0 stays as it is (image-to-video), else its object
    may be moved to the plan's anchor or to where the whole plan fits in the frame."""
    region = model_region(pixels.float(), first.float(), encode)
    obj, cam = _maps(plans, region, first.shape[-2:], frames, move_first=move_first)
    b, c, h, w = first.shape
    noise = warp_noise((b, c, frames, h, w), region, obj, cam, generator, r=fine.shape[-1] // w, fine=fine)
    clean = warp_image(first.float(), region, obj, cam)
    return PlannedStart(noise.to(first.dtype), clean.to(first.dtype), region)


def clip_noise(pixels: torch.Tensor, plans: list[MotionPlan], shape: tuple, generator: torch.Generator | None = None):
    """Noise (B, C, F, h, w) = `shape` warped along each training clip's true plan (Go-with-the-Flow's tuning):
    the object is found in frame 0 of the clips `pixels` (B, 3, F, H, W) in [−1, 1] and, for a latent model
    (h < H), its mask pooled to latent cells; the plan is the clip's own, so no offset is fitted."""
    first = (pixels[:, :, 0].float() + 1) / 2
    region = find_region(first)
    s = pixels.shape[-1] // shape[-1]
    if s > 1:
        region = Region(F.max_pool2d(region.mask, s), region.centre / s, region.background)
    obj, cam = _maps(plans, region, shape[-2:], shape[2], fit=False)
    return warp_noise(shape, region, obj, cam, generator)
