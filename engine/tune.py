"""Tuning a mode, the task (`flipbook tune`, the studio's Tune tab, one-shot editing): `tune_mode` trains a mode of
the inflated base on batches (the world's training split or given clips, `engine.training.clips`) and saves the
tuned folder (`engine.tuning`); `tune_clips` is a quick fine-tune on a user's own clip files: a folder of clips
with captions, or one clip.

Captions come from `--caption` (one for every clip), a `captions.json` ({file name: caption}) in the folder, or a
`NAME.json` sidecar beside each clip with a "prompt" (what `flipbook render` writes), in that order. Clips are read
at the model's size (centre-cropped square, evenly spaced frames). Training is the shared loop: a progress bar,
checkpoints every N steps swapped in whole (`OUT-work/checkpoint`), a loss plot; `resume=True` continues a run
that was stopped or killed at any moment. The tuned folder OUT loads by its path in `flipbook generate --tuned`,
`flipbook edit --tuned` and the studio (`flipbook studio --modes PARENT_OF_OUT`).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import torch

from .files import atomic_path
from .io.video import READABLE
from .models.base import load_base
from .pipelines.load import prompt_for
from .registry import is_tuned_folder
from .sidecar import write_sidecar
from .training.clips import LR, SNR_GAMMA, clip_batches, load_clips
from .training.loop import save_loss_plot
from .training.modes import train_mode
from .tuning import MODES
from .validate import check_folder, check_prompt, check_seed
from .world import UnknownWordsError

CAPTIONS_FILE = "captions.json"
_FIX = (f"add them to {CAPTIONS_FILE} ({{\"file.mp4\": \"a red circle ...\"}}), give each a NAME.json with a "
        "\"prompt\", or pass --caption for every clip")


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path.name} is not valid JSON ({e}); fix or delete it") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} must hold a JSON object")
    return data


def collect_clips(data: str | Path, caption: str | None = None) -> tuple[list[Path], list[str]]:
    """The clip files of `data` (a folder or one clip) and a caption for each."""
    data = Path(data)
    if data.is_dir():
        paths = sorted(p for p in data.iterdir() if p.is_file() and p.suffix.lower() in READABLE)
        if not paths:
            raise ValueError(f"{data} holds no clips; put .mp4, .gif or .webm files in it")
    elif data.is_file():
        paths = [data]
    else:
        raise FileNotFoundError(f"no folder or clip at {data}; give --data a folder of clips or one clip file")
    if caption is not None:
        if not caption.strip():
            raise ValueError("--caption is empty; describe the clips in the world's words")
        return paths, [check_prompt(caption, "--caption")] * len(paths)
    table = _json(paths[0].parent / CAPTIONS_FILE) if (paths[0].parent / CAPTIONS_FILE).is_file() else {}
    captions, missing = [], []
    for p in paths:
        text = table.get(p.name)
        if text is None and p.with_suffix(".json").is_file():
            text = _json(p.with_suffix(".json")).get("prompt")
        if not isinstance(text, str) or not text.strip():
            missing.append(p.name)
        else:
            check_prompt(text, f"the caption of {p.name}")
        captions.append((text or "").strip())
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise ValueError(f"no caption for {', '.join(missing[:3])}{more}: {_FIX}")
    return paths, captions


def tune_mode(mode: str, out: str | Path, batches: Callable[[int], dict], steps: int, lr: float = LR, seed: int = 0,
              base: str | Path | None = None, work_dir: str | Path | None = None, snr_gamma: float | None = SNR_GAMMA,
              on_step: Callable[[int, float], None] | None = None, record: dict | None = None,
              checkpoint_every: int | None = None) -> dict:
    """Tune `mode` of the inflated base on `batches(step)` ({"pixels": (B, 3, F, H, W) in [-1, 1], "captions",
    "seed"}: `world_batches` or `clip_batches`) and save the tuned folder to `out`; returns the loop's final state
    (step, losses). `on_step(step, loss)` is called after every step (a live loss plot; raising from it stops the
    run, leaving the checkpoint of the last finished save)."""
    if mode not in MODES or mode == "zero-shot":
        raise ValueError(f"choose a mode to tune from: {', '.join(m for m in MODES if m != 'zero-shot')}")
    work_dir = Path(work_dir or Path(out).with_name(Path(out).name + "-work"))
    return train_mode(mode, out, steps=steps, lr=lr, seed=seed, base=base, work_dir=work_dir, snr_gamma=snr_gamma,
                      record=record, checkpoint_every=checkpoint_every or steps, batches=batches, on_step=on_step)


def tune_clips(data: str | Path, mode: str, steps: int, out: str | Path, caption: str | None = None,
               checkpoint_every: int = 100, resume: bool = False, batch_size: int = 4, lr: float = LR, seed: int = 0,
               model: str | Path | None = None, frames: int = 8, work_dir: str | Path | None = None,
               on_step=None) -> dict:
    """Tune `mode` on the clips of `data`; write the tuned folder `out` (mode.json, tuned.safetensors, loss.png)
    and its sidecar OUT.json. Checkpoints go to `work_dir` (default OUT-work). Returns the loop's final state."""
    if mode not in MODES or mode == "zero-shot":
        raise ValueError(f"choose a mode to tune from: {', '.join(m for m in MODES if m != 'zero-shot')}")
    if not 2 <= frames <= 64:
        raise ValueError(f"frames must be between 2 and 64, got {frames}")
    seed = check_seed(seed)
    out = Path(out)
    work = Path(work_dir) if work_dir else out.with_name(out.name + "-work")
    check_folder(out.parent)
    if work_dir:
        check_folder(work.parent, "--work-dir")
    if out.exists() and not is_tuned_folder(out):
        raise ValueError(f"{out} exists and is not a tuned folder; choose another --out")
    if not resume and (work.exists() or out.exists()):
        raise ValueError(f"{work if work.exists() else out} holds an earlier run: pass --resume to continue it, "
                         "or choose another --out")
    if resume and out.exists() and not work.exists():
        raise ValueError(f"{out} is finished and its checkpoints ({work}) are gone; choose another --out")
    paths, captions = collect_clips(data, caption)
    base = load_base(model)
    for i, (p, c) in enumerate(zip(paths, captions)):
        try:
            captions[i] = prompt_for(base.tokenizer, c)
        except UnknownWordsError as e:
            raise ValueError(f"the caption of {p.name}: {e}") from None
    size = base.unet.config.sample_size * base.vae_scale_factor
    clips = load_clips(paths, size, frames)
    del base

    run = {"mode": mode, "model": str(model) if model else None, "clips": [p.name for p in paths],
           "captions": captions, "batch_size": batch_size, "lr": lr, "seed": seed, "frames": frames, "size": size}
    record = work / "run.json"
    if record.is_file():  # a resumed run must train on what it started on
        before = _json(record)
        changed = [k for k in run if before.get(k) != run[k]]
        if changed:
            raise ValueError(f"--resume: this run started with other {', '.join(changed)} ({work / 'run.json'}); "
                             "resume with the same settings, or choose another --out")
    else:
        with atomic_path(record) as tmp:
            tmp.write_text(json.dumps(run, indent=1))
    start = time.perf_counter()
    torch.manual_seed(seed)  # the added modules' initial weights (a resumed run takes them from the checkpoint)
    state = tune_mode(mode, out, clip_batches(clips, captions, batch_size, seed), steps, lr=lr, seed=seed, base=model,
                 work_dir=work, on_step=on_step, checkpoint_every=min(checkpoint_every, steps),
                 record={"clip": {"size": size, "frames": frames}, "data": str(data), "clip_files": run["clips"],
                         "captions": sorted(set(captions)), "batch_size": batch_size})
    save_loss_plot(state["losses"], out / "loss.png", f"{mode} on {len(paths)} clip(s), {steps} steps")
    write_sidecar(out, {"kind": "tune", **run, "steps": steps, "data": str(data), "folder": str(out),
                        "work_dir": str(work), "losses": state["losses"],
                        "seconds_this_session": round(time.perf_counter() - start, 2)})
    return state
