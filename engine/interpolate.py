"""Interpolation, the task (`flipbook interpolate`, the studio's Interpolate tab, the cascade's stage): keyframes
T → 4T−3 frames with the group or masked model (engine.pipelines.interpolate); `interpolate_file` reads the
keyframes from a file and writes the clip and its sidecar."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from .io import read_video, write_video
from .models.interpolation import ASSET, FACTOR, blend_keyframes
from .motion.tween import tween_keyframes
from .pipelines.interpolate import GroupInterpolationPipeline, interpolation_pipeline, skip_for_fps
from .registry import INTERP_BLEND, INTERP_METHODS, INTERP_TWEEN
from .sidecar import write_sidecar

MODEL_FREE = {INTERP_BLEND: blend_keyframes, INTERP_TWEEN: tween_keyframes}  # (T, 3, H, W) -> (4T − 3, 3, H, W)


def _model_free(video: torch.Tensor, method: str) -> tuple[torch.Tensor, dict]:
    """Interpolation with no model: the frames and what a sidecar records of the run."""
    start = time.perf_counter()
    frames = MODEL_FREE[method](video)
    return frames, {"method": method, "model_hashes": {}, "seconds": {"interpolate": time.perf_counter() - start}}


def interpolate_clip(video: torch.Tensor, fps_in: float, method: str | None = None, folder: str | Path | None = None,
                     steps: int = 20, seed: int = 0, guidance: float = 0.25, skip: int | None = None,
                     aug_level: int = 0, scheduler: str = "dpm++", device: str = "cpu", dtype: str = "fp32",
                     model: str | Path | None = None, callback: Callable | None = None) -> tuple[torch.Tensor, dict]:
    """Interpolate keyframes (T, 3, H, W) in [0, 1] playing at `fps_in` to 4T−3 frames: by `method` tween or blend
    (no model: MODEL_FREE), or the group or masked model (from `folder` or the embedded one; None: the folder's, or
    the best here). `model`: the latent base a latent interpolator learned on; `callback`: the pipeline's
    `callback_on_step_end`, after every step. Returns the frames (4T−3, 3, H, W) in [0, 1] and what a sidecar records
    of the run (method, settings, model hashes, seconds)."""
    if video.ndim != 4 or video.shape[0] < 2:
        raise ValueError(f"interpolation needs at least 2 keyframes shaped (T, 3, H, W), got {tuple(video.shape)}")
    if method in MODEL_FREE:
        return _model_free(video, method)
    if method not in (None, *INTERP_METHODS):
        raise ValueError(f"unknown interpolation method {method!r}; choose one of: "
                         f"{', '.join((*MODEL_FREE, *INTERP_METHODS))}")
    start = time.perf_counter()
    pipe, hashes = interpolation_pipeline(method, folder, scheduler, device, dtype, model)
    method = "group" if isinstance(pipe, GroupInterpolationPipeline) else "masked"
    loaded = time.perf_counter()
    options = {"skip": skip or skip_for_fps(fps_in)} if method == "group" else {}
    frames = pipe(video, num_inference_steps=steps, guidance_scale=guidance, aug_level=aug_level,
                  generator=torch.Generator().manual_seed(int(seed)), callback_on_step_end=callback,
                  **options).frames[0]
    return frames, {"method": method, "interp": str(folder or ASSET / method), "steps": steps, "seed": int(seed),
                    "guidance": guidance, "aug_level": aug_level, "scheduler": scheduler, **options,
                    "dtype": dtype, "device": str(device), "model": str(model) if model else None,
                    "latent": pipe.vae is not None, "model_hashes": hashes,
                    "seconds": {"load": loaded - start, "interpolate": time.perf_counter() - loaded}}


def interpolate_file(input: str | Path, out: str | Path, method: str | None = None, folder: str | Path | None = None,
                     steps: int = 20, seed: int = 0, guidance: float = 0.25, skip: int | None = None,
                     aug_level: int = 0, fps: float | None = None, scheduler: str = "dpm++", device: str = "cpu",
                     dtype: str = "fp32", model: str | Path | None = None,
                     callback: Callable | None = None) -> tuple[Path, torch.Tensor]:
    """Read a clip, interpolate it T → 4T−3 frames (`interpolate_clip`), write it (at 4× the frame rate unless
    `fps`) and its sidecar with the time of each stage. Returns the path and the frames (4T−3, 3, H, W) in [0, 1]."""
    out = Path(out)
    if out.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"cannot write {out.name}: use a file name ending in .mp4 or .gif")
    if not out.parent.exists():
        raise FileNotFoundError(f"the folder {out.parent} does not exist")
    start = time.perf_counter()
    video, fps_in = read_video(input)
    if video.shape[0] < 2:
        raise ValueError(f"{Path(input).name} has {video.shape[0]} frame; interpolation needs at least 2 keyframes")
    fps = fps or fps_in * FACTOR
    if not 0 < fps <= 120:
        raise ValueError(f"the output would play at {fps:g} fps (4× the input's); pass --fps with a rate up to 120")
    read = time.perf_counter() - start
    frames, record = interpolate_clip(video, fps_in, method, folder, steps, seed, guidance, skip, aug_level, scheduler,
                                      device, dtype, model, callback)
    start = time.perf_counter()
    write_video(out, frames, fps)
    seconds = {"read": read, **record.pop("seconds"), "write": time.perf_counter() - start}
    write_sidecar(out, {"kind": "interpolate", "input": str(input), **record, "frames_in": int(video.shape[0]),
                        "frames": int(frames.shape[0]), "fps_in": fps_in, "fps": fps, "size": list(frames.shape[-2:]),
                        "seconds": {k: round(v, 3) for k, v in seconds.items()}})
    return out, frames
