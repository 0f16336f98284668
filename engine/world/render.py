"""Deterministic, anti-aliased rendering of a clip spec at any resolution and frame rate.

Shapes are signed distance fields evaluated at pixel centres; coverage is the distance clamped over one
pixel, so edges are anti-aliased at every resolution and a frame is a pure function of (spec, t, size).
"""
from __future__ import annotations

import math

import torch

from .spec import ClipSpec
from .vocab import COLOURS

SQUARE_HALF = 0.75   # half side / radius
RING_WIDTH = 0.28    # ring thickness / radius
DIAMOND_HALF_W = 0.6 # half width / radius (half height is the radius)
CHECK_CELLS = 12     # checkerboard cells per frame height
MAX_FRAMES, MAX_PIXELS = 1024, 2**26  # a clip at most (frames × height × width); 2**26 float RGB pixels are 0.8 GB


def _clip(x, lo, hi):
    """Clamp with tensor or scalar bounds (the radius is a per-frame tensor)."""
    lo = torch.as_tensor(lo, dtype=x.dtype)
    hi = torch.as_tensor(hi, dtype=x.dtype)
    return torch.minimum(torch.maximum(x, lo), hi)


def _length(x, y):
    return torch.sqrt(x * x + y * y)


def _sd_box(px, py, b):
    qx, qy = px.abs() - b, py.abs() - b
    return _length(qx.clamp(min=0), qy.clamp(min=0)) + torch.maximum(qx, qy).clamp(max=0)


def _sd_triangle(px, py, r):
    """Equilateral triangle with circumradius r, pointing up (Quilez)."""
    k = math.sqrt(3.0)
    a = r * k / 2  # half side
    py = -py + r / 4  # centre the triangle on its centroid, apex up on screen
    px = px.abs() - a
    py = py + a / k
    flip = (px + k * py) > 0
    nx = torch.where(flip, (px - k * py) / 2, px)
    ny = torch.where(flip, (-k * px - py) / 2, py)
    nx = nx - _clip(nx, -2 * a, 0.0)
    return -_length(nx, ny) * torch.sign(ny)


def _sd_star5(px, py, r, rf=0.45):
    """Five-pointed star, outer radius r, inner radius r*rf, point up (Quilez)."""
    k1x, k1y = 0.809016994375, -0.587785252292
    k2x, k2y = -k1x, k1y
    py = -py
    px = px.abs()
    d = torch.clamp(k1x * px + k1y * py, min=0) * 2  # max(dot(k1,p),0)*2
    px, py = px - d * k1x, py - d * k1y
    d = torch.clamp(k2x * px + k2y * py, min=0) * 2
    px, py = px - d * k2x, py - d * k2y
    px = px.abs()
    py = py - r
    bax, bay = rf * (-k1y), rf * k1x - 1
    h = _clip((px * bax + py * bay) / (bax * bax + bay * bay), 0.0, r)
    return _length(px - bax * h, py - bay * h) * torch.sign(py * bax - px * bay)


def _sd_rhombus(px, py, bx, by):
    qx, qy = px.abs(), py.abs()
    h = ((-2 * qx * bx + 2 * qy * by + bx * bx - by * by) / (bx * bx + by * by)).clamp(-1, 1)
    dx, dy = qx - 0.5 * bx * (1 - h), qy - 0.5 * by * (1 + h)
    return _length(dx, dy) * torch.sign(qx * by + qy * bx - bx * by)


def shape_sdf(shape: str, px, py, r):
    """Signed distance (frame heights) to a shape of nominal radius r centred at the origin."""
    if shape == "circle":
        return _length(px, py) - r
    if shape == "square":
        return _sd_box(px, py, r * SQUARE_HALF)
    if shape == "triangle":
        return _sd_triangle(px, py, r)
    if shape == "star":
        return _sd_star5(px, py, r)
    if shape == "ring":
        return (_length(px, py) - r * (1 - RING_WIDTH / 2)).abs() - r * RING_WIDTH / 2
    if shape == "diamond":
        return _sd_rhombus(px, py, r * DIAMOND_HALF_W, r)
    raise ValueError(shape)


def _filtered_checker(u, v, w):
    """Box-filtered checkerboard (1 on light cells) over a pixel footprint w, in cell units (Quilez)."""
    def tri(p):
        return 2 * ((torch.frac((p - 0.5 * w) * 0.5) - 0.5).abs() - (torch.frac((p + 0.5 * w) * 0.5) - 0.5).abs()) / w
    return 0.5 - 0.5 * tri(u) * tri(v)


def render_background(name: str, height: int, width: int) -> torch.Tensor:
    """(3, H, W) in [0, 1]."""
    y = ((torch.arange(height) + 0.5) / height).view(1, height, 1).expand(1, height, width)
    x = ((torch.arange(width) + 0.5) / height).view(1, 1, width).expand(1, height, width)

    def lerp(top, bottom):
        a, b = torch.tensor(top).view(3, 1, 1), torch.tensor(bottom).view(3, 1, 1)
        return a + (b - a) * y

    solids = {"black": (0.02, 0.02, 0.03), "gray": (0.40, 0.40, 0.42), "white": (0.92, 0.92, 0.90)}
    if name in solids:
        return torch.tensor(solids[name]).view(3, 1, 1).expand(3, height, width).clone()
    if name == "sunset":
        return lerp((0.22, 0.06, 0.30), (0.55, 0.22, 0.10))
    if name == "ocean":
        return lerp((0.02, 0.08, 0.28), (0.02, 0.33, 0.38))
    if name == "checkerboard":
        c = _filtered_checker(x * CHECK_CELLS, y * CHECK_CELLS, CHECK_CELLS / height)
        return (0.22 + 0.22 * c).expand(3, height, width).clone()
    raise ValueError(name)


def frame_times(fps: float, frames: int, t0: float = 0.0) -> torch.Tensor:
    return t0 + torch.arange(frames, dtype=torch.float64).float() / fps


def render_at(spec: ClipSpec, times: torch.Tensor, height: int, width: int | None = None) -> torch.Tensor:
    """Frames of `spec` at the given times (seconds): (F, 3, H, W) float32 in [0, 1]."""
    width = width or height
    times = times.float().view(-1, 1, 1)
    bg = render_background(spec.background, height, width)
    video = bg.unsqueeze(0).repeat(times.shape[0], 1, 1, 1)  # f 3 h w
    py = ((torch.arange(height) + 0.5) / height).view(1, height, 1)
    px = ((torch.arange(width) + 0.5) / height).view(1, 1, width)
    for obj in spec.objects:
        cx, cy, r, angle = obj.trajectory(times)  # each (f, 1, 1)
        dx, dy = px - cx * (width / height), py - cy
        cos, sin = torch.cos(angle), torch.sin(angle)
        lx, ly = cos * dx - sin * dy, sin * dx + cos * dy  # rotate the world, not the shape
        alpha = (0.5 - shape_sdf(obj.shape, lx, ly, r) * height).clamp(0, 1).unsqueeze(1)  # f 1 h w
        colour = torch.tensor(COLOURS[obj.colour]).view(1, 3, 1, 1)
        video = video * (1 - alpha) + colour * alpha
    return video.clamp(0, 1)


def render(spec: ClipSpec, size: int | tuple[int, int] = 64, fps: float = 8.0, frames: int = 16,
           t0: float = 0.0) -> torch.Tensor:
    """Render `frames` frames at `fps` starting at `t0` seconds: (F, 3, H, W) float32 in [0, 1]."""
    if not 1 <= frames <= MAX_FRAMES or not 0 < fps < float("inf"):
        raise ValueError(f"frames must be between 1 and {MAX_FRAMES} and fps a finite number > 0, got {frames} and "
                         f"{fps}")
    if not math.isfinite(t0):
        raise ValueError(f"t0 (--t0) must be a finite number of seconds, got {t0}")
    height, width = (size, size) if isinstance(size, int) else size
    if min(height, width) < 4 or max(height, width) > 2048:
        raise ValueError("size must be between 4 and 2048 pixels")
    if frames * height * width > MAX_PIXELS:
        raise ValueError(f"{frames} frames of {height}×{width} are {frames * height * width:,} pixels, over the limit "
                         f"of {MAX_PIXELS:,}: ask for fewer frames or a smaller size")
    return render_at(spec, frame_times(fps, frames, t0), height, width)
