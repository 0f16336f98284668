"""Interpolation of a clip file, end to end (`flipbook interpolate`): read the keyframes, interpolate T → 4T−3
frames with the group or masked model (engine.pipelines.interpolate), write the clip and its sidecar."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from .io import read_video, write_video
from .models.interpolation import ASSET, FACTOR
from .pipelines.interpolate import GroupInterpolationPipeline, interpolation_pipeline, skip_for_fps
from .sidecar import write_sidecar


def interpolate_file(input: str | Path, out: str | Path, method: str | None = None, folder: str | Path | None = None,
                     steps: int = 20, seed: int = 0, guidance: float = 0.25, skip: int | None = None,
                     aug_level: int = 0, fps: float | None = None, scheduler: str = "dpm++", device: str = "cpu",
                     dtype: str = "fp32", model: str | Path | None = None,
                     callback: Callable | None = None) -> tuple[Path, torch.Tensor]:
    """Read a clip, interpolate it T → 4T−3 frames, write it (at 4× the frame rate unless `fps`) and its sidecar
    with the time of each stage. `model`: the latent base a latent interpolator learned on; `callback`: the
    pipeline's `callback_on_step_end`, after every step. Returns the path and the frames (4T−3, 3, H, W) in [0, 1]."""
    out = Path(out)
    if out.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"cannot write {out.name}: use a file name ending in .mp4 or .gif")
    if not out.parent.exists():
        raise FileNotFoundError(f"the folder {out.parent} does not exist")
    seconds = {}
    start = time.perf_counter()
    video, fps_in = read_video(input)
    if video.shape[0] < 2:
        raise ValueError(f"{Path(input).name} has {video.shape[0]} frame; interpolation needs at least 2 keyframes")
    fps = fps or fps_in * FACTOR
    if not 0 < fps <= 120:
        raise ValueError(f"the output would play at {fps:g} fps (4× the input's); pass --fps with a rate up to 120")
    seconds["read"] = time.perf_counter() - start
    start = time.perf_counter()
    pipe, hashes = interpolation_pipeline(method, folder, scheduler, device, dtype, model)
    method = "group" if isinstance(pipe, GroupInterpolationPipeline) else "masked"
    seconds["load"] = time.perf_counter() - start
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(int(seed))
    options = {"skip": skip or skip_for_fps(fps_in)} if method == "group" else {}
    frames = pipe(video, num_inference_steps=steps, guidance_scale=guidance, aug_level=aug_level,
                  generator=generator, callback_on_step_end=callback, **options).frames[0]
    seconds["interpolate"] = time.perf_counter() - start
    start = time.perf_counter()
    write_video(out, frames, fps)
    seconds["write"] = time.perf_counter() - start
    write_sidecar(out, {"kind": "interpolate", "input": str(input), "method": method, "interp": str(folder or ASSET / method),
                        "steps": steps, "seed": int(seed), "guidance": guidance, "aug_level": aug_level,
                        "scheduler": scheduler, **options, "frames_in": int(video.shape[0]),
                        "frames": int(frames.shape[0]), "fps_in": fps_in, "fps": fps, "size": list(frames.shape[-2:]),
                        "dtype": dtype, "device": str(device), "model": str(model) if model else None,
                        "latent": pipe.vae is not None, "model_hashes": hashes,
                        "seconds": {k: round(v, 3) for k, v in seconds.items()}})
    return out, frames
