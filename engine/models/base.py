"""The embedded image base: an IF-like pixel-space UNet2DConditionModel on 32×32 RGB, with its text side.

`load_base` reads a diffusers-format folder (unet/, text_encoder/, tokenizer/, scheduler/), the embedded
one by default, so a real IF-style or SD-style folder loads through the same code.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DConditionModel
from transformers import AutoTokenizer, CLIPTextModel

ASSET = Path(__file__).resolve().parents[2] / "assets" / "base"


def base_unet(sample_size: int = 32, cross_attention_dim: int = 64, channels=(32, 64, 96)) -> UNet2DConditionModel:
    return UNet2DConditionModel(
        sample_size=sample_size, in_channels=3, out_channels=3, block_out_channels=channels, layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim, attention_head_dim=4, norm_num_groups=8)


def train_scheduler(prediction_type: str = "epsilon") -> DDPMScheduler:
    """The cosine-schedule (IF-like) noise schedule the embedded models train with; ε or v prediction."""
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type=prediction_type,
                         clip_sample=False)


@dataclass
class Base:
    unet: UNet2DConditionModel
    text_encoder: CLIPTextModel
    tokenizer: object
    scheduler: DDIMScheduler


def load_base(path: str | Path | None = None, device: str = "cpu", dtype=torch.float32) -> Base:
    path = Path(path or ASSET)
    if not (path / "unet" / "config.json").exists():
        raise FileNotFoundError(f"no base model at {path}; build one with `flipbook train-base --out {path}`")
    unet = UNet2DConditionModel.from_pretrained(path / "unet", torch_dtype=dtype, use_safetensors=True)
    text = CLIPTextModel.from_pretrained(path / "text_encoder", torch_dtype=dtype, use_safetensors=True)
    tok = AutoTokenizer.from_pretrained(path / "tokenizer")
    sched = DDIMScheduler.from_pretrained(path / "scheduler")
    return Base(unet.to(device).eval(), text.to(device).eval(), tok, sched)
