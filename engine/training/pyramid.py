"""Stage-wise training of a temporal-pyramid keyframe model (TPDiff §3.2), for DDIM and for flow matching.

Each step draws one stage for the batch (uniformly), brings the clips to that stage's frame rate, draws one
noise per clip (optionally aligned to the clips, TPDiff Alg. 1), a time inside the stage per clip, and
regresses the stage target of `engine.diffusion.pyramid.stage_target`. With one stage this is ordinary
training: the vanilla baseline of the comparison, trained by the same code with the same budget.

Both forms keep the base as it is and tune only a mode's added modules (temporal by default):
- DDIM: the target is the stage's ε_k. A v-predicting base's output is read as ε̂ = a·v̂ + b·x_t, and the loss
  is weighted by Min-SNR-γ (min(SNR, γ)/SNR on ε, which is the same loss as v-prediction's Min-SNR-γ).
- Flow matching: the base is read as a flow model (`engine.diffusion.reparam.FlowFromDiffusion`: no retraining;
  a v-prediction base is a flow model up to a change of variables), and the temporal modules learn the stage
  velocities (x̂_e − x̂_s)/(σ_e − σ_s) on top of it. So the flow model is a fine-tune of the base, not a model
  trained as flow from the start.
"""
from __future__ import annotations

from pathlib import Path

import torch
from diffusers import DDPMScheduler

from ..diffusion.align import align_noise
from ..diffusion.pyramid import DDIMForm, FlowForm, down, epsilon_from_v, stage_target, stages
from ..diffusion.reparam import FlowFromDiffusion
from ..models.base import ASSET, model_output
from .modes import train_mode

PYRAMID_CLIPS = {"size": 32, "fps": 4.0, "frames": 16}  # 16 frames over the 4 s clip: TPDiff's 3 stages run 4, 8, 16
PYRAMID_MODE = "ff-conv1d-attn1d-blocks"


def base_scheduler(base: str | Path | None = None) -> DDPMScheduler:
    """The base's training schedule (ᾱ and prediction type), from its folder or hub id."""
    return DDPMScheduler.from_pretrained(str(base or ASSET), subfolder="scheduler")


def make_form(name: str, scheduler: DDPMScheduler):
    if name == "ddim":
        return DDIMForm(scheduler.alphas_cumprod)
    if name == "flow":
        return FlowForm()
    raise ValueError(f"unknown diffusion form {name!r}; choose ddim or flow")


def _per_sample(err: torch.Tensor) -> torch.Tensor:
    return err.pow(2).flatten(1).mean(1)


def pyramid_objective(form, count: int, align: bool, scheduler: DDPMScheduler, snr_gamma: float | None = 5.0):
    """objective(video, text_states, x0, seed) -> loss, for `train_mode`."""
    plan = stages(form, count)
    ac, prediction = scheduler.alphas_cumprod, scheduler.config.prediction_type

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
        if form.name == "flow":
            model = FlowFromDiffusion(video, ac, prediction)
            return _per_sample(model(x_t, form.timestep(t).to(x0.device), text_states) - target).mean()
        pred = model_output(video(x_t, form.timestep(t).to(x0.device), text_states), x0.shape[1])
        if prediction == "v_prediction":
            pred = epsilon_from_v(ac, x_t, t.to(x0.device), pred)
        err = _per_sample(pred - target)
        if snr_gamma:
            snr = torch.stack([torch.tensor(form.snr(int(u))) for u in t]).to(err)
            err = err * snr.clamp(max=snr_gamma) / snr
        return err.mean()

    return objective


def train_pyramid(form: str, out: str | Path, count: int = 3, align: bool = True, mode: str = PYRAMID_MODE,
                  steps: int = 600, batch_size: int = 4, lr: float = 5e-4, seed: int = 0, base=None,
                  work_dir: str | Path | None = None, snr_gamma: float | None = 5.0, on_step=None) -> dict:
    """Train a keyframe model for the pyramid (count ≥ 2) or its vanilla baseline (count = 1), on 16-frame
    clips at 4 fps. The folder records its form, stage count and alignment; `keyframe_pipeline` reads them."""
    scheduler = base_scheduler(base)
    objective = pyramid_objective(make_form(form, scheduler), count, align, scheduler, snr_gamma)
    record = {"form": form, "pyramid": count, "align": align, "prediction_type": scheduler.config.prediction_type,
              "snr_gamma": snr_gamma if form == "ddim" else None}
    return train_mode(mode, out, steps=steps, batch_size=batch_size, lr=lr, seed=seed, base=base,
                      work_dir=work_dir or f"runs/pyramid/{Path(out).name}", clip=PYRAMID_CLIPS,
                      objective=objective, record=record, on_step=on_step)
