"""A diffusion (ᾱ-schedule, ε- or v-predicting) model read as a flow-matching model, without retraining.

Flow matching writes x_σ = (1−σ)·x_0 + σ·ε and learns the velocity dx/dσ = ε − x_0. A DDIM model sees
x_t = a_t·x_0 + b_t·ε with a_t² + b_t² = 1. The two describe one sample when their signal-to-noise ratios
agree, a_t/b_t = (1−σ)/σ, and then x_t = x_σ / √((1−σ)² + σ²). So: find the (fractional) timestep t with that
SNR, rescale the input, ask the model, turn its ε or v into x̂_0 and ε̂, and return ε̂ − x̂_0.

This is how Flipbook's flow-matching keyframe models start: the embedded v-prediction base, read this way, is
already a flow model, and stage-wise flow training (TPDiff) only tunes the temporal modules on top of it.
"""
from __future__ import annotations

import torch
from torch import nn

from ..models.base import model_output


class FlowFromDiffusion(nn.Module):
    """forward(x_σ (B, C, F, H, W), timestep = σ·1000, text) -> velocity ε̂ − x̂_0."""

    def __init__(self, model: nn.Module, alphas_cumprod: torch.Tensor, prediction_type: str = "v_prediction"):
        super().__init__()
        if prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"cannot read a {prediction_type!r} model as a flow; it must predict epsilon or v")
        self.model, self.prediction_type = model, prediction_type
        ac = alphas_cumprod.double()
        self.register_buffer("log_snr", (ac / (1 - ac)).log().float(), persistent=False)  # falls with t

    def __getattr__(self, name):  # config, dtype, device, noise_share... are the wrapped model's
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.model, name)

    def timestep_for(self, sigma: torch.Tensor) -> torch.Tensor:
        """The fractional DDIM timestep whose log-SNR is the flow's 2·log((1−σ)/σ) (clamped to the schedule)."""
        table = self.log_snr.to(sigma.device)
        target = 2 * ((1 - sigma).clamp(min=1e-6).log() - sigma.clamp(min=1e-6).log())
        target = target.clamp(table[-1], table[0])
        hi = torch.searchsorted(-table, -target).clamp(1, len(table) - 1)  # first index with log_snr ≤ target
        lo = hi - 1
        frac = (table[lo] - target) / (table[lo] - table[hi])
        return lo.float() + frac

    def forward(self, x: torch.Tensor, timestep, encoder_hidden_states: torch.Tensor, **kwargs) -> torch.Tensor:
        sigma = torch.as_tensor(timestep, device=x.device, dtype=torch.float32).reshape(-1) / 1000
        sigma = sigma.expand(x.shape[0]) if sigma.numel() == 1 else sigma
        t = self.timestep_for(sigma)
        shape = (-1,) + (1,) * (x.ndim - 1)
        norm = ((1 - sigma) ** 2 + sigma**2).sqrt()
        a, b = ((1 - sigma) / norm).view(shape).to(x.dtype), (sigma / norm).view(shape).to(x.dtype)  # a² + b² = 1
        x_t = x / norm.view(shape).to(x.dtype)
        out = model_output(self.model(x_t, t.to(x.dtype), encoder_hidden_states, **kwargs), x.shape[1])
        if self.prediction_type == "v_prediction":
            x0, eps = a * x_t - b * out, b * x_t + a * out
        else:
            x0, eps = (x_t - b * out) / a.clamp(min=1e-4), out
        return eps - x0
