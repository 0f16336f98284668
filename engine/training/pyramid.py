"""Stage-wise training of a temporal-pyramid keyframe model (TPDiff §3.2), for DDIM and for flow matching.

Each step draws one stage for the batch (uniformly), brings the clips to that stage's frame rate, draws one
noise per clip (optionally aligned to the clips, TPDiff Alg. 1), a time inside the stage per clip, and
regresses the stage target of `engine.diffusion.pyramid.stage_target`. With one stage this is ordinary
training: the vanilla baseline of the comparison, trained by the same code with the same budget.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..diffusion.align import align_noise
from ..diffusion.pyramid import DDIMForm, FlowForm, down, stage_target, stages
from ..models.base import model_output, train_scheduler
from .video import train_mode

PYRAMID_CLIPS = {"size": 32, "fps": 4.0, "frames": 16}  # 16 frames over the 4 s clip: TPDiff's 3 stages run 4, 8, 16


def make_form(name: str):
    if name == "ddim":
        return DDIMForm(train_scheduler().alphas_cumprod)
    if name == "flow":
        return FlowForm()
    raise ValueError(f"unknown diffusion form {name!r}; choose ddim or flow")


def pyramid_objective(form, count: int, align: bool):
    plan = stages(form, count)

    def objective(video, text_states, x0, seed):
        g = torch.Generator().manual_seed(seed)
        stage = plan[int(torch.randint(len(plan), (), generator=g))]
        target_frames = down(x0, stage.stride)
        noise = torch.randn(target_frames.shape, generator=g).to(x0)
        if align:
            noise = align_noise(target_frames, noise)
        lo, hi = max(stage.end, 0), stage.start
        if form.name == "ddim":
            t = torch.randint(int(lo), int(hi) + 1, (len(x0),), generator=g)
        else:
            t = lo + (hi - lo) * torch.rand(len(x0), generator=g)
        x_t, target = stage_target(form, stage, x0, noise, t, top=stage is plan[0])
        return F.mse_loss(model_output(video(x_t, form.timestep(t).to(x0.device), text_states), x0.shape[1]), target)

    return objective


def train_pyramid(form: str, out: str | Path, count: int = 3, align: bool = True, mode: str = "full",
                  steps: int = 1000, batch_size: int = 4, lr: float = 2e-4, seed: int = 0, base=None,
                  work_dir: str | Path | None = None) -> dict:
    """Train a keyframe model for the pyramid (count ≥ 2) or its vanilla baseline (count = 1).

    The flow model is a fine-tune of the ε-prediction base (mode `full`: every weight must move to predict
    velocities instead of noise), not a flow model trained from scratch.
    """
    objective = pyramid_objective(make_form(form), count, align)
    record = {"form": form, "pyramid": count, "align": align}
    return train_mode(mode, out, steps=steps, batch_size=batch_size, lr=lr, seed=seed, base=base,
                      work_dir=work_dir or f"runs/pyramid/{Path(out).name}", clip=PYRAMID_CLIPS,
                      objective=objective, record=record)
