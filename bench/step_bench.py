"""The keyframe denoising step on this CPU: achieved FLOP/s as a fraction of the fp32 matmul peak measured
in the same run, and what SDPA, channels-last, torch.compile and bf16 change (ratios side by side).

    python bench/step_bench.py [--compile] [--frames 8] [--mode temporal] [--out bench/results/step.md]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from diffusers.models.attention_processor import AttnProcessor
from torch.utils.flop_counter import FlopCounterMode

from engine.files import write_text
from engine.models.base import base_unet
from engine.models.inflate import inflate
from engine.tuning import apply_mode


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times)


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--mode", default="temporal")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--compile", action="store_true", help="also time torch.compile (≈1 min of compiling)")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    video = apply_mode(inflate(base_unet()), a.mode).eval().requires_grad_(False)  # inference: no autograd hooks
    x = torch.randn(2, 3, a.frames, 32, 32)  # one step with classifier-free guidance: batch 2
    t = torch.tensor([500, 500])
    text = torch.randn(2, 24, 64)
    step = lambda: video(x, t, text)

    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            step()
        flops = counter.get_total_flops()
        peak = matmul_peak()
        rows = {"fp32, SDPA attention (default)": timed(step, a.repeats)}
        video.unet.set_attn_processor(AttnProcessor())
        rows["fp32, plain (math) attention"] = timed(step, a.repeats)
        video.unet.set_default_attn_processor()
        video.unet.to(memory_format=torch.channels_last)
        rows["fp32, channels-last"] = timed(step, a.repeats)
        video.unet.to(memory_format=torch.contiguous_format)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            rows["bf16 autocast"] = timed(step, max(1, a.repeats // 3))
        if a.compile:
            compiled = torch.compile(video)
            start = time.perf_counter()
            compiled(x, t, text)
            compile_s = time.perf_counter() - start
            rows[f"torch.compile (compiling took {compile_s:.0f} s)"] = timed(lambda: compiled(x, t, text), a.repeats)

    base = rows["fp32, SDPA attention (default)"]
    lines = [f"Denoising step of the {a.mode} keyframe UNet: {a.frames} frames at 32², batch 2 (guidance), "
             f"{flops / 1e9:.2f} GFLOP a step; fp32 matmul peak here {peak / 1e9:.1f} GFLOP/s.", "",
             "| variant | s / step | GFLOP/s | of matmul peak | speed vs default |", "|---|---|---|---|---|"]
    for name, s in rows.items():
        lines.append(f"| {name} | {s:.3f} | {flops / s / 1e9:.1f} | {flops / s / peak:.1%} | {base / s:.2f}× |")
    print(text := "\n".join(lines) + "\n")
    if a.out:
        write_text(a.out, text)


if __name__ == "__main__":
    main()
