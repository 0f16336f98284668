"""Upscaling, the task (`flipbook upscale`, the studio's Upscale tab): frames upscaled by the video super-resolution
model in segments (engine.pipelines.upscale); `upscale_file` reads a clip and writes the result and a sidecar that
says what was done."""
from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Callable

import torch

from .io import read_video, write_video
from .pipelines.upscale import SEGMENT, segments, upscale_frames, upscale_pipeline
from .sidecar import read_sidecar, write_sidecar


def upscale_clip(video: torch.Tensor, prompt: str = "", scale: int | None = None, mode: str = "zero-shot",
                 steps: int = 20, noise_level: int | None = None, segment_frames: int = SEGMENT, seed: int = 0,
                 max_side: int = 64, guidance: float = 1.0, model=None, tuned=None, scheduler: str = "dpm++",
                 device: str = "cpu", dtype: str = "fp32", noise_share: float = 1.0, consistency: int = 3,
                 callback: Callable | None = None) -> tuple[torch.Tensor, list[str], dict]:
    """Upscale frames (F, 3, H, W) in [0, 1] with the video SR model in `mode` (the image SR model of `model`, the
    tuned `mode` of `tuned`; the embedded ones by default), in segments of `segment_frames` that carry a frame.
    `callback`: the pipeline's `callback_on_step_end`, after every step of every segment. Returns the frames, notes
    on what was done to the input (scaled down to `max_side`, padded) and what a sidecar records of the run."""
    start = time.perf_counter()
    pipe, hashes = upscale_pipeline(mode, model, tuned, scheduler, device, dtype)
    loaded = time.perf_counter()
    frames, notes = upscale_frames(pipe, video, scale, prompt, steps, guidance, noise_level, segment_frames,
                                   torch.Generator().manual_seed(int(seed)), max_side, noise_share, consistency,
                                   callback)
    config = pipe.config
    return frames, notes, {
        "prompt": prompt, "scale": scale or config.scale, "model_scale": config.scale, "mode": mode, "steps": steps,
        "noise_level": config.noise_level if noise_level is None else noise_level, "residual": config.residual,
        "segment_frames": segment_frames, "segments": segments(video.shape[0], segment_frames), "guidance": guidance,
        "seed": int(seed), "scheduler": scheduler, "max_side": max_side, "noise_share": noise_share,
        "consistency": consistency, "model": str(model) if model else None, "tuned": str(tuned) if tuned else None,
        "preprocess": notes, "size": list(frames.shape[-2:]), "model_hashes": hashes,
        "seconds": {"load": loaded - start, "upscale": time.perf_counter() - loaded}}


def upscale_file(input: str | Path, out: str | Path, scale: int | None = None, mode: str = "zero-shot",
                 steps: int = 20, prompt: str | None = None, noise_level: int | None = None, segment_frames: int = SEGMENT,
                 seed: int = 0, max_side: int = 64, guidance: float = 1.0, model=None, tuned=None,
                 scheduler: str = "dpm++", device: str = "cpu", dtype: str = "fp32", noise_share: float = 1.0,
                 consistency: int = 3, callback: Callable | None = None) -> tuple[Path, torch.Tensor, list[str]]:
    """Upscale a video file into `out` (.mp4 or .gif) with a sidecar (`upscale_clip`); returns (path, frames, notes).
    `prompt`: by default the one a clip from `flipbook render` or `generate` says it shows."""
    out = Path(out)
    if out.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"cannot write {out.name}: use a file name ending in .mp4 or .gif")
    if not out.parent.exists():
        raise FileNotFoundError(f"the folder {out.parent} does not exist")
    if max_side < 1:
        raise ValueError(f"--max-side must be ≥ 1, got {max_side}")
    start = time.perf_counter()
    video, fps = read_video(input)
    if prompt is None:
        prompt = ((read_sidecar(input) if Path(input).with_suffix(".json").is_file() else None) or {}).get("prompt") or ""
    frames, notes, record = upscale_clip(video, prompt, scale, mode, steps, noise_level, segment_frames, seed, max_side,
                                         guidance, model, tuned, scheduler, device, dtype, noise_share, consistency,
                                         callback)
    write_video(out, frames, fps)
    record.pop("seconds")
    write_sidecar(out, {"kind": "upscale", "input": str(input), "input_size": list(video.shape[-2:]),
                        "frames": int(video.shape[0]), "fps": fps, **record,
                        "seconds": round(time.perf_counter() - start, 3),
                        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
    return out, frames, notes
