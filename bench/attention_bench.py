"""Latent-shift attention (SimDA §3.3) vs full spatio-temporal attention: the time of one self-attention
layer of an inflated UNet, whole (projections included), side by side in one run.

    python bench/attention_bench.py [--frames 16] [--out bench/results/attention.md]
"""
from __future__ import annotations

import argparse

import torch
from diffusers.models.attention_processor import Attention

from engine.files import write_text
from engine.models.base import base_unet
from engine.models.attention import LatentShiftAttnProcessor, SpatioTemporalAttnProcessor
from engine.models.temporal import FrameContext

from step_bench import timed


def self_attention_layers(unet, size: int) -> list[tuple[int, int]]:
    """(tokens per frame, channels) of every spatial self-attention layer of a UNet at a size² input."""
    from diffusers.models.attention import BasicTransformerBlock

    layers, shapes = [], {}

    def record(mod, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        shapes.setdefault(id(mod), hidden.shape[1:])  # returns None: the inputs pass on unchanged

    hooks = [m.attn1.register_forward_pre_hook(record, with_kwargs=True)
             for m in unet.modules() if isinstance(m, BasicTransformerBlock)]
    with torch.no_grad():
        c = unet.config
        unet(torch.randn(1, c.in_channels, size, size), 1, torch.randn(1, 4, c.cross_attention_dim))
    for h in hooks:
        h.remove()
    for tokens, channels in shapes.values():
        layers.append((int(tokens), int(channels)))
    return layers


def layer_times(shape: tuple[int, int], ctx: FrameContext, frames: int, repeats: int) -> tuple[float, float]:
    tokens, channels = shape
    heads = 8 if channels >= 320 else 4  # SD-1.5 has 8 heads; the embedded UNet 4 (attention_head_dim=4)
    attn = Attention(query_dim=channels, heads=heads, dim_head=channels // heads).eval()
    x = torch.randn(frames, tokens, channels)  # (b f) t c
    out = []
    with torch.no_grad():
        for proc in (LatentShiftAttnProcessor(ctx), SpatioTemporalAttnProcessor(ctx)):
            attn.set_processor(proc)
            out.append(timed(lambda: attn(x), repeats))
    return out[0], out[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    ctx = FrameContext(frames=a.frames)
    lines = [f"Self-attention, {a.frames} frames, batch 1, fp32 (median of {a.repeats}); a layer's time includes "
             "its projections.", "",
             "| layer | latent-shift s | full spatio-temporal s | latent-shift / full |", "|---|---|---|---|"]
    embedded = self_attention_layers(base_unet(), 32)
    levels = {shape: embedded.count(shape) for shape in sorted(set(embedded), reverse=True)}
    times = {shape: layer_times(shape, ctx, a.frames, a.repeats) for shape in [*levels, (1024, 320)]}
    for (tokens, channels), (shift, full) in times.items():
        name = f"{'SD-1.5 at a 32² latent' if channels == 320 else 'embedded'}: {tokens} tokens × {channels} ch"
        count = f" (×{levels[(tokens, channels)]} in the UNet)" if (tokens, channels) in levels else ""
        lines.append(f"| {name}{count} | {shift:.4f} | {full:.4f} | {shift / full:.3f} |")
    shift = sum(n * times[k][0] for k, n in levels.items())
    full = sum(n * times[k][1] for k, n in levels.items())
    lines.append(f"| **embedded UNet, all {len(embedded)} self-attention layers** | {shift:.4f} | {full:.4f} | "
                 f"**{shift / full:.3f}** |")
    print(text := "\n".join(lines) + "\n")
    if a.out:
        write_text(a.out, text)


if __name__ == "__main__":
    main()
