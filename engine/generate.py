"""One generation, end to end: pipeline, frames, file and sidecar (shared by the CLI and the studio)."""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import torch

from .diffusion.pyramid import FlowForm, noise_form, pyramid_steps
from .diffusion.windows import DEFAULT_OVERLAP, context_windows
from .io import file_hash, read_image, write_video
from .models.base import train_scheduler
from .motion import DEFAULT_METHOD, DEFAULT_STRENGTH, motion_plan_for, resume_index
from .tuning import read_tuned
from .pipelines.load import available_modes, keyframe_pipeline, prompt_for
from .pipelines.memory import MemoryOptions
from .pipelines.text_to_video import MAX_FRAMES, MAX_ONE_PASS, TRAINED_FRAMES
from .registry import KEYFRAME_ORDER, best_of, embedded_pyramid
from .sidecar import write_sidecar
from .validate import check_number, check_output, check_prompt, check_seed

def default_mode() -> str:
    """The best keyframe mode whose weights are here."""
    return best_of(KEYFRAME_ORDER, available_modes())


def keyframe_settings(mode: str | None, tuned: str | None, model: str | None,
                      scheduler: str | None) -> tuple[str, str]:
    """The mode and scheduler to sample with: a tuned folder names its mode, a model of one's own starts
    zero-shot, else the best embedded mode; dpm++ unless the folder was trained for flow matching."""
    if mode is None:
        mode = read_tuned(tuned).mode if tuned else default_mode() if model is None else "zero-shot"
    return mode, scheduler or ("flow" if read_tuned(tuned).form == "flow" else "dpm++")


def check_pyramid_run(stages: int, frames: int, steps: int):
    """A K-stage pyramid halves the frame rate K − 1 times and takes at least one step a stage."""
    if frames % 2 ** (stages - 1):
        raise ValueError(f"the {stages}-stage pyramid halves the frame rate {stages - 1} times: frames must be a "
                         f"multiple of {2 ** (stages - 1)}, got {frames}")
    if steps < stages:
        raise ValueError(f"the {stages}-stage pyramid needs at least {stages} steps, got {steps}")


def pyramid_run(pyramid: int, mode: str | None, tuned: str | None, model: str | None, scheduler: str | None,
                frames: int, steps: int) -> tuple[int, str, str]:
    """(stages, tuned folder, scheduler) for sampling through the temporal pyramid; `pyramid` 0 takes the folder's
    own stages. With no --tuned and --model the embedded pyramid-trained folder is used; the scheduler is the one
    the pyramid really samples with (its own DDIM steps, or flow), and any other is refused, not ignored."""
    if tuned is None and model is None and mode is None:
        tuned = embedded_pyramid()
    record = read_tuned(tuned)
    trained = record.pyramid
    if trained < 2:
        what = f"{tuned}" if tuned else f"mode {mode or 'zero-shot'!r}"
        raise ValueError(f"{what} was not trained for the temporal pyramid; drop --pyramid, or drop --mode and "
                         "--tuned to use the embedded pyramid-trained model (or train one: `flipbook train-pyramid`)")
    stages = pyramid or trained
    if stages != trained:
        raise ValueError(f"{tuned} was trained for a {trained}-stage pyramid; use --pyramid {trained} (or --pyramid "
                         "alone)")
    own = "flow" if record.form == "flow" else "ddim"
    if scheduler not in (None, own):
        raise ValueError(f"the temporal pyramid samples with its own {own} steps, so --scheduler {scheduler} would "
                         f"not be used; drop --scheduler (or pass {own})")
    check_pyramid_run(stages, frames, steps)
    return stages, str(tuned), own


def _cached_pipeline(cache: dict | None, mode, scheduler, model, tuned, device, dtype, memory):
    """keyframe_pipeline's (pipe, hashes), from `cache` (a dict the caller keeps) when it holds them."""
    key = (mode, scheduler, model, tuned, dtype, device, memory)
    if cache is None or key not in cache:
        built = keyframe_pipeline(mode, scheduler, model, tuned, device, dtype, memory)
        if cache is None:
            return built
        cache[key] = built
    return cache[key]


def context_settings(frames: int, window: int | None, overlap: int | None, method: str | None) -> dict:
    """How a clip is sampled: `window` None takes the models' trained length when the clip is longer (0: every
    frame in one pass, as clips of up to 64 frames were made before context windows)."""
    window = TRAINED_FRAMES if window is None and frames > TRAINED_FRAMES else (window or 0)
    window = check_number(window, "context window", 0, MAX_ONE_PASS, whole=True)
    overlap = DEFAULT_OVERLAP if overlap is None else overlap
    if window:  # one pass (0) has no windows to overlap
        overlap = check_number(overlap, "context overlap", 0, window - 1, whole=True)
    return {"context_window": window, "context_overlap": overlap, "long_method": method or "windows"}


def keyframe_steps(frames: int, steps: int, context_window: int | None = None, context_overlap: int | None = None,
                   long_method: str | None = None, planned: bool = False, motion_method: str | None = None,
                   motion_strength: float | None = None, image: bool = False) -> int:
    """The denoising steps a generation runs and reports (its progress total). Along a motion plan, frame 0's own
    pass first (`steps`; none when frame 0 is given, `image`); then the clip's, from where the plan or the given
    frame 0 starts it (the frame method part-way through the schedule, engine.motion.resume_index), once per
    window when windows are made one after another."""
    long = context_settings(frames, context_window, context_overlap, long_method)
    windows = 1 if long["long_method"] == "windows" or not long["context_window"] else len(
        context_windows(frames, long["context_window"], long["context_overlap"]))
    carried = (planned or image) and (motion_method or DEFAULT_METHOD) == "frame"
    start = resume_index(steps, motion_strength or DEFAULT_STRENGTH) if carried else 0
    return (steps if planned and not image else 0) + (steps - start) * windows


def generation_steps(prompt: str, frames: int, steps: int, fps: float = 2.0, seed: int = 0, motion: str | None = None,
                     speed: float = 1.0, path: str | list | None = None, motion_plan: bool = True,
                     motion_method: str | None = None, motion_strength: float | None = None, plan: dict | None = None,
                     image=None, context_window: int | None = None, context_overlap: int | None = None,
                     long_method: str | None = None, pyramid: int | None = None, renoise: bool = True,
                     mode: str | None = None, tuned: str | None = None, model: str | None = None,
                     scheduler: str | None = None, **_) -> int:
    """The denoising steps a generation given as generate_video's arguments runs (the others ignored): whether it
    follows a motion plan is motion_plan_for's answer, as generate_video asks it; then `keyframe_steps`, or through
    the temporal pyramid frame 0's pass and the pyramid's steps from where the plan enters it (counted with the
    world's noise schedule, which the pyramid-trained models use)."""
    planned = motion_plan_for(prompt, frames, fps, seed, motion, speed, path, motion_plan, plan) is not None
    if pyramid is None:
        return keyframe_steps(frames, steps, context_window, context_overlap, long_method, planned, motion_method,
                              motion_strength, image is not None)
    count, _, own = pyramid_run(pyramid, mode, tuned, model, scheduler, frames, steps)
    form = FlowForm() if own == "flow" else noise_form(train_scheduler())
    strength = (motion_strength or DEFAULT_STRENGTH) if planned else None
    return (steps if planned else 0) + pyramid_steps(form, count, steps, renoise, strength)


def first_frame(image: str | Path | None, image_sha256: str | None, height: int,
                width: int) -> tuple[torch.Tensor | None, str | None]:
    """The given first frame at the clip's size and its file's sha256 (what the sidecar records), checked to be the
    file a sidecar recorded when it names one; (None, None) without one."""
    if image is None:
        return None, None
    frame = read_image(image, height, width)  # says what is wrong with a missing or unreadable file
    digest = file_hash(image)
    if image_sha256 and digest != image_sha256:
        raise ValueError(f"{image} has changed since the sidecar was written (its sha256 differs): give the "
                         "original first frame with --image")
    return frame, digest


@contextmanager
def _dtype_errors(dtype: str, device: str):
    """An operation a half-precision dtype cannot run on this device becomes a message that says what to use."""
    try:
        yield
    except (RuntimeError, NotImplementedError) as e:
        if "not implemented for" in str(e) and ("Half" in str(e) or "BFloat16" in str(e)):
            raise ValueError(f"this model has an operation {dtype} cannot run on {device} ({str(e).splitlines()[0]}); "
                             "use --dtype fp32, or bf16 on a CPU") from None
        raise


# Over 60 lines: its signature and docstring list every option of `flipbook generate`; the body is 4 numbered steps.
def generate_video(out: str | Path, prompt: str, negative_prompt: str | None = None, seed: int = 0, frames: int = 8,
                   steps: int = 25, guidance: float = 4.0, mode: str | None = None, scheduler: str | None = None,
                   fps: float = 2.0, model: str | None = None, tuned: str | None = None, pyramid: int | None = None,
                   renoise: bool = True, callback=None, pipe_cache: dict | None = None, dtype: str = "fp32",
                   device: str = "cpu", memory: MemoryOptions | dict | None = None, motion: str | None = None,
                   speed: float = 1.0, path: str | list | None = None, motion_plan: bool = True,
                   motion_method: str | None = None, motion_strength: float | None = None,
                   plan: dict | None = None, cross_frame: bool = False, image: str | Path | None = None,
                   image_sha256: str | None = None, context_window: int | None = None,
                   context_overlap: int | None = None, long_method: str | None = None) -> tuple[Path, torch.Tensor]:
    """Write the video and its sidecar; return the path and the frames (F, 3, H, W) in [0, 1].

    `model`: a diffusers-format folder or hub id (default: the embedded base); `scheduler`: dpm++, ddim or flow
    (default: dpm++, or flow for a flow-trained folder); `pyramid`: TPDiff's stages (0: the folder's own; see
    `pyramid_run`); `dtype`: fp32, fp16 or bf16;
    `memory`: MemoryOptions (or their dict) for real checkpoints. Motion (engine.motion, `motion_plan_for`):
    `motion` (a world motion or a camera move), `speed`, `path` ('x,y x,y …' or points), `motion_plan=False`
    to ignore the prompt's motion words, `motion_method` and `motion_strength` (the pipeline's), `plan` (a
    recorded plan's dict, which wins), `cross_frame` (every frame attends to frame 0: Text2Video-Zero).
    Long clips and image-to-video (engine.diffusion.windows): `image` (a png or jpg, cropped and resized to the
    clip: frame 0 as given; `image_sha256` checks it is the one a sidecar recorded), `context_window` (frames
    the model sees at once; default the trained 8 when the clip is longer; 0: all at once), `context_overlap`
    and `long_method` (windows, autoregressive or chunks)."""
    # 1. the settings, checked (what a sidecar records)
    out = check_output(out)
    prompt = check_prompt(prompt)
    negative_prompt = check_prompt(negative_prompt, "the negative prompt", empty_ok=True) or None
    seed, fps = check_seed(seed), check_number(fps, "fps", 0.1, 120)
    frames = check_number(frames, "frames", 1, MAX_FRAMES, whole=True)
    steps = check_number(steps, "steps", 1, 1000, whole=True)
    if pyramid is not None and context_window is None:
        context_window = 0  # the pyramid samples all its frames at once
    long = context_settings(frames, context_window, context_overlap, long_method)
    guidance = check_number(guidance, "guidance", 0, 50)
    if pyramid is not None:
        pyramid, tuned, scheduler = pyramid_run(pyramid, mode, tuned, model, scheduler, frames, steps)
    mode, scheduler = keyframe_settings(mode, tuned, model, scheduler)
    motion_method, motion_strength = motion_method or DEFAULT_METHOD, motion_strength or DEFAULT_STRENGTH
    plan = motion_plan_for(prompt, frames, fps, seed, motion, speed, path, motion_plan, plan)
    memory = MemoryOptions(**memory) if isinstance(memory, dict) else (memory or MemoryOptions())
    dtype, device = dtype or "fp32", device or "cpu"

    # 2. the pipeline (from the cache when the caller keeps one) and the given first frame at its size
    start = time.perf_counter()
    pipe, hashes = _cached_pipeline(pipe_cache, mode, scheduler, model, tuned, device, dtype, memory)
    timings = {"load": time.perf_counter() - start}
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    given, digest = first_frame(image, image_sha256, size, size)

    # 3. the keyframes
    worded, start = prompt_for(pipe.tokenizer, prompt), time.perf_counter()
    with _dtype_errors(dtype, device):
        video = pipe(worded, negative_prompt=negative_prompt, num_frames=frames, num_inference_steps=steps,
                     guidance_scale=guidance, generator=torch.Generator().manual_seed(int(seed)),
                     callback_on_step_end=callback, pyramid=pyramid, renoise=renoise, motion_plan=plan,
                     motion_method=motion_method, motion_strength=motion_strength, cross_frame=bool(cross_frame),
                     image=given, context_window=long["context_window"] or None,
                     context_overlap=long["context_overlap"], long_method=long["long_method"]).frames[0]
    timings["keyframes"] = time.perf_counter() - start

    # 4. the file and its sidecar
    start = time.perf_counter()
    write_video(out, video, fps)
    timings["write"] = time.perf_counter() - start
    write_sidecar(out, {"kind": "generate", "prompt": prompt, "negative_prompt": negative_prompt, "seed": int(seed),
                        "frames": frames, "steps": steps, "guidance": guidance, "mode": mode, "scheduler": scheduler,
                        "fps": fps, "model": model, "tuned": tuned, "pyramid": pyramid, "renoise": renoise,
                        "dtype": dtype, "device": device, "memory": memory.to_dict(), "motion": motion,
                        "speed": speed, "path": path, "motion_plan": motion_plan, "motion_method": motion_method,
                        "motion_strength": motion_strength, "plan": plan.to_dict() if plan else None,
                        "cross_frame": bool(cross_frame), **long,
                        "image": str(image) if image is not None else None,
                        "image_sha256": digest,
                        "size": list(video.shape[-2:]),
                        "model_hashes": hashes, "seconds": {k: round(v, 3) for k, v in timings.items()}})
    return out, video
