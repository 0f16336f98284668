"""Tuning modes: each a named recipe of what is added to an inflated UNet and what trains.

| mode | adds | trains |
|---|---|---|
| zero-shot | nothing (inflation only) | nothing |
| full | Inflation's frame-wise temporal attention after every UNet block | everything |
| temporal | the same adapter | the adapter only (Inflation §3.2) |
| simda | spatial adapters after self-attention and beside the FFN, a depth-wise 3D-conv temporal adapter after every resnet, latent-shift self-attention (SimDA §3.3) | the adapters |
| ff-conv1d-attn1d-blocks | a Temporal Conv1D block after every resnet, a Temporal Attn1D block after every transformer (FusionFrames §4.1) | the blocks |
| ff-conv3d-attn1d-blocks | Conv3D (3×3×3, bottlenecked) blocks instead of Conv1D | the blocks |
| ff-conv1d-attn3d-blocks | Attn3D (2×2×T windows) blocks instead of Attn1D | the blocks |
| ff-conv1d-attn1d-layers | single temporal conv / attention layers inside the spatial blocks (the mixed design) | the layers |
| lora | Inflation's temporal adapter plus LoRA (peft, rank 8) on the spatial attention projections | adapter and LoRA |

SimDA's parts can be switched off for its ablation: `apply_mode(video, "simda", ablate={"lsa", "ta", "attn_adapter", "ffn_adapter"})`.
Every temporal attention reads the prompt (cross-attention to the text states); `ablate={"text"}` removes that.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from diffusers.models.attention import BasicTransformerBlock
from diffusers.models.resnet import ResnetBlock2D
from diffusers.models.transformers.transformer_2d import Transformer2DModel
from peft import LoraConfig

from ..models.attention import LatentShiftAttnProcessor
from ..models.inflate import VideoUNet
from ..models.temporal import SpatialAdapter, TemporalAdapter, TemporalAttention, TemporalConv


def _channels(module) -> int:
    if isinstance(module, ResnetBlock2D):
        return module.out_channels
    if isinstance(module, Transformer2DModel):
        return module.config.in_channels
    if isinstance(module, BasicTransformerBlock):
        return module.norm1.normalized_shape[0]
    outs = [m for m in module.modules() if isinstance(m, ResnetBlock2D)]
    return outs[-1].out_channels  # a UNet block: its last resnet's channels


def _temporal_attention(video: VideoUNet, channels: int, ablate: set, window: int = 1) -> TemporalAttention:
    """Attention over frames that also reads the prompt, unless ablated with "text" (see TemporalAttention)."""
    dim = video.config.encoder_hid_dim or video.config.cross_attention_dim  # IF-style UNets project T5 states inside
    dim = dim[0] if isinstance(dim, (list, tuple)) else dim
    return TemporalAttention(channels, video.ctx, window=window, text_dim=None if "text" in ablate else dim)


def _inflation_adapter(video: VideoUNet, ablate: set):
    for site, block in video.block_sites():
        video.add_after(site, _temporal_attention(video, _channels(block), ablate), "temporal_attention")


def _simda(video: VideoUNet, ablate: set):
    if "ta" not in ablate:
        for site, res in video.sites(ResnetBlock2D):
            video.add_after(site, TemporalAdapter(res.out_channels, video.ctx), "temporal_adapter")
    for site, block in video.sites(BasicTransformerBlock):
        c = _channels(block)
        if "attn_adapter" not in ablate:
            video.add_residual(f"{site}.attn1", SpatialAdapter(c), "attn_adapter")
        if "ffn_adapter" not in ablate:
            video.add_residual(f"{site}.ff", SpatialAdapter(c), "ffn_adapter", parallel=True)
        if "lsa" not in ablate:
            block.attn1.set_processor(LatentShiftAttnProcessor(video.ctx))


def _fusion_blocks(conv3d: bool = False, attn3d: bool = False):
    def build(video: VideoUNet, ablate: set):
        for site, res in video.sites(ResnetBlock2D):
            video.add_after(site, TemporalConv(res.out_channels, video.ctx, spatial=conv3d), "temporal_conv")
        for site, tr in video.sites(Transformer2DModel):
            video.add_after(site, _temporal_attention(video, _channels(tr), ablate, window=2 if attn3d else 1),
                            "temporal_attn")
    return build


def _fusion_layers(video: VideoUNet, ablate: set):
    """Temporal layers inside the spatial blocks: after each resnet's first conv, after each self-attention."""
    for site, res in video.sites(ResnetBlock2D):
        video.add_after(f"{site}.conv1", TemporalConv(res.out_channels, video.ctx, block=False), "temporal_conv")
    for site, block in video.sites(BasicTransformerBlock):
        video.add_after(f"{site}.attn1", _TokensAsFrames(_temporal_attention(video, _channels(block), ablate)),
                        "temporal_attn")


class _TokensAsFrames(nn.Module):
    """Run a '(b f) c h w' temporal module on attention tokens '(b f) (h w) c' (square maps)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, tokens):
        n, t, c = tokens.shape
        side = int(round(t ** 0.5))
        x = tokens.transpose(1, 2).reshape(n, c, side, side)
        return self.inner(x).reshape(n, c, t).transpose(1, 2)


def _lora(video: VideoUNet, ablate: set, rank: int = 8):
    _inflation_adapter(video, ablate)
    video.unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                                      target_modules=["to_q", "to_k", "to_v", "to_out.0"]))


@dataclass(frozen=True)
class Mode:
    name: str
    summary: str
    build: Callable[[VideoUNet, set], None] = lambda video, ablate: None
    trains: str = "added"  # "added", "all", "none", or "added+lora"


MODES = {m.name: m for m in [
    Mode("zero-shot", "inflated image UNet, nothing trained", trains="none"),
    Mode("full", "Inflation's temporal adapter; every weight trains", _inflation_adapter, "all"),
    Mode("temporal", "Inflation's frame-wise temporal attention adapter only", _inflation_adapter),
    Mode("simda", "SimDA: spatial + depth-wise 3D-conv temporal adapters, latent-shift attention", _simda),
    Mode("ff-conv1d-attn1d-blocks", "FusionFrames: Temporal Conv1D + Attn1D blocks", _fusion_blocks()),
    Mode("ff-conv3d-attn1d-blocks", "FusionFrames: Temporal Conv3D + Attn1D blocks", _fusion_blocks(conv3d=True)),
    Mode("ff-conv1d-attn3d-blocks", "FusionFrames: Temporal Conv1D + Attn3D (2×2×T) blocks", _fusion_blocks(attn3d=True)),
    Mode("ff-conv1d-attn1d-layers", "FusionFrames' baseline: temporal layers mixed into spatial blocks", _fusion_layers),
    Mode("lora", "Inflation's temporal adapter + LoRA on spatial attention (peft)", _lora, "added+lora"),
]}


def apply_mode(video: VideoUNet, name: str, ablate: set | None = None) -> VideoUNet:
    """Add the mode's modules to a fresh VideoUNet and set which parameters train."""
    if name not in MODES:
        raise ValueError(f"unknown mode {name!r}; choose one of: {', '.join(MODES)}")
    if video.mode is not None:
        raise ValueError(f"this video UNet already has mode {video.mode!r}; inflate a fresh one")
    mode = MODES[name]
    mode.build(video, set(ablate or ()))
    video.mode = name
    for pname, p in video.named_parameters():
        if mode.trains == "all":
            p.requires_grad_(True)
        elif mode.trains == "none":
            p.requires_grad_(False)
        else:
            p.requires_grad_(pname.startswith("added.") or ("lora" in mode.trains and "lora_" in pname))
    return video
