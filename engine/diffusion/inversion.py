"""DDIM inversion (Tune-A-Video, SimDA §3.4): run the deterministic DDIM sampler backwards, clean clip -> noisy latents.

The steps are diffusers' `DDIMInverseScheduler` on the model's own schedule and prediction type (ε or v), on the
same trailing timesteps the `DDIMScheduler` samples on, so sampling back from the inverted latents retraces them:

    x_0 ──invert k steps──▶ x_{t_k} ──sample k steps (the edited prompt)──▶ x'_0,   k = round(strength · steps)

`strength` < 1 stops the inversion part-way (SDEdit-style). A pixel-space model with a cosine schedule has
ᾱ ≈ 2·10⁻⁹ at t = 999, so inverting all the way is ill-conditioned there: the last steps amplify the model's
error by 1/√ᾱ and the clip's layout is lost (see bench/edit_bench.py for the measurement behind the default).
The inversion runs unguided (guidance 1, the source prompt); sampling back is guided by the edited prompt.
"""
from __future__ import annotations

from typing import Callable

import torch
from diffusers import DDIMInverseScheduler, DDIMScheduler

from .loop import denoise_loop, scheduler_loop

Predict = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t) -> the model's ε or v


def inversion_steps(num_inference_steps: int, strength: float) -> int:
    """How many of the `num_inference_steps` DDIM steps an inversion to `strength` covers (at least 1)."""
    if not 0 < strength <= 1:
        raise ValueError(f"strength must be in (0, 1] (the fraction of the noise schedule inverted), got {strength}")
    if not 1 <= num_inference_steps <= 1000:
        raise ValueError(f"steps must be between 1 and 1000, got {num_inference_steps}")
    return max(1, min(num_inference_steps, round(num_inference_steps * strength)))


def clips_estimate(config: dict, pixel: bool) -> bool:
    """Whether DDIM clips its x₀ estimate to [−1, 1]: for ε-predicting pixel models, as IF does (x̂₀ = (x − b·ε̂)/a
    explodes where ᾱ is ~1e-9). Not for v-prediction, whose x̂₀ = a·x − b·v̂ is well conditioned: there
    clipping x̂₀ while DDIM keeps the unclipped ε̂ breaks the step's consistency, and the embedded base sampled
    noisy, flickering frames with it (clean ones without)."""
    return pixel and config.get("prediction_type", "epsilon") == "epsilon"


def inverse_scheduler(config: dict, pixel: bool) -> DDIMInverseScheduler:
    """The inverse of `sampler(config, pixel)`."""
    return DDIMInverseScheduler.from_config(config, timestep_spacing="trailing", clip_sample=clips_estimate(config, pixel),
                                            set_alpha_to_one=True)


def sampler(config: dict, pixel: bool) -> DDIMScheduler:
    """Deterministic DDIM (η = 0) on trailing timesteps (see `clips_estimate`)."""
    return DDIMScheduler.from_config(config, timestep_spacing="trailing", clip_sample=clips_estimate(config, pixel),
                                     set_alpha_to_one=True)


@torch.no_grad()
def ddim_invert(predict: Predict, x0: torch.Tensor, scheduler: DDIMInverseScheduler, num_inference_steps: int,
                strength: float, callback: Callable[[int, int, torch.Tensor], torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, int]:
    """Invert clean latents x0 (B, C, F, h, w) over the first round(strength·steps) steps; `callback(i, t, x)`
    sees every step and returns the latents to go on with (as in `sample_from`).

    Returns (x_t, t): the inverted latents and the timestep they sit at (where `sample_from` starts)."""
    k = inversion_steps(num_inference_steps, strength)
    scheduler.set_timesteps(num_inference_steps, device=x0.device)
    invert = lambda i, t, x, eps: scheduler.step(eps, t, x).prev_sample  # noqa: E731
    x = denoise_loop(x0, scheduler.timesteps[:k], predict, invert, callback)  # ascending: 39, 79, … for 25 steps
    return x, int(scheduler.timesteps[k - 1])


@torch.no_grad()
def sample_from(predict: Predict, x_t: torch.Tensor, t_start: int, scheduler: DDIMScheduler, num_inference_steps: int,
                generator: torch.Generator | None = None, callback: Callable[[int, int, torch.Tensor], torch.Tensor] | None
                = None, stop: Callable[[], bool] | None = None) -> torch.Tensor:
    """DDIM-sample from x_t at timestep t_start (what `ddim_invert` returned) down to clean latents."""
    scheduler.set_timesteps(num_inference_steps, device=x_t.device)
    timesteps = [t for t in scheduler.timesteps if int(t) <= t_start]
    if not timesteps or int(timesteps[0]) != t_start:
        raise ValueError(f"timestep {t_start} is not on this sampler's {num_inference_steps}-step grid; invert and "
                         "sample with the same number of steps")
    return scheduler_loop(scheduler, x_t, predict, timesteps, on_step=callback, stop=stop, generator=generator)
