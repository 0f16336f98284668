"""Expert translation of a clip file, end to end (`flipbook translate`): read it, resize it to the expert's
resolution, translate it (engine.pipelines.translate), write the clip and its sidecar with each stage's seconds and
peak memory."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from .io import read_video, write_video
from .peak_memory import PeakMemory
from .pipelines.load import prompt_for
from .pipelines.translate import SEGMENT, STRENGTH, fit_size, segments, translation_pipeline
from .sidecar import read_sidecar, write_sidecar
from .validate import check_output, check_prompt, check_seed


def translate_file(input: str | Path, out: str | Path, prompt: str | None = None, strength: float = STRENGTH,
                   steps: int = 20, guidance: float = 1.0, seed: int = 0, expert: str | Path | None = None,
                   decoder: str | None = None, scheduler: str = "dpm++", device: str = "cpu",
                   dtype: str = "fp32", segment_frames: int = SEGMENT, callback: Callable | None = None,
                   side: int | None = None, detail_sigma: float | None = None) -> tuple[Path, torch.Tensor, list[str]]:
    """Translate a video file into `out` (.mp4 or .gif) with a sidecar; returns (path, frames, notes). `callback`:
    the pipeline's `callback_on_step_end`, after every step of every segment; `side`: the output's long side
    (default the expert's; larger goes up in resolution, MPL-Video's use); `detail_sigma`: keep the input's
    frequencies below a Gaussian of σ output pixels (engine.pipelines.translate.keep_low_frequencies)."""
    out, seed = check_output(out), check_seed(seed)
    seconds, start = {}, time.perf_counter()
    video, fps = read_video(input)
    if prompt is None:  # a clip from `flipbook render`, `generate` or `upscale` says what it shows
        prompt = ((read_sidecar(input) if Path(input).with_suffix(".json").is_file() else None) or {}).get("prompt") or ""
    prompt = check_prompt(prompt, empty_ok=True)
    with PeakMemory() as load_peak:
        pipe, hashes = translation_pipeline(expert, decoder, scheduler, device, dtype)
    prompt = prompt_for(pipe.tokenizer, prompt)
    seconds["load"] = time.perf_counter() - start
    h, w = video.shape[-2:]
    size = fit_size(h, w, side or pipe.config.sample_size, pipe.multiple)
    whose = "the size asked for" if side else "the expert's resolution"
    notes = [] if size == (h, w) else [f"resized {w}×{h} to {size[1]}×{size[0]} (bilinear), {whose}"]
    start = time.perf_counter()
    with PeakMemory() as peak:
        frames = pipe(video[None], prompt, strength, steps, guidance, *size,
                      generator=torch.Generator().manual_seed(seed), segment_frames=segment_frames,
                      callback_on_step_end=callback, detail_sigma=detail_sigma).frames[0]
    seconds["translate"] = time.perf_counter() - start
    write_video(out, frames, fps)
    write_sidecar(out, {"kind": "translate", "input": str(input), "input_size": [h, w], "frames": int(video.shape[0]),
                        "fps": fps, "prompt": prompt, "strength": strength, "steps": steps, "guidance": guidance,
                        "seed": seed, "scheduler": scheduler, "expert": str(expert) if expert else None,
                        "max_timestep": pipe.config.max_timestep, "decoder": pipe.decoder_name,
                        "size": list(size), "detail_sigma": detail_sigma, "segment_frames": segment_frames,
                        "segments": segments(video.shape[0], segment_frames), "preprocess": notes, "dtype": dtype, "device": str(device),
                        "model_hashes": hashes, "seconds": {k: round(v, 3) for k, v in seconds.items()},
                        "peak_mb": {"load": round(load_peak.mb, 1), "translate": round(peak.mb, 1)}})
    return out, frames, notes
