"""Attention processors for the spatial self-attention of an inflated UNet (diffusers' processor API).

- LatentShiftAttnProcessor (SimDA §3.3): each frame's queries attend to keys and values made of its own
  tokens joined with the previous frame's (the first frame uses itself): O(2·L·N²) instead of O(L²·N²).
  No new parameters; for a one-frame clip it equals plain attention (duplicated keys change no softmax).
- SpatioTemporalAttnProcessor: full attention over every token of every frame, the costly reference.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
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
