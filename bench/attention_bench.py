"""Latent-shift attention (SimDA §3.3) vs full spatio-temporal attention: the time of one self-attention
layer of an inflated UNet, whole (projections included), side by side in one run.

    python bench/attention_bench.py [--frames 16] [--out bench/results/attention.md]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from diffusers.models.attention_processor import Attention

from engine.models.attention import LatentShiftAttnProcessor, SpatioTemporalAttnProcessor
from engine.models.temporal import FrameContext

from step_bench import timed

# (tokens per frame, channels): the embedded UNet's attention levels, then SD-1.5's at a 32² latent
LAYERS = {"embedded 16² × 64": (256, 64), "embedded 8² × 96": (64, 96), "SD-1.5 32² × 320": (1024, 320)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    ctx = FrameContext(frames=a.frames)
    lines = [f"One self-attention layer, {a.frames} frames, batch 1, fp32 (median of {a.repeats}).", "",
             "| layer | latent-shift s | full spatio-temporal s | latent-shift / full |", "|---|---|---|---|"]
    for name, (tokens, channels) in LAYERS.items():
        attn = Attention(query_dim=channels, heads=8, dim_head=channels // 8).eval()
        x = torch.randn(a.frames, tokens, channels)  # (b f) t c
        times = {}
        with torch.no_grad():
            for label, proc in (("shift", LatentShiftAttnProcessor(ctx)), ("full", SpatioTemporalAttnProcessor(ctx))):
                attn.set_processor(proc)
                times[label] = timed(lambda: attn(x), a.repeats)
        lines.append(f"| {name} | {times['shift']:.4f} | {times['full']:.4f} | {times['shift'] / times['full']:.3f} |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
