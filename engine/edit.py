"""One-shot video editing end to end (shared by `flipbook edit` and the bench): read the clip at the model's size,
tune a mode on it with its source prompt, DDIM-invert it, sample the edited prompt, write the file and its sidecar.

The one-shot tuned folder and the inverted latents are cached under `cache_dir` (default `$FLIPBOOK_CACHE`, else
`~/.cache/flipbook`), so editing one clip with several prompts tunes and inverts it once.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import torch

from .diffusion.inversion import inversion_steps
from .edit_settings import MODE, MOTION_PLAN, MOTION_STRENGTH, TUNE_STEPS
from .io import read_video, write_video
from .models.base import load_base
from .tuning import read_tuned
from .sidecar import model_hash
from .motion import motion_plan_for, resume_index
from .pipelines.edit import DEFAULT_GUIDANCE, DEFAULT_STEPS, DEFAULT_STRENGTH, EditPipeline, InversionCache, tensor_hash
from .pipelines.load import keyframe_pipeline, prompt_for
from .registry import is_tuned_folder
from .sidecar import write_sidecar
from .training.clips import LR, clip_batches, fit_clip
from .tune import tune_mode
from .validate import check_number, check_output, check_prompt, check_seed
from .tuning import MODES

DEFAULT_MODE, DEFAULT_TUNE_STEPS = MODE, TUNE_STEPS


def default_cache_dir() -> Path:
    if os.environ.get("FLIPBOOK_CACHE"):
        return Path(os.environ["FLIPBOOK_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flipbook"


def one_shot_folder(clip: torch.Tensor, source_prompt: str, mode: str, steps: int, base_hash: str,
                    cache_dir: str | Path | None = None, lr: float = LR, seed: int = 0, batch_size: int = 1) -> Path:
    """Where `one_shot_tune` keeps (or finds) the folder tuned on this clip with these settings."""
    key = InversionCache.key(clip=tensor_hash(clip), source=source_prompt, mode=mode, steps=steps, lr=lr, seed=seed,
                             batch=batch_size, base=base_hash)
    return Path(cache_dir or default_cache_dir()) / "tuned" / key


def one_shot_tune(clip: torch.Tensor, source_prompt: str, mode: str = DEFAULT_MODE, steps: int = DEFAULT_TUNE_STEPS,
                  model: str | Path | None = None, base_hash: str | None = None, cache_dir: str | Path | None = None,
                  lr: float = LR, seed: int = 0, batch_size: int = 1, on_step=None) -> Path:
    """Tune `mode` on one clip (3, F, H, W) in [0, 1] with its source prompt; returns the tuned folder.

    The folder lives under cache_dir/tuned/, keyed by the clip, prompt, mode, steps, lr, seed and base: a second
    call with the same inputs returns it at once, and one killed midway resumes from its checkpoint."""
    if mode not in MODES or mode == "zero-shot":
        raise ValueError(f"choose a mode to tune from: {', '.join(m for m in MODES if m != 'zero-shot')}")
    base_hash = base_hash or model_hash(load_base(model).unet)
    out = one_shot_folder(clip, source_prompt, mode, steps, base_hash, cache_dir, lr, seed, batch_size)
    work = out.with_name(f"{out.name}-work")
    if is_tuned_folder(out):
        return out
    torch.manual_seed(seed)  # the added modules' initial weights
    tune_mode(mode, out, clip_batches([clip], source_prompt, batch_size, seed), steps, lr=lr, seed=seed, base=model,
         work_dir=work, on_step=on_step, checkpoint_every=max(25, steps // 4),
         record={"one_shot": {"source_prompt": source_prompt, "clip": tensor_hash(clip), "batch_size": batch_size}})
    shutil.rmtree(work, ignore_errors=True)  # the optimizer state is no longer needed
    return out


def edit_pipeline(mode: str, tuned: str | Path | None = None, model: str | Path | None = None, device: str = "cpu",
                  dtype: str = "fp32") -> tuple[EditPipeline, dict]:
    """The editing pipeline for a tuned folder (or zero-shot) on `model`, and its model hashes."""
    pipe, hashes = keyframe_pipeline(mode, "ddim", model, tuned, device, dtype)
    edit = EditPipeline(**pipe.components)
    edit.set_progress_bar_config(disable=True)
    return edit, hashes


def edit_steps(steps: int, strength: float, tune_steps: int = 0, planned: bool = False,
               motion_strength: float | None = None) -> dict[str, int]:
    """The steps an edit runs, part by part (what progress bars count): one-shot tuning's `tune_steps` (0 when it
    does not tune), the inversion's and the edited sampling's k each (inversion_steps: `strength` of `steps`), and
    along a motion plan the second sampling, from where `motion_strength` (default edit_settings.MOTION_STRENGTH)
    starts it (engine.motion.resume_index)."""
    k = inversion_steps(steps, strength)
    again = steps - resume_index(steps, motion_strength or MOTION_STRENGTH) if planned else 0
    return {"tune": tune_steps, "invert": k, "sample": k, "plan": again}


def edit_clip(clip: torch.Tensor, source_prompt: str, prompt: str, mode: str = DEFAULT_MODE,
              tune_steps: int = DEFAULT_TUNE_STEPS, tuned: str | Path | None = None, strength: float = DEFAULT_STRENGTH,
              steps: int = DEFAULT_STEPS, guidance: float = DEFAULT_GUIDANCE, negative_prompt: str | None = None,
              seed: int = 0, model: str | Path | None = None, cache_dir: str | Path | None = None, lr: float = LR,
              device: str = "cpu", dtype: str = "fp32", plan=None, motion_strength: float | None = None,
              base_hash: str | None = None, on_tune_step=None, on_invert_step=None,
              callback=None) -> tuple[torch.Tensor, dict]:
    """The edit itself, the one engine entry `flipbook edit` and the studio's Edit tab share: a clip (3, F, S, S)
    in [0, 1] at the model's size, its prompts as the tokenizer knows them (`prompt_for`), and a motion `plan`
    (or None) in; one-shot tuning (cached under `cache_dir`, `base_hash` naming the base), DDIM inversion (cached
    too) and sampling. `on_tune_step(step, loss)` after each tuning step; `on_invert_step` and `callback`: the edit
    pipeline's step callbacks (diffusers' form). Returns (the edited frames (F, 3, S, S), what the sidecar records
    of the edit: the mode and tuned folder used, whether a cached tuning was reused, hashes, seconds)."""
    seed, guidance = check_seed(seed), check_number(guidance, "guidance", 0, 50)
    strength, steps = check_number(strength, "strength", 1e-3, 1), check_number(steps, "steps", 1, 1000, whole=True)
    if tuned is not None:
        mode = read_tuned(tuned).mode or _not_tuned(tuned)
    elif mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    start, tuning, reused = time.perf_counter(), tuned is None and mode != "zero-shot" and tune_steps > 0, False
    if tuning:
        base_hash = base_hash or model_hash(load_base(model).unet)
        reused = is_tuned_folder(one_shot_folder(clip, source_prompt, mode, tune_steps, base_hash, cache_dir, lr, seed))
        tuned = one_shot_tune(clip, source_prompt, mode, tune_steps, model, base_hash, cache_dir, lr, seed,
                              on_step=on_tune_step)
    elif tuned is None:
        mode = "zero-shot"
    seconds = {"tune": time.perf_counter() - start}
    start = time.perf_counter()
    pipe, hashes = edit_pipeline(mode, tuned, model, device, dtype)
    edited = pipe(clip[None], source_prompt, prompt, negative_prompt, steps, strength, guidance,
                  torch.Generator().manual_seed(int(seed)), InversionCache(cache_dir or default_cache_dir()),
                  motion_plan=plan, motion_strength=motion_strength, callback_on_step_end=callback,
                  callback_on_inversion_step=on_invert_step).frames[0]
    seconds["edit"] = time.perf_counter() - start
    return edited, {"mode": mode, "tune_steps": tune_steps if tuning else 0, "tuned": str(tuned) if tuned else None,
                    "tuning_reused": reused, "lr": lr, "strength": strength, "steps": steps, "guidance": guidance,
                    "seed": int(seed), "inversion": pipe.last_inversion, "model_hashes": hashes, "seconds": seconds}


def edit_video(input: str | Path, source_prompt: str, prompt: str, out: str | Path, mode: str = DEFAULT_MODE,
               tune_steps: int = DEFAULT_TUNE_STEPS, tuned: str | Path | None = None, strength: float = DEFAULT_STRENGTH,
               steps: int = DEFAULT_STEPS, guidance: float = DEFAULT_GUIDANCE, negative_prompt: str | None = None,
               frames: int = 8, seed: int = 0, fps: float | None = None, model: str | Path | None = None,
               cache_dir: str | Path | None = None, lr: float = LR, device: str = "cpu", dtype: str = "fp32",
               on_tune_step=None, motion: str | None = None, speed: float = 1.0, path: str | list | None = None,
               motion_plan: bool = MOTION_PLAN, motion_strength: float | None = None,
               plan: dict | None = None, callback=None) -> tuple[Path, torch.Tensor]:
    """Edit the clip file `input` from `source_prompt` to `prompt` (`edit_clip`); write `out` (at the model's
    resolution) and its sidecar. `tuned`: a folder from `flipbook tune` (skips one-shot tuning); `mode="zero-shot"`
    or `tune_steps=0`: no tuning. Motion as in `generate_video` (engine.motion.motion_plan_for): the edited prompt's
    motion words, or `motion`, `speed`, `path`, or a recorded `plan`, carry the edited frame 0 (`motion_plan=False`:
    the inversion alone keeps the clip's motion). `on_tune_step` and `callback` as `edit_clip` takes them. Returns
    the path and the frames (F, 3, H, W) in [0, 1]."""
    out = check_output(out)
    if not (isinstance(source_prompt, str) and source_prompt.strip() and isinstance(prompt, str) and prompt.strip()):
        raise ValueError("give both --source-prompt (what the clip shows) and --prompt (what it should show)")
    source_prompt, prompt = check_prompt(source_prompt, "the source prompt"), check_prompt(prompt)
    negative_prompt = check_prompt(negative_prompt, "the negative prompt", empty_ok=True) or None
    if not 2 <= frames <= 64:
        raise ValueError(f"frames must be between 2 and 64, got {frames}")
    start = time.perf_counter()
    base = load_base(model)
    source_prompt, prompt = (prompt_for(base.tokenizer, p) for p in (source_prompt, prompt))
    video, in_fps = read_video(input)
    fps = fps or in_fps
    plan = motion_plan_for(prompt, frames, fps, check_seed(seed), motion, speed, path, motion_plan, plan)
    size = base.unet.config.sample_size * base.vae_scale_factor
    clip = fit_clip(video, size, frames)  # (3, F, size, size): centre-cropped square, evenly spaced frames
    read = time.perf_counter() - start
    edited, done = edit_clip(clip, source_prompt, prompt, mode, tune_steps, tuned, strength, steps, guidance,
                             negative_prompt, seed, model, cache_dir, lr, device, dtype, plan, motion_strength,
                             model_hash(base.unet), on_tune_step, None, callback)
    write_video(out, edited, fps)
    seconds = {"read": read, **done.pop("seconds")}
    done.pop("tuning_reused")
    write_sidecar(out, {"kind": "edit", "input": str(input), "input_hash": tensor_hash(clip),
                        "source_prompt": source_prompt, "prompt": prompt, "negative_prompt": negative_prompt, **done,
                        "frames": frames, "fps": fps, "motion": motion, "speed": speed, "path": path,
                        "motion_plan": motion_plan, "motion_strength": motion_strength,
                        "plan": plan.to_dict() if plan else None, "model": str(model) if model else None,
                        "size": [size, size], "note": "the edit is at the model's resolution (the clip is centre-"
                        "cropped to a square and resized)", "seconds": {k: round(v, 3) for k, v in seconds.items()}})
    return out, edited


def _not_tuned(folder) -> str:
    raise FileNotFoundError(f"{folder} is not a tuned folder (no mode.json); make one with `flipbook tune`")
