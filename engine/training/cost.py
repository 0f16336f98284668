"""What a tuning mode costs to train: tunable parameters, seconds per step, peak memory.

Each measurement runs in a fresh process (`python -m engine.training.cost ...`) so that modes do not share
allocator state. Peak memory is the kernel's high-water mark of resident memory (VmHWM), reset once the
model is loaded and before the first step, minus the resident memory at that moment: what training adds on
top of the loaded model (gradients, optimizer state, activations), as Inflation's Table 1 counts it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from ..peak_memory import memory_status, reset_peak


def sd15_unet(sample_size: int = 8):
    """A Stable-Diffusion-1.5-sized UNet (≈860 M parameters) with random weights."""
    # heavy: diffusers loads in the measuring process only (python -m engine.training.cost), not in its callers
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(sample_size=sample_size, in_channels=4, out_channels=4,
                                block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
                                cross_attention_dim=768, attention_head_dim=8)


def measure(mode: str, config: str, frames: int, batch: int, steps: int, size: int | None = None) -> dict:
    # heavy: diffusers and the models load in the measuring process only, not where measure_in_subprocess runs
    from ..models.base import base_unet
    from ..models.inflate import inflate
    from ..tuning import apply_mode

    torch.manual_seed(0)
    unet = base_unet() if config == "embedded" else sd15_unet()
    size = size or unet.config.sample_size
    video = apply_mode(inflate(unet), mode)
    video.train()
    params = [p for p in video.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5) if params else None
    c = unet.config
    x = torch.randn(batch, c.in_channels, frames, size, size)
    text = torch.randn(batch, 8, c.cross_attention_dim)
    t = torch.randint(0, 1000, (batch,))

    def step():
        loss = video(x, t, text).square().mean()
        if opt:
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

    counts = video.count_parameters()
    return {"mode": mode, "config": config, "frames": frames, "batch": batch, "size": size,
            "params_total": counts["total"], "params_trainable": counts["trainable"], **time_steps(step, steps)}


def time_steps(step, steps: int) -> dict:
    """Median seconds of `step()` over `steps` calls and the peak memory they add to the loaded model (MB)."""
    rss = memory_status("VmRSS")  # the loaded model: what training adds is measured from here
    reset_peak()
    step()  # warm-up: allocator, kernels, and the optimizer state, which counts as training memory
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"step_s": statistics.median(times), "peak_mb": (memory_status("VmHWM") - rss) / 2**20}


def measure_in_subprocess(mode: str, config: str = "embedded", frames: int = 8, batch: int = 4, steps: int = 5,
                          size: int | None = None, threads: int = 2) -> dict:
    cmd = [sys.executable, "-m", "engine.training.cost", "--mode", mode, "--config", config, "--frames", str(frames),
           "--batch", str(batch), "--steps", str(steps), "--threads", str(threads)] + (["--size", str(size)] if size else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--mode", required=True)
    p.add_argument("--config", default="embedded", choices=["embedded", "sd15"])
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(json.dumps(measure(a.mode, a.config, a.frames, a.batch, a.steps, a.size)))
