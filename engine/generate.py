"""One generation, end to end: pipeline, frames, file and sidecar (shared by the CLI and the studio)."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from .io import write_video
from .motion import DEFAULT_METHOD, DEFAULT_STRENGTH, motion_plan_for
from .pipelines.load import available_modes, keyframe_pipeline, tuned_record, unknown_words
from .pipelines.memory import MemoryOptions
from .registry import KEYFRAME_ORDER, best_of
from .sidecar import write_sidecar
from .validate import check_number, check_output, check_prompt, check_seed
from .world import UnknownWordsError

def default_mode() -> str:
    """The best keyframe mode whose weights are here."""
    return best_of(KEYFRAME_ORDER, available_modes())


def generate_video(out: str | Path, prompt: str, negative_prompt: str | None = None, seed: int = 0, frames: int = 8,
                   steps: int = 25, guidance: float = 4.0, mode: str | None = None, scheduler: str = "dpm++",
                   fps: float = 2.0, model: str | None = None, tuned: str | None = None, pyramid: int | None = None,
                   renoise: bool = True, callback=None, pipe_cache: dict | None = None, dtype: str = "fp32",
                   device: str = "cpu", memory: MemoryOptions | dict | None = None, motion: str | None = None,
                   speed: float = 1.0, path: str | list | None = None, motion_plan: bool = True,
                   motion_method: str | None = None, motion_strength: float | None = None,
                   plan: dict | None = None, cross_frame: bool = False) -> tuple[Path, torch.Tensor]:
    """Write the video and its sidecar; return the path and the frames (F, 3, H, W) in [0, 1].

    `model`: a diffusers-format folder or hub id (default: the embedded base); `dtype`: fp32, fp16 or bf16;
    `memory`: MemoryOptions (or their dict) for real checkpoints. Motion (engine.motion, `motion_plan_for`):
    `motion` (a world motion or a camera move), `speed`, `path` ('x,y x,y …' or points), `motion_plan=False`
    to ignore the prompt's motion words, `motion_method` and `motion_strength` (the pipeline's), `plan` (a
    recorded plan's dict, which wins), `cross_frame` (every frame attends to frame 0: Text2Video-Zero)."""
    out = check_output(out)
    prompt = check_prompt(prompt)
    negative_prompt = check_prompt(negative_prompt, "the negative prompt", empty_ok=True) or None
    seed, fps = check_seed(seed), check_number(fps, "fps", 0.1, 120)
    frames, steps = check_number(frames, "frames", 1, 64, whole=True), check_number(steps, "steps", 1, 1000, whole=True)
    guidance = check_number(guidance, "guidance", 0, 50)
    if mode is None:  # a tuned folder names its mode; a model of one's own starts zero-shot
        mode = tuned_record(tuned).get("mode") if tuned else default_mode() if model is None else "zero-shot"
    motion_method, motion_strength = motion_method or DEFAULT_METHOD, motion_strength or DEFAULT_STRENGTH
    plan = motion_plan_for(prompt, frames, fps, seed, motion, speed, path, motion_plan, plan)
    memory = MemoryOptions(**memory) if isinstance(memory, dict) else (memory or MemoryOptions())
    dtype, device = dtype or "fp32", device or "cpu"
    timings = {}
    start = time.perf_counter()
    key = (mode, scheduler, model, tuned, dtype, device, memory)
    if pipe_cache is not None and key in pipe_cache:
        pipe, hashes = pipe_cache[key]
    else:
        pipe, hashes = keyframe_pipeline(mode, scheduler, model, tuned, device, dtype, memory)
        if pipe_cache is not None:
            pipe_cache[key] = (pipe, hashes)
    timings["load"] = time.perf_counter() - start
    unknown = unknown_words(pipe.tokenizer, prompt)
    if unknown:
        raise UnknownWordsError(unknown)
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(int(seed))
    try:
        video = pipe(prompt, negative_prompt=negative_prompt, num_frames=frames, num_inference_steps=steps,
                     guidance_scale=guidance, generator=generator, callback_on_step_end=callback, pyramid=pyramid,
                     renoise=renoise, motion_plan=plan, motion_method=motion_method,
                     motion_strength=motion_strength, cross_frame=bool(cross_frame)).frames[0]
    except (RuntimeError, NotImplementedError) as e:
        if "not implemented for" in str(e) and ("Half" in str(e) or "BFloat16" in str(e)):
            raise ValueError(f"this model has an operation {dtype} cannot run on {device} ({str(e).splitlines()[0]}); "
                             "use --dtype fp32, or bf16 on a CPU") from None
        raise
    timings["keyframes"] = time.perf_counter() - start
    start = time.perf_counter()
    write_video(out, video, fps)
    timings["write"] = time.perf_counter() - start
    write_sidecar(out, {"kind": "generate", "prompt": prompt, "negative_prompt": negative_prompt, "seed": int(seed),
                        "frames": frames, "steps": steps, "guidance": guidance, "mode": mode, "scheduler": scheduler,
                        "fps": fps, "model": model, "tuned": tuned, "pyramid": pyramid, "renoise": renoise,
                        "dtype": dtype, "device": device, "memory": memory.to_dict(), "motion": motion,
                        "speed": speed, "path": path, "motion_plan": motion_plan, "motion_method": motion_method,
                        "motion_strength": motion_strength, "plan": plan.to_dict() if plan else None,
                        "cross_frame": bool(cross_frame),
                        "size": list(video.shape[-2:]),
                        "model_hashes": hashes, "seconds": {k: round(v, 3) for k, v in timings.items()}})
    return out, video
