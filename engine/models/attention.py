"""Attention processors for the spatial self-attention of an inflated UNet (diffusers' processor API).

- LatentShiftAttnProcessor (SimDA §3.3): each frame's queries attend to keys and values made of its own
  tokens joined with the previous frame's (the first frame uses itself): O(2·L·N²) instead of O(L²·N²).
  No new parameters; for a one-frame clip it equals plain attention (duplicated keys change no softmax).
- SpatioTemporalAttnProcessor: full attention over every token of every frame, the costly reference.
- CrossFrameAttnProcessor (Text2Video-Zero §3.2): every frame's queries attend to the first frame's keys and
  values, so every frame keeps frame 0's look (its object, colours, background) wherever the layout puts it.
  No parameters; frame 0 and a one-frame clip get plain attention. `cross_frame_attention(video)` switches a
  video UNet's spatial self-attention to it for a while (a context manager): training-free, any mode.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from diffusers.models.attention import BasicTransformerBlock
from einops import rearrange

from .temporal import FrameContext


def _project(attn, hidden: torch.Tensor, context: torch.Tensor):
    q, k, v = attn.to_q(hidden), attn.to_k(context), attn.to_v(context)
    split = lambda x: rearrange(x, "n t (h d) -> n h t d", h=attn.heads)
    return split(q), split(k), split(v)


def _finish(attn, out: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    out = attn.to_out[1](attn.to_out[0](rearrange(out, "n h t d -> n t (h d)")))
    if attn.residual_connection:
        out = out + residual
    return out / attn.rescale_output_factor


def _check(attn, hidden: torch.Tensor, encoder_hidden_states):
    if encoder_hidden_states is not None:
        raise ValueError("frame-mixing processors are for self-attention (attn1) only")
    if hidden.ndim != 3 or attn.spatial_norm is not None or attn.group_norm is not None:
        raise NotImplementedError("frame-mixing processors handle token inputs (N, T, C) without extra norms")


class LatentShiftAttnProcessor:
    def __init__(self, ctx: FrameContext):
        self.ctx = ctx

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        _check(attn, hidden_states, encoder_hidden_states)
        q, k, v = _project(attn, hidden_states, hidden_states)  # each frame's keys and values, projected once
        k, v = self._with_previous(k), self._with_previous(v)  # (b f) h 2t d
        return _finish(attn, F.scaled_dot_product_attention(q, k, v), hidden_states)

    def _with_previous(self, x: torch.Tensor) -> torch.Tensor:
        x = rearrange(x, "(b f) h t d -> b f h t d", f=self.ctx.frames)
        previous = torch.cat([x[:, :1], x[:, :-1]], dim=1)  # frame i sees frame i-1; frame 0 sees itself
        return rearrange(torch.cat([x, previous], dim=3), "b f h t d -> (b f) h t d")


class SpatioTemporalAttnProcessor:
    def __init__(self, ctx: FrameContext):
        self.ctx = ctx

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        _check(attn, hidden_states, encoder_hidden_states)
        f = self.ctx.frames
        tokens = rearrange(hidden_states, "(b f) t c -> b (f t) c", f=f)  # every frame's tokens in one sequence
        q, k, v = _project(attn, tokens, tokens)
        out = _finish(attn, F.scaled_dot_product_attention(q, k, v), tokens)
        return rearrange(out, "b (f t) c -> (b f) t c", f=f)


class CrossFrameAttnProcessor:
    def __init__(self, ctx: FrameContext):
        self.ctx = ctx

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        _check(attn, hidden_states, encoder_hidden_states)
        q, k, v = _project(attn, hidden_states, hidden_states)
        k, v = self._first(k), self._first(v)  # (b f) h t d: frame 0's, for every frame
        return _finish(attn, F.scaled_dot_product_attention(q, k, v), hidden_states)

    def _first(self, x: torch.Tensor) -> torch.Tensor:
        x = rearrange(x, "(b f) h t d -> b f h t d", f=self.ctx.frames)
        return rearrange(x[:, :1].expand_as(x), "b f h t d -> (b f) h t d")


@contextmanager
def cross_frame_attention(video):
    """Within the block, every spatial self-attention (attn1) of the video UNet `video` attends to frame 0
    (CrossFrameAttnProcessor); the processors it had before come back after, whatever happens."""
    blocks = [m for m in video.modules() if isinstance(m, BasicTransformerBlock)]
    before = [b.attn1.processor for b in blocks]
    try:
        for b in blocks:
            b.attn1.set_processor(CrossFrameAttnProcessor(video.ctx))
        yield video
    finally:
        for b, processor in zip(blocks, before):
            b.attn1.set_processor(processor)
