"""The one denoising loop every pipeline runs: from timestep to timestep, the model's prediction, one solver step,
then the step callback, which may hand back new latents; `stop()` is asked before every step.

    for i, t in timesteps:          # a diffusers scheduler's (or the temporal pyramid's own grid, stage by stage)
        if stop(): break
        x = step(i, t, x, predict(x, t))
        x = on_step(i, t, x) or x

Text-to-video (and its long clips), interpolation, upscaling, translation, editing's DDIM inversion and sampling,
and the pyramid's stages all run it. Inside the engine a step callback is `on_step(i, t, latents)`, returning the
latents to go on with (or None to keep them); a pipeline offers diffusers' `callback_on_step_end(pipe, i, t,
{"latents": ...})` on top of it (`pipeline_callback`), and Stop through `StoppablePipeline.stop()`.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch

OnStep = Callable[[int, object, torch.Tensor], "torch.Tensor | None"]


def denoise_loop(x: torch.Tensor, timesteps: Iterable, predict: Callable, step: Callable, on_step: OnStep | None = None,
                 stop: Callable[[], bool] | None = None, first: int = 0) -> torch.Tensor:
    """x denoised over `timesteps`: `predict(x, t)` is the model's output, `step(i, t, x, prediction)` the solver's
    next x; `on_step(i, t, x)` after every step (its latents, when not None, go on); `stop()` true ends the loop
    before the next step. Steps are numbered from `first`."""
    for i, t in enumerate(timesteps, first):
        if stop is not None and stop():
            break
        x = step(i, t, x, predict(x, t))
        if on_step is not None:
            out = on_step(i, t, x)
            x = x if out is None else out
    return x


def scheduler_loop(scheduler, x: torch.Tensor, predict: Callable, timesteps=None, first: int = 0,
                   on_step: OnStep | None = None, stop: Callable[[], bool] | None = None,
                   generator: torch.Generator | None = None, progress: Callable = iter) -> torch.Tensor:
    """`denoise_loop` over a diffusers scheduler (its timesteps already set): `timesteps` (default all of them from
    index `first`), the model input scaled the scheduler's way, `scheduler.step` as the solver; `progress` wraps
    the timesteps (a pipeline's `progress_bar`)."""
    timesteps = scheduler.timesteps[first:] if timesteps is None else timesteps
    scale = getattr(scheduler, "scale_model_input", None)
    model = predict if scale is None else (lambda x, t: predict(scale(x, t), t))
    solve = lambda i, t, x, pred: scheduler.step(pred, t, x, generator=generator).prev_sample  # noqa: E731
    return denoise_loop(x, progress(timesteps), model, solve, on_step, stop, first)


def pipeline_callback(pipe, callback: Callable | None, extra: Callable[[torch.Tensor], dict] | None = None
                      ) -> OnStep | None:
    """diffusers' `callback_on_step_end(pipe, i, t, kwargs)` as the loop's `on_step`: kwargs are {"latents": x} and
    `extra(x)` (e.g. the sample as frames, for a preview); what it returns under "latents" replaces them."""
    if callback is None:
        return None

    def on_step(i, t, x):
        return (callback(pipe, i, t, {"latents": x, **(extra(x) if extra else {})}) or {}).get("latents", x)

    return on_step


class StoppablePipeline:
    """Stop for a pipeline (a mixin before diffusers' `DiffusionPipeline`): `stop()` asks a running `__call__` to end
    after the current step; `__call__` clears it when it starts (`start_run`) and its loops ask `interrupt`."""

    _interrupt = False

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    def stop(self):
        """Ask a running __call__ to stop after the current step (the studio's Stop button)."""
        self._interrupt = True

    def start_run(self):
        self._interrupt = False

    def run_steps(self, x: torch.Tensor, predict: Callable, timesteps=None, first: int = 0,
                  on_step: OnStep | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """`scheduler_loop` with this pipeline's scheduler, progress bar and Stop."""
        return scheduler_loop(self.scheduler, x, predict, timesteps, first, on_step, lambda: self.interrupt, generator,
                              self.progress_bar)
