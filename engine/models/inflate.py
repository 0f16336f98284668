"""Inflation (Inflation §3.1): any diffusers UNet2DConditionModel run on videos with shared weights.

Frames are folded into the batch for every spatial layer ('b c f h w -> (b f) c h w'), the timestep and
text embeddings are repeated per frame, and added modules (temporal layers, adapters) attach through
forward hooks on named UNet submodules. They live in `VideoUNet.added`, apart from the UNet, so the
base weights load unchanged and the added ones save on their own.
"""
from __future__ import annotations

from typing import Callable

import torch
from diffusers import UNet2DConditionModel
from einops import rearrange, repeat
from torch import nn

from .temporal import FrameContext


def _map_primary(out, fn: Callable[[torch.Tensor], torch.Tensor]):
    """Apply fn to a module's main output: a tensor, (hidden, residuals) of a down block, or a model output."""
    if torch.is_tensor(out):
        return fn(out)
    if isinstance(out, tuple):
        first = out[0]
        new = fn(first)
        if len(out) == 2 and isinstance(out[1], tuple) and out[1] and out[1][-1] is first:
            return new, out[1][:-1] + (new,)  # a down block's last skip is its output: keep them one
        return (new, *out[1:])
    if hasattr(out, "sample"):
        out.sample = fn(out.sample)
        return out
    raise TypeError(f"cannot attach a module after an output of type {type(out).__name__}")


class VideoUNet(nn.Module):
    """An inflated image UNet. forward(sample (B, C, F, H, W), t, text (B, L, D)) -> (B, C, F, H, W)."""

    def __init__(self, unet: UNet2DConditionModel):
        super().__init__()
        self.unet = unet
        self.ctx = FrameContext()
        self.added = nn.ModuleDict()
        self._hooks: list = []
        self.mode: str | None = None
        self.noise_share = 0.0  # ρ of the mixed noise (shared over frames) the tuned modules were trained on

    @property
    def config(self):
        return self.unet.config

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    @property
    def device(self) -> torch.device:
        return self.unet.device

    # -- attaching modules -------------------------------------------------------------------------
    def _register(self, site: str, tag: str, module: nn.Module) -> nn.Module:
        key = f"{site}.{tag}".replace(".", "__")
        if key in self.added:
            raise ValueError(f"a module is already attached at {site} ({tag})")
        self.added[key] = module
        return self.unet.get_submodule(site)

    def add_after(self, site: str, module: nn.Module, tag: str = "after"):
        """Run `module` on the output of UNet submodule `site` (module returns the new output)."""
        target = self._register(site, tag, module)
        self._hooks.append(target.register_forward_hook(lambda m, args, out: _map_primary(out, module)))

    def add_residual(self, site: str, module: nn.Module, tag: str, parallel: bool = False):
        """out + module(out) (after `site`), or out + module(input) when `parallel` (beside `site`)."""
        target = self._register(site, tag, module)

        def hook(m, args, kwargs, out):
            source = (args[0] if args else next(iter(kwargs.values()))) if parallel else out
            return out + module(source)

        self._hooks.append(target.register_forward_hook(hook, with_kwargs=True))

    def sites(self, kind: type | tuple[type, ...]) -> list[tuple[str, nn.Module]]:
        """Named UNet submodules of a type, in forward order (e.g. every ResnetBlock2D)."""
        return [(n, m) for n, m in self.unet.named_modules() if isinstance(m, kind)]

    def block_sites(self) -> list[tuple[str, nn.Module]]:
        """Every down, mid and up block: where Inflation puts its temporal adapter."""
        blocks = [(f"down_blocks.{i}", b) for i, b in enumerate(self.unet.down_blocks)]
        if self.unet.mid_block is not None:
            blocks.append(("mid_block", self.unet.mid_block))
        return blocks + [(f"up_blocks.{i}", b) for i, b in enumerate(self.unet.up_blocks)]

    # -- running ---------------------------------------------------------------------------------
    def forward(self, sample: torch.Tensor, timestep, encoder_hidden_states: torch.Tensor,
                class_labels: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        if sample.ndim != 5:
            raise ValueError(f"a video UNet takes (B, C, F, H, W), got {tuple(sample.shape)}")
        b, f = sample.shape[0], sample.shape[2]
        self.ctx.frames, self.ctx.text = f, encoder_hidden_states
        x = rearrange(sample, "b c f h w -> (b f) c h w")
        t = torch.as_tensor(timestep, device=sample.device)
        if t.ndim == 1 and t.shape[0] == b:
            t = t.repeat_interleave(f)
        text = repeat(encoder_hidden_states, "b l d -> (b f) l d", f=f)
        if class_labels is not None and class_labels.ndim >= 1 and class_labels.shape[0] == b:
            class_labels = class_labels.repeat_interleave(f, dim=0)
        out = self.unet(x, t, text, class_labels=class_labels, return_dict=False, **kwargs)[0]
        return rearrange(out, "(b f) c h w -> b c f h w", f=f)

    # -- parameters ------------------------------------------------------------------------------
    def added_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.added.state_dict().items()}

    def count_parameters(self) -> dict[str, int]:
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return {"total": total, "trainable": trainable, "added": sum(p.numel() for p in self.added.parameters())}


def inflate(unet: UNet2DConditionModel) -> VideoUNet:
    """Wrap an image UNet as a video UNet with shared weights (nothing added yet: zero-shot)."""
    return VideoUNet(unet)
