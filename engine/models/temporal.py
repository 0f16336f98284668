"""Temporal modules added to an inflated image UNet. Each reads its input as frames folded into the batch,
'(b f) c h w', unfolds them with the frame count from a shared FrameContext, and adds a residual whose last
projection starts at zero: at initialisation every module is the identity, so the video UNet reproduces
the image UNet frame by frame.

- TemporalAttention: attention over frames at each position (Inflation §3.2's frame-wise adapter;
  FusionFrames' Temporal Attn1D), which first reads the prompt (cross-attention to the text tokens) so that
  it knows which motion the caption asks for (see `TemporalAttention`).
- WindowAttention3d: attention over 2×2×T windows (FusionFrames' Temporal Attn3D).
- TemporalConv: 3×1×1 (Temporal Conv1D) or 3×3×3 with a bottleneck (Temporal Conv3D) convolution block.
- TemporalAdapter: SimDA's bottleneck with a depth-wise 3D convolution instead of an activation.
- SpatialAdapter: SimDA's bottleneck MLP on tokens (after self-attention, beside the FFN).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


@dataclass
class FrameContext:
    """Shared by every temporal module of one video UNet: the current forward pass's frame count and its
    text states (B, L, D), one per clip, not repeated per frame."""
    frames: int = 1
    text: torch.Tensor | None = None


def _groups(channels: int) -> int:
    return math.gcd(32, channels) if channels >= 8 else 1


def _zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class FramePositions(nn.Module):
    """A table of frame-position embeddings (FusionFrames), initialised sinusoidally so order is visible at once."""

    def __init__(self, dim: int, max_frames: int = 64):
        super().__init__()
        pos = torch.arange(max_frames).float()[:, None]
        freq = torch.exp(-math.log(10_000) * torch.arange(0, dim, 2).float() / dim)
        table = torch.zeros(max_frames, dim)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
        self.table = nn.Parameter(table)

    def forward(self, frames: int) -> torch.Tensor:
        if frames > self.table.shape[0]:
            raise ValueError(f"{frames} frames; temporal modules were built for at most {self.table.shape[0]}")
        return self.table[:frames]


class TemporalModule(nn.Module):
    def __init__(self, ctx: FrameContext):
        super().__init__()
        self.ctx = ctx  # a plain object, not a submodule: shared, and never saved

    @property
    def frames(self) -> int:
        return self.ctx.frames


class TemporalAttention(TemporalModule):
    """x + proj_out(attention over frames of [norm(x) + positions + text]), at every spatial position.

    With `text_dim`, each token first attends to the prompt's text states (a zero-initialised cross-attention,
    so identity at initialisation is kept by proj_out alone). An image base trained on stills learns to
    ignore motion words, which say nothing about a still: its spatial features carry no motion, and a
    temporal module that cannot read the prompt can only guess the direction (motion accuracy at chance).
    """

    def __init__(self, channels: int, ctx: FrameContext, heads: int = 4, window: int = 1, text_dim: int | None = None,
                 positions: bool = True):
        super().__init__(ctx)
        self.window = window  # 1: Attn1D (one position); 2: Attn3D (a 2×2 window across all frames)
        heads = max(1, min(heads, channels // 8))
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.positions = FramePositions(channels) if positions else None  # None: order only from what comes before
        if text_dim:
            self.text_norm = nn.LayerNorm(channels)
            self.text_attn = nn.MultiheadAttention(channels, heads, kdim=text_dim, vdim=text_dim, batch_first=True)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.proj_out = _zero(nn.Linear(channels, channels))

    def read_prompt(self, t: torch.Tensor) -> torch.Tensor:
        """t (b s) l c: every token of clip b attends to clip b's text states (B, L, D)."""
        text = self.ctx.text
        if not hasattr(self, "text_attn") or text is None:
            return t
        q = rearrange(self.text_norm(t), "(b s) l c -> b (s l) c", b=text.shape[0])
        read, _ = self.text_attn(q, text.to(q.dtype), text.to(q.dtype), need_weights=False)
        return t + rearrange(read, "b (s l) c -> (b s) l c", l=t.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, p = self.frames, self.window
        h, w = x.shape[-2:]
        if h % p or w % p:
            raise ValueError(f"window attention needs sides divisible by {p}, got {h}×{w}")
        t = rearrange(self.norm(x), "(b f) c (h p1) (w p2) -> (b h w) f (p1 p2) c", f=f, p1=p, p2=p)
        if self.positions is not None:
            t = t + self.positions(f)[None, :, None]  # f c
        t = self.read_prompt(rearrange(t, "n f q c -> n (f q) c"))
        t, _ = self.attn(t, t, t, need_weights=False)
        t = self.proj_out(t)
        t = rearrange(t, "(b h w) (f p1 p2) c -> (b f) c (h p1) (w p2)", h=h // p, w=w // p, f=f, p1=p, p2=p)
        return x + t


class TemporalConv(TemporalModule):
    """x + conv(act(norm(x))) over time: kernel 3×1×1 (Conv1D) or 3×3×3 behind a 4× channel bottleneck (Conv3D;
    `bottleneck=False`: at full width, as FusionFrames' video decoder). `padding="replicate"` pads with the edge
    frames instead of zeros, so a still input stays still (to float rounding) through any stack of them."""

    def __init__(self, channels: int, ctx: FrameContext, spatial: bool = False, block: bool = True,
                 bottleneck: bool = True, padding: str = "zeros"):
        super().__init__(ctx)
        narrow = spatial and bottleneck
        inner = max(8, channels // 4) if narrow else channels
        k = (3, 3, 3) if spatial else (3, 1, 1)
        layers = [nn.GroupNorm(_groups(channels), channels), nn.SiLU()] if block else [nn.GroupNorm(_groups(channels), channels)]
        if narrow:
            layers += [nn.Conv3d(channels, inner, 1)]
        conv = lambda: nn.Conv3d(inner, inner, k, padding=tuple(s // 2 for s in k), padding_mode=padding)
        layers += [conv()]
        if block:  # a block (FusionFrames' separate temporal block) has two convolutions
            layers += [nn.GroupNorm(_groups(inner), inner), nn.SiLU(), conv()]
        if narrow:
            layers += [nn.Conv3d(inner, channels, 1)]
        _zero(layers[-1])
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = rearrange(x, "(b f) c h w -> b c f h w", f=self.frames)
        return x + rearrange(self.net(v), "b c f h w -> (b f) c h w")


class TemporalAdapter(TemporalModule):
    """SimDA: x + up(dwconv3d(down(x))), with a depth-wise 3×3×3 convolution in place of the activation."""

    def __init__(self, channels: int, ctx: FrameContext, ratio: int = 4):
        super().__init__(ctx)
        inner = max(4, channels // ratio)
        self.down = nn.Conv3d(channels, inner, 1)
        self.dwconv = nn.Conv3d(inner, inner, 3, padding=1, groups=inner)
        self.up = _zero(nn.Conv3d(inner, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = rearrange(x, "(b f) c h w -> b c f h w", f=self.frames)
        return x + rearrange(self.up(self.dwconv(self.down(v))), "b c f h w -> (b f) c h w")


class SpatialAdapter(nn.Module):
    """SimDA: x + W_down(GELU(W_up(x))) on tokens (..., c), the second layer zero-initialised."""

    def __init__(self, channels: int, ratio: int = 4):
        super().__init__()
        inner = max(4, channels // ratio)
        self.fc1 = nn.Linear(channels, inner)
        self.fc2 = _zero(nn.Linear(inner, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))  # the residual is added by whoever places it
