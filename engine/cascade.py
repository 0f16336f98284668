"""The cascade, prompt to video (MPL-Video's chain of stages), one stage after another:

    keyframes (text-to-video, 32², 2 fps) → interpolation (T → 4T−3 frames, 8 fps) → pixel super-resolution
    (×4: 128²) → latent expert translation (VAE encode, SDEdit from t ≤ 900, temporal or image decoder)

The defaults are measured (engine.registry.MEASURED_WHY): interpolation moves each keyframe's object to the
in-between time (tween, no model) unless blending or a model is asked for (`interp_method`: blend, group or masked;
None, as sidecars before the measured default record it, is the best model here), and the cascade stops after
upscaling (`depth` "translate" runs the expert).

Every stage is the public pipeline of its own module (`keyframe_pipeline`, `interpolation_pipeline`,
`upscale_pipeline`, `translation_pipeline`). `depth` stops after a stage. Each stage's model is loaded before any
stage runs, so a missing one fails at once, with its loader's message (which names the command that trains it)
and the depth that would stop before it. The sidecar records every setting, each stage's seconds and its peak
memory (the growth of resident memory's high-water mark over the stage, `engine.training.cost.PeakMemory`), and
the hashes of every model.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from .generate import keyframe_settings, motion_plan_for
from .io import write_video
from .interpolate import MODEL_FREE
from .models.interpolation import output_frames
from .pipelines.interpolate import GroupInterpolationPipeline, interpolation_pipeline, skip_for_fps
from .pipelines.load import keyframe_pipeline, prompt_for
from .pipelines.translate import DETAIL_SIGMA, STRENGTH, fit_size, translation_pipeline
from .pipelines.upscale import SEGMENT, segments, upscale_pipeline
from .peak_memory import PeakMemory
from .registry import CASCADE_DEPTH, DEFAULT_INTERP, INTERP_METHODS, STAGE_STEPS
from .sidecar import write_sidecar
from .validate import check_number, check_output, check_prompt, check_seed

STAGES = ("keyframes", "interpolate", "upscale", "translate")
INTERP_GUIDANCE = 0.25  # FusionFrames' context guidance
HOOKS = ("out", "on_stage", "on_stage_done", "callback_on_step_end")  # run_cascade's arguments that are not settings


def _load(stage: str, load: Callable):
    """Load a stage's pipeline; a missing model says which depth stops before the stage."""
    try:
        return load()
    except FileNotFoundError as e:
        before = STAGES[STAGES.index(stage) - 1]
        raise FileNotFoundError(f"the cascade's {stage} stage: {e}; or stop before it with --cascade-depth {before}") \
            from None


def load_stages(depth: str, mode: str, scheduler: str, model, tuned, interp, interp_method, sr, sr_mode, sr_tuned,
                expert, decoder, device, dtype) -> dict:
    """{stage: (pipeline, hashes)} for every stage up to `depth`."""
    loaders = {
        "keyframes": lambda: keyframe_pipeline(mode=mode, scheduler=scheduler, model=model, tuned=tuned, device=device,
                                               dtype=dtype),
        "interpolate": lambda: (MODEL_FREE[interp_method], {}) if interp_method in MODEL_FREE else interpolation_pipeline(
            method=interp_method, folder=interp, device=device, dtype=dtype, **({"model": model} if model else {})),
        "upscale": lambda: upscale_pipeline(mode=sr_mode, model=sr, tuned=sr_tuned, device=device, dtype=dtype),
        "translate": lambda: translation_pipeline(expert=expert, decoder=decoder, device=device, dtype=dtype),
    }
    return {stage: _load(stage, loaders[stage]) for stage in STAGES[:STAGES.index(depth) + 1]}


def steps_by_stage(depth: str, frames: int, steps: int, stage_steps: int, strength: float = STRENGTH,
                   interp_method: str | None = DEFAULT_INTERP, keyframes: int | None = None) -> dict[str, int]:
    """The denoising steps each stage up to `depth` runs (what progress bars count): the keyframes' (`keyframes`,
    engine.generate.generation_steps: a motion plan's frame-0 pass and part-way start; default `steps`), the
    interpolator's `stage_steps` (none without a model), pixel SR's in every segment, and translation's last
    `strength` part of them (SDEdit) in every segment."""
    segments_of = len(segments(output_frames(frames), SEGMENT))
    interpolation = 0 if interp_method in MODEL_FREE else stage_steps
    plan = {"keyframes": steps if keyframes is None else keyframes, "interpolate": interpolation,
            "upscale": stage_steps * segments_of,
            "translate": (max(1, min(stage_steps, int(stage_steps * strength))) if strength > 0 else 0) * segments_of}
    return {stage: plan[stage] for stage in STAGES[:STAGES.index(depth) + 1]}


def _runners(s: dict, prompt: str, plan, step: dict) -> dict[str, Callable]:
    """Each stage as a function of its pipeline (and the clip before it), with run_cascade's settings `s`, the
    prompt as the tokenizer knows it, the motion plan and the step callback."""
    generator = lambda: torch.Generator().manual_seed(s["seed"])  # noqa: E731 - each stage starts from the seed

    def keyframes(pipe):
        return pipe(prompt, negative_prompt=s["negative_prompt"], num_frames=s["frames"],
                    num_inference_steps=s["steps"], guidance_scale=s["guidance"], generator=generator(), motion_plan=plan,
                    motion_method=s["motion_method"], motion_strength=s["motion_strength"],
                    cross_frame=bool(s["cross_frame"]), **step).frames

    def interpolate(pipe, clip):
        if pipe in MODEL_FREE.values():  # tweening or blending: no model
            return torch.stack([pipe(keys) for keys in clip])
        options = {"skip": skip_for_fps(s["fps"])} if isinstance(pipe, GroupInterpolationPipeline) else {}
        return pipe(clip, num_inference_steps=s["stage_steps"], guidance_scale=INTERP_GUIDANCE, generator=generator(),
                    **options, **step).frames

    def upscale(pipe, clip):
        return pipe(clip, prompt, num_inference_steps=s["stage_steps"], generator=generator(), **step).frames

    def translate(pipe, clip):
        size = fit_size(*clip.shape[-2:], s["top"] or pipe.config.sample_size, pipe.multiple)
        # decode_chunk_size 1: the image decoder decodes each frame alone, the least memory
        return pipe(clip, prompt, s["strength"], s["stage_steps"], 1.0, *size, generator=generator(),
                    decode_chunk_size=1, detail_sigma=s["detail_sigma"], **step).frames

    return {"keyframes": keyframes, "interpolate": interpolate, "upscale": upscale, "translate": translate}


def _run_stages(pipes: dict, runners: dict, fps: float, on_stage, keep: Path | None, depth: str, on_stage_done=None):
    """Run the stages in order: (the last clip (B, F, 3, H, W), its frame rate, each stage's record). `keep`: also
    write each stage before `depth` beside it (KEEP-STAGE.mp4)."""
    clip, rate, stages = None, fps, []
    for stage, (pipe, _) in pipes.items():
        if on_stage is not None:
            on_stage(stage)
        start = time.perf_counter()
        with PeakMemory() as probe:
            clip = runners[stage](pipe) if clip is None else runners[stage](pipe, clip)
        rate = rate * 4 if stage == "interpolate" else rate
        if on_stage_done is not None:
            on_stage_done(stage, clip)
        stages.append({"stage": stage, "seconds": round(time.perf_counter() - start, 3), "peak_mb": round(probe.mb, 1),
                       "frames": int(clip.shape[1]), "size": list(clip.shape[-2:]), "fps": rate})
        if keep is not None and stage != depth:
            write_video(keep.with_name(f"{keep.stem}-{stage}{keep.suffix}"), clip[0], rate)
    return clip, rate, stages


def run_cascade(out: str | Path, prompt: str, depth: str = CASCADE_DEPTH, seed: int = 0, frames: int = 8,
                steps: int = 25, guidance: float = 4.0, mode: str | None = None, scheduler: str | None = None,
                fps: float = 2.0, model: str | None = None, tuned: str | None = None,
                negative_prompt: str | None = None, interp: str | None = None, interp_method: str | None = DEFAULT_INTERP,
                sr: str | None = None, sr_mode: str = "zero-shot", sr_tuned: str | None = None,
                expert: str | None = None, decoder: str | None = None, strength: float = STRENGTH,
                top: int | None = None, detail_sigma: float | None = None,
                stage_steps: int = STAGE_STEPS, keep_stages: bool = False, device: str = "cpu", dtype: str = "fp32",
                motion: str | None = None, speed: float = 1.0, path: str | list | None = None,
                motion_plan: bool = True, motion_method: str | None = None, motion_strength: float | None = None,
                plan: dict | None = None, cross_frame: bool = False, on_stage: Callable[[str], None] | None = None,
                on_stage_done: Callable[[str, torch.Tensor], None] | None = None,
                callback_on_step_end: Callable | None = None) -> tuple[Path, torch.Tensor, dict]:
    """Run the cascade from `prompt` up to `depth`; write the clip, its sidecar and (`keep_stages`) every stage's
    clip beside it (OUT-keyframes.mp4, ...). Returns (path, frames (F, 3, H, W) in [0, 1], sidecar).
    `steps`, `guidance`, `mode`, `scheduler`, `fps`: the keyframes' (as `flipbook generate`); `stage_steps`: the
    later stages' sampling steps; `top`: the translated clip's long side (default the expert's; MPL-Video goes up
    to it from the pixel stage); `detail_sigma`: translation keeps the pixel stage's frequencies below it;
    `motion` … `plan`: how the keyframes move (as `generate_video`'s);
    `on_stage(name)` is told when each stage starts, `on_stage_done(name, clip (B, F, 3, H, W) in [0, 1])` when it
    ends; `callback_on_step_end(pipe, i, t, {"latents": ...})` after every denoising step of every stage (diffusers'
    form; an exception raised from any of them ends the run before its clip and sidecar are written)."""
    # 1. check the settings
    out, prompt = check_output(out), check_prompt(prompt)
    negative_prompt = check_prompt(negative_prompt, "the negative prompt", empty_ok=True) or None
    if depth not in STAGES:
        raise ValueError(f"unknown cascade depth {depth!r}; choose one of: {', '.join(STAGES)}")
    if interp_method not in (None, *MODEL_FREE, *INTERP_METHODS):
        raise ValueError(f"unknown interpolation method {interp_method!r}; choose one of: "
                         f"{', '.join((*MODEL_FREE, *INTERP_METHODS))}")
    seed, fps = check_seed(seed), check_number(fps, "fps", 0.1, 30)
    frames = check_number(frames, "frames", 2 if depth != "keyframes" else 1, 64, whole=True)
    steps = check_number(steps, "steps", 1, 1000, whole=True)
    stage_steps = check_number(stage_steps, "stage steps", 1, 1000, whole=True)
    guidance, strength = check_number(guidance, "guidance", 0, 50), check_number(strength, "strength", 0, 1)
    top = check_number(top, "top", 8, 2048, whole=True) if top is not None else None
    detail_sigma = check_number(detail_sigma, "detail sigma", *DETAIL_SIGMA) if detail_sigma is not None else None
    mode, scheduler = keyframe_settings(mode, tuned, model, scheduler)
    # every argument: what --from replays
    settings = {k: v for k, v in locals().items() if k not in HOOKS}
    plan = motion_plan_for(prompt, frames, fps, seed, motion, speed, path, motion_plan, plan)
    settings["plan"] = plan.to_dict() if plan else None

    # 2. load every stage's model first: a missing one fails before any work
    timings, peaks = {}, {}
    start = time.perf_counter()
    with PeakMemory() as probe:
        pipes = load_stages(depth, mode, scheduler, model, tuned, interp, interp_method, sr, sr_mode, sr_tuned, expert,
                            decoder, device, dtype)
    timings["load"], peaks["load"] = time.perf_counter() - start, probe.mb
    prompt = prompt_for(pipes["keyframes"][0].tokenizer, prompt)
    runners = _runners(settings, prompt, plan, {"callback_on_step_end": callback_on_step_end})

    # 3. the stages, each on the last one's clip (B, F, 3, H, W) in [0, 1]
    clip, rate, stages = _run_stages(pipes, runners, fps, on_stage, out if keep_stages else None, depth, on_stage_done)

    # 4. the clip and its sidecar
    write_video(out, clip[0], rate)
    extra = {"decoder": pipes["translate"][0].decoder_name} if "translate" in pipes else {}
    record = {"kind": "cascade", "prompt": prompt, "settings": settings, **extra, "stages": stages,
              "load": {"seconds": round(timings["load"], 3), "peak_mb": round(peaks["load"], 1)},
              "frames": int(clip.shape[1]), "fps": rate, "size": list(clip.shape[-2:]),
              "model_hashes": {stage: hashes for stage, (_, hashes) in pipes.items()}}
    write_sidecar(out, record)
    return out, clip[0], record
