"""Train the judge on ground-truth world clips, and measure where to trust it.

Every training clip is rendered on the fly from the train split (held-out combinations never appear),
seen at a random duration and resolution, and lightly degraded so that the judge can score generated
clips; the report measures it on validation, held-out combinations, and stronger degradations.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..metrics.degrade import EVAL_LEVELS, blur, down_up
from ..metrics.judge import Judge
from ..world.render import render, render_at
from ..world.splits import sample_split_spec
from ..world.vocab import ATTRIBUTES
from ..files import atomic_folder
from .checkpoint import load_checkpoint, resume_schedule, run_folder, save_checkpoint

VIEWS = {  # the clip formats the report measures: (size, fps, frames)
    "keyframes 32² 2fps×8": (32, 2.0, 8),
    "video 64² 8fps×16": (64, 8.0, 16),
}


def _resize(frames: torch.Tensor, size: int) -> torch.Tensor:
    if frames.shape[-1] == size:
        return frames
    mode = "area" if frames.shape[-1] > size else "bilinear"
    return F.interpolate(frames, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))


def training_batch(step: int, batch_size: int, seed: int = 0, size: int = 32, frames: int = 8):
    """Batch `step`: (B, 3, frames, size, size) videos and {attr: (B,)} labels, deterministic in (step, seed)."""
    rng = np.random.default_rng([seed, 1234, step])
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    videos, labels = [], {k: [] for k in ATTRIBUTES}
    for i in range(batch_size):
        spec, _ = sample_split_spec("train", step * batch_size + i, seed)
        duration = rng.uniform(1.75, 4.0)
        render_size = int(rng.choice([16, 24, 32, 32, 48, 64]))
        v = _resize(render_at(spec, torch.linspace(0, duration, frames), render_size), size)  # f 3 h w
        v = v.permute(1, 0, 2, 3).unsqueeze(0)  # 1 3 f h w
        if rng.random() < 0.3:
            v = blur(v, rng.uniform(0.2, 0.8))
        if rng.random() < 0.3:
            v = down_up(v, rng.uniform(1.2, 2.0))
        if rng.random() < 0.3:
            v = v + torch.empty(1, 3, 1, 1, 1).uniform_(-0.04, 0.04, generator=gen)
        if rng.random() < 0.3:
            v = v + rng.uniform(0.0, 0.05) * torch.randn(v.shape, generator=gen)
        videos.append(v.clamp(0, 1))
        for k, val in spec.attributes().items():
            labels[k].append(ATTRIBUTES[k].index(val))
    return torch.cat(videos), {k: torch.tensor(v) for k, v in labels.items()}


def train_judge(out: str | Path, steps: int = 2500, batch_size: int = 48, lr: float = 2e-3, seed: int = 0,
                width: int = 24, work_dir: str | Path = "runs/judge", checkpoint_every: int = 250,
                log=print) -> Judge:
    """Train (resuming from work_dir's checkpoint if any) and save the fp16 judge to `out`."""
    torch.manual_seed(seed)
    judge = Judge(width=width)
    opt = torch.optim.AdamW(judge.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    ckpt = run_folder(work_dir) / "checkpoint"
    state = load_checkpoint(ckpt, judge, opt) or {"step": 0, "losses": []}
    resume_schedule(sched, state["step"])
    judge.train()
    bar = tqdm(range(state["step"], steps), initial=state["step"], total=steps, desc="judge")
    for step in bar:
        video, labels = training_batch(step, batch_size, seed)
        logits = judge(video)
        loss = sum(F.cross_entropy(logits[k], labels[k]) for k in ATTRIBUTES)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        state["losses"].append(round(loss.item(), 4))
        bar.set_postfix(loss=f"{loss.item():.3f}")
        state["step"] = step + 1
        if state["step"] % checkpoint_every == 0 or state["step"] == steps:
            save_checkpoint(ckpt, judge, opt, state)
    judge.eval()
    save_fp16(judge, out)
    return judge


def save_fp16(model, out: str | Path):
    """save_pretrained in fp16 into a temporary folder, then move it into place whole."""
    with atomic_folder(out) as tmp:  # reports (*.md) written beside the weights stay
        dtype = model.dtype
        model.to(torch.float16).save_pretrained(tmp, safe_serialization=True)
        model.to(dtype)


@torch.no_grad()
def evaluate(judge: Judge, split: str, n: int, view: tuple[int, float, int], degrade=lambda v: v,
             batch_size: int = 100, seed: int = 1) -> dict[str, float]:
    """Per-attribute accuracy on n clips of `split` rendered at `view` = (size, fps, frames)."""
    size, fps, frames = view
    correct = {k: 0 for k in ATTRIBUTES}
    for start in range(0, n, batch_size):
        specs = [sample_split_spec(split, i, seed)[0] for i in range(start, min(n, start + batch_size))]
        video = torch.stack([render(s, size, fps, frames).permute(1, 0, 2, 3) for s in specs])
        preds = judge.predict(degrade(video))
        for spec, pred in zip(specs, preds):
            for k, v in spec.attributes().items():
                correct[k] += pred[k] == v
    return {k: c / n for k, c in correct.items()}


def report(judge: Judge, n: int = 1000) -> str:
    """A Markdown table of per-attribute accuracy: validation and held-out, per view and degradation."""
    rows = ["| split | view | condition | " + " | ".join(ATTRIBUTES) + " |",
            "|---|---|---|" + "---|" * len(ATTRIBUTES)]
    for split in ("val", "heldout"):
        for view_name, view in VIEWS.items():
            levels = EVAL_LEVELS if split == "val" else {"clean": EVAL_LEVELS["clean"]}
            for level, fn in levels.items():
                acc = evaluate(judge, split, n, view, fn)
                rows.append(f"| {split} | {view_name} | {level} | " + " | ".join(f"{acc[k]:.3f}" for k in ATTRIBUTES) + " |")
    return "\n".join(rows)
