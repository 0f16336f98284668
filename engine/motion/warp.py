"""Moving frames and noise along a motion plan (engine/motion/README.md; Go-with-the-Flow, Burgert et al. 2025;
"How I Warped Your Noise", Chang et al. 2024).

A plan becomes, per clip and keyframe, two affine maps in pixel coordinates (pixel centres at k + 0.5):
the object's (camera ∘ similarity about the object's centre) and the background's (the camera alone).

- `warp_image` moves a frame's object layer along its map over the background estimate (bilinear), then
  the whole frame along the camera's: the Text2Video-Zero way of starting every frame from frame 0.
- `warp_noise` moves Gaussian noise while keeping it exactly N(0, 1) per pixel: noise is drawn on a grid
  r× finer than the frame ('b c (h r1) (w r2)'), every fine cell is carried by its map to the frame pixel it
  lands in, and a pixel is the sum of the n cells it receives divided by √n. Object cells occlude background
  cells; a pixel that receives none (uncovered by the camera) gets fresh noise. Cells under frame 0's object
  are fresh for the background layer, so what the object uncovers is new noise. Two frames correlate by the
  share of cells they have in common: a shift of one fine cell (1/r pixel) correlates by 1 − 1/r.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers.utils.torch_utils import randn_tensor
from einops import rearrange

from .plan import MotionPlan
from .region import Region, bounding_box

FINE = 4  # fine noise cells per pixel and axis


def _similarity(centre: torch.Tensor, shift: torch.Tensor, angle: float, scale: float) -> torch.Tensor:
    """(B, 3, 3): p -> centre + shift + scale · R · (p − centre), R the world's on-screen rotation by angle."""
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    rot = torch.tensor([[c, s], [-s, c]], dtype=torch.float32)  # render() rotates the world by angle: R(−angle)
    m = torch.eye(3).repeat(len(centre), 1, 1)
    m[:, :2, :2] = rot
    m[:, :2, 2] = centre + shift - centre @ rot.T
    return m


def plan_maps(plan: MotionPlan, region: Region, size: tuple[int, int], fit: bool = True, move_first: bool = True):
    """Per clip and keyframe, the object's and the camera's maps, each (B, F, 3, 3). The object starts at
    the plan's anchor, if any; else where it is, moved as little as needed (`fit`) to stay in the frame.
    `move_first=False`: it starts where it is, whatever the anchor (a given first frame is kept as given)."""
    h, w = size
    px = torch.tensor([w, h], dtype=torch.float32)
    b = len(region.centre)
    obj = torch.stack([_similarity(region.centre, torch.tensor(s) * px, a, z)
                       for s, a, z in zip(plan.shift, plan.angle, plan.scale)], 1)  # b f 3 3
    cam = torch.stack([_similarity(px.expand(b, 2) / 2, torch.tensor(c[:2]) * px, 0.0, c[2])
                       for c in plan.camera], 1)
    if not move_first:
        offset = torch.zeros(b, 2)
    elif plan.anchor is not None:
        offset = torch.tensor(plan.anchor) * px - region.centre
    elif fit:
        offset = _fit_offset(obj, bounding_box(region.mask), size)
    else:
        offset = torch.zeros(b, 2)
    obj[:, :, :2, 2] += offset[:, None]
    return cam @ obj, cam


def _fit_offset(obj: torch.Tensor, box: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, 2): the smallest shift that keeps the object's box inside the frame on every keyframe."""
    h, w = size
    x0, y0, x1, y1 = box.unbind(1)
    corners = torch.stack([torch.stack([x0, y0]), torch.stack([x1, y0]), torch.stack([x0, y1]),
                           torch.stack([x1, y1])], 1).permute(2, 0, 1)  # b 2 4
    moved = obj[:, :, :2, :2] @ corners[:, None] + obj[:, :, :2, 2:]  # b f 2 4
    lo, hi = moved.amin(dim=(1, 3)), moved.amax(dim=(1, 3))  # b 2
    limit = torch.tensor([w, h], dtype=torch.float32)
    under, over = (-lo).clamp(min=0), (hi - limit).clamp(min=0)
    return torch.where((under > 0) & (over > 0), (limit - lo - hi) / 2, under - over)


def _sample_grid(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """For destination pixels, where they come from under `maps` (N, 3, 3): a grid_sample grid (N, H, W, 2)."""
    h, w = size
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    dest = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(-1, 3)  # (h w) 3
    src = dest @ torch.linalg.inv(maps).transpose(1, 2)  # n (h w) 3
    norm = src[..., :2] / torch.tensor([w, h], dtype=torch.float32) * 2 - 1
    return norm.reshape(len(maps), h, w, 2)


def _warp(x: torch.Tensor, maps: torch.Tensor, padding: str = "zeros") -> torch.Tensor:
    """Frames x (N, C, H, W) moved along maps (N, 3, 3), bilinear."""
    grid = _sample_grid(maps, x.shape[-2:]).to(x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def warp_image(image: torch.Tensor, region: Region, obj: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Frame 0 (B, C, H, W) carried along the maps: (B, C, F, H, W). The object layer moves over the
    background estimate (which fills what the object uncovers), then the camera moves everything."""
    b, f = obj.shape[:2]
    rep = lambda x: x.repeat_interleave(f, 0)
    flat = lambda m: rearrange(m, "b f i j -> (b f) i j")
    mask = _warp(rep(region.mask.to(image.dtype)), flat(obj))
    layer = _warp(rep(image * region.mask), flat(obj))
    background = region.background.to(image.dtype)
    backdrop = _warp(rep(image * (1 - region.mask) + background * region.mask), flat(cam), padding="border")
    frames = layer + backdrop * (1 - mask)
    return rearrange(frames, "(b f) c h w -> b c f h w", f=f)


def _carry(cells: torch.Tensor, keep: torch.Tensor, maps: torch.Tensor, size: tuple[int, int], r: int):
    """Sum of the fine cells (B, C, rH·rW) in `keep` (B, rH·rW) landing in each pixel under maps (B, 3, 3),
    and their count: (B, C, H·W), (B, 1, H·W)."""
    h, w = size
    ys, xs = torch.meshgrid((torch.arange(h * r) + 0.5) / r, (torch.arange(w * r) + 0.5) / r, indexing="ij")
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(-1, 3)
    dest = (points @ maps.transpose(1, 2))[..., :2].floor().long()  # b n 2
    inside = keep & (dest[..., 0] >= 0) & (dest[..., 0] < w) & (dest[..., 1] >= 0) & (dest[..., 1] < h)
    index = torch.where(inside, dest[..., 1] * w + dest[..., 0], h * w)  # outside cells go to a spare bin
    total = cells.new_zeros(*cells.shape[:2], h * w + 1)
    total.scatter_add_(2, index[:, None].expand_as(cells), cells)
    count = cells.new_zeros(cells.shape[0], 1, h * w + 1)
    count.scatter_add_(2, index[:, None], inside[:, None].to(cells.dtype))
    return total[..., :-1], count[..., :-1]


def warp_noise(shape: tuple, region: Region, obj: torch.Tensor, cam: torch.Tensor,
               generator: torch.Generator | None = None, r: int = FINE, fine: torch.Tensor | None = None):
    """Noise (B, C, F, H, W) warped along the maps, N(0, 1) per pixel and frame. `fine` (B, C, rH, rW) is the
    fine noise to carry (drawn from `generator` if None); frame 0 under identity maps is its r×r sums / r."""
    b, c, f, h, w = shape
    draw = lambda s: randn_tensor(s, generator=generator, dtype=torch.float32)
    fine = draw((b, c, h * r, w * r)) if fine is None else fine.float()
    on = F.interpolate(region.mask.float(), scale_factor=r, mode="nearest") > 0.5  # b 1 rh rw
    backdrop = torch.where(on, draw(fine.shape), fine).flatten(2)  # fresh cells under the object
    on, fine = on.flatten(1), fine.flatten(2)
    everywhere = torch.ones_like(on)
    frames = []
    for k in range(f):
        o_sum, o_n = _carry(fine, on, obj[:, k], (h, w), r)
        b_sum, b_n = _carry(backdrop, everywhere, cam[:, k], (h, w), r)
        fresh = draw((b, c, h * w))
        frames.append(torch.where(o_n > 0, o_sum / o_n.clamp(min=1).sqrt(),
                                  torch.where(b_n > 0, b_sum / b_n.clamp(min=1).sqrt(), fresh)))
    return rearrange(torch.stack(frames, 2), "b c f (h w) -> b c f h w", h=h)


def coarse_noise(fine: torch.Tensor, r: int = FINE) -> torch.Tensor:
    """Fine noise (..., rH, rW) -> N(0, 1) pixels: each the sum of its r×r cells over r."""
    return rearrange(fine, "... (h r1) (w r2) -> ... h w r1 r2", r1=r, r2=r).sum((-1, -2)) / r


def fine_noise_like(coarse: torch.Tensor, r: int = FINE, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fine noise (..., rH, rW) whose `coarse_noise` is `coarse` (..., H, W), every cell N(0, 1) and independent
    given it ("How I Warped Your Noise" §4's conditional upsampling): a cell is coarse/r plus z minus its block's
    mean of z, z ~ N(0, 1); the block sum is r·coarse, a cell's variance 1/r² + (1 − 1/r²) = 1."""
    z = randn_tensor((*coarse.shape[:-2], coarse.shape[-2] * r, coarse.shape[-1] * r), generator=generator,
                     dtype=torch.float32)
    mean = rearrange(z, "... (h r1) (w r2) -> ... h w r1 r2", r1=r, r2=r).mean((-1, -2))
    up = lambda x: x.repeat_interleave(r, -2).repeat_interleave(r, -1)  # 'h w -> (h r1) (w r2)'
    return up(coarse.float() / r) + z - up(mean)
