"""Build ready pipelines from the embedded assets, or any diffusers-format folder or hub id, by mode and
scheduler name, at a device and dtype, with memory options."""
from __future__ import annotations

from pathlib import Path



from diffusers import DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler

from ..diffusion.inversion import sampler
from ..diffusion.reparam import FlowFromDiffusion
from ..models.base import load_base, resolve_device, resolve_dtype
from ..tuning import ASSET as MODES_ASSET
from ..tuning import TunedRecord, load_text_encoder, load_tuned, read_tuned
from ..sidecar import model_hash
from ..registry import is_tuned_folder
from ..tuning import MODES
from ..world import UnknownWordsError, world_wording
from .memory import MemoryOptions
from .text_to_video import TextToVideoPipeline

SCHEDULERS = {  # pixel-space models clip (DDIM) or dynamically threshold (DPM-Solver++) their x0 estimate, as
    # IF does: with a cosine schedule ᾱ at the first step is ~1e-9, and x0 = (x - √(1-ᾱ)ε)/√ᾱ explodes otherwise
    "ddim": lambda config, pixel: sampler(config, pixel),
    "dpm++": lambda config, pixel: DPMSolverMultistepScheduler.from_config(
        config, algorithm_type="dpmsolver++", timestep_spacing="trailing", thresholding=pixel, sample_max_value=1.0),
    "flow": lambda config, pixel: FlowMatchEulerDiscreteScheduler(num_train_timesteps=config["num_train_timesteps"]),
}


def available_modes(modes_dir: str | Path | None = None) -> list[str]:
    """Modes that can generate now: zero-shot always, others once their tuned weights exist."""
    folder = Path(modes_dir or MODES_ASSET)
    return ["zero-shot"] + [m for m in MODES if m != "zero-shot" and is_tuned_folder(folder / m)]


def keyframe_pipeline(mode: str = "zero-shot", scheduler: str = "ddim", model: str | Path | None = None,
                      tuned: str | Path | None = None, device: str = "cpu", dtype=None,
                      memory: MemoryOptions | None = None) -> tuple[TextToVideoPipeline, dict]:
    """A text-to-video pipeline and the hashes of what it is made of (for sidecars).

    `model`: a diffusers-format folder or hub id (default: the embedded base), pixel (IF-style) or latent
    (SD-style); `tuned`: a tuned-mode folder trained on that base; `dtype`: 'fp32', 'fp16' or 'bf16'.
    """
    if tuned is not None:
        found = read_tuned(tuned).mode
        if found is None:
            raise FileNotFoundError(f"{tuned} is not a tuned folder (no mode.json naming a mode); give --tuned a "
                                    "folder made by `flipbook tune` or `flipbook train-mode`")
        if found != mode:
            raise ValueError(f"{tuned} holds a tuned {found!r} mode, not {mode!r}: drop --mode (the folder names its "
                             f"mode) or pass --mode {found}")
    if scheduler not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r}; choose one of: {', '.join(SCHEDULERS)}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    device, dtype, memory = resolve_device(device), resolve_dtype(dtype), memory or MemoryOptions()
    base = load_base(model, "cpu" if memory.cpu_offload else device, dtype)
    hashes = {"base_unet": model_hash(base.unet), "text_encoder": model_hash(base.text_encoder)}
    if base.vae is not None:
        hashes["vae"] = model_hash(base.vae)
    folder = Path(tuned) if tuned else (Path(MODES_ASSET) / mode if model is None else None)
    if mode != "zero-shot" and not is_tuned_folder(folder):
        if model is None:
            fix = f"available now: {', '.join(available_modes())} (or train it with `flipbook train-mode --mode {mode}`)"
        else:
            fix = (f"give --tuned FOLDER, a mode tuned on this model (`flipbook train-mode --mode {mode} --model "
                   f"{model} --out FOLDER`), or use --mode zero-shot")
        raise FileNotFoundError(f"no tuned weights for mode {mode!r}" + (f" at {folder}" if folder else "") + f"; {fix}")
    video = load_tuned(base.unet, folder if mode != "zero-shot" else None, mode)
    record = read_tuned(folder) if mode != "zero-shot" else TunedRecord()
    form = record.form
    if (form == "flow") != (scheduler == "flow"):
        raise ValueError(f"this model was trained for {form}; sample it with "
                         + ("--scheduler flow" if form == "flow" else "ddim or dpm++"))
    if mode != "zero-shot":
        hashes["tuned"] = model_hash(video.added)
        if load_text_encoder(base.text_encoder, folder):  # the mode taught the text encoder its motion words
            hashes["text_encoder"] = model_hash(base.text_encoder)
    video = video.to(device=base.unet.device, dtype=dtype).eval()  # added modules to the base's device and dtype
    config = dict(base.scheduler.config)
    if record.get("pyramid") and form == "ddim":  # the model's own output form (older pyramid folders: ε_k)
        config["prediction_type"] = record.get("prediction_type", "epsilon")
    if form == "flow" and "prediction_type" in record.raw:  # the base read as a flow model, the modules tuned on that
        video = FlowFromDiffusion(video, base.noise_scheduler().alphas_cumprod, record.raw["prediction_type"])
    pipe = TextToVideoPipeline(video, base.text_encoder, base.tokenizer,
                               SCHEDULERS[scheduler](config, pixel=not base.latent), base.vae)
    pipe.set_progress_bar_config(disable=True)
    memory.apply(pipe, device)
    return pipe, hashes


def prompt_for(tokenizer, prompt: str) -> str:
    """The prompt as the tokenizer knows it: as given when it knows every word (a real checkpoint's sub-word
    tokenizer always does), else in the world's wording ('rotates' → 'rotating'); words still unknown raise
    UnknownWordsError, which names them and the words there are."""
    if not unknown_words(tokenizer, prompt):
        return prompt
    worded = world_wording(prompt)
    unknown = unknown_words(tokenizer, worded)
    if unknown:
        raise UnknownWordsError(unknown)
    return worded


def unknown_words(tokenizer, prompt: str) -> list[str]:
    """Words a word-level tokenizer maps to its unknown token (empty for sub-word tokenizers)."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return []
    words = prompt.split()
    return [w for w in words if unk in tokenizer(w, add_special_tokens=False).input_ids]
