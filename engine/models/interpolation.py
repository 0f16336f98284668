"""Interpolation models, T keyframes → 4T−3 frames, both made from the image base. They work where the base does:
on pixels for a pixel (IF-style) base, on its VAE latents for a latent (SD-style) one (C below is 3 or the
latent channels; the pipelines encode the keyframes and decode the result, engine/pipelines/interpolate.py).

- `GroupInterpolationUNet` (FusionFrames §4.2 and appendix 9): one pass predicts the three middle frames of a
  keyframe pair. Its input conv takes the three noisy middle frames and the two keyframes concatenated on
  channels, [z¹, z², z³, c¹, c²] (15 for RGB, 5C in general), the base's weights on z¹ and zeros elsewhere; its output conv
  is the base's replicated three times, so at initialisation it predicts three copies of the base's frame.
  The pairs of a clip are its "frames": a 3×1×1 temporal conv after every resnet conv mixes neighbouring
  pairs, blended in by a learned α (out = spatial + α·temporal; the conv starts at zero). Text conditioning
  is gone (the base reads the empty prompt, kept as a buffer); the skip-frame s and the keyframes'
  perturbation level tp are embedded instead and added to the timestep embedding (zero-initialised). The
  three middle frames' noise may share one draw (`noise_share` ρ, PYoCo's mixed prior; the trainer uses
  ρ = 1, see engine/training/interpolation.py), so that the three copies it starts with are wrong only by
  the motion.
- `MaskedInterpolationUNet` (MPL-Video §3.4): the inflated video UNet with a tuning mode's temporal modules
  (default the keyframe model's, FusionFrames' Conv1D + Attn1D blocks) sees the whole 4T−3-frame clip; four
  channels join its input: the masked RGB clip (keyframes in place, zeros between) and the mask (1 on
  keyframes). The keyframes' noise-augmentation level is embedded the same way. Every weight trains.

Residual form (`residual=True`, what `flipbook train-interp` trains by default). Either model may denoise, instead
of the frames, what linear blending of the keyframes misses: frames − blend, predicted as x0 (prediction_type
"sample"), with its output conv zero-initialised, so that an untrained model *is* the blend baseline and training
can only add motion. This departs from both papers (which diffuse the frames, FusionFrames with v-prediction) for
the reason the SR model does (engine/models/sr.py): on 2 CPU cores a model gets ~10³ steps. The group model
trained the papers' way for 2000 steps × 4 clips drew its in-between frames darker and more saturated than the
keyframes over the whole frame, with any sampler (DDIM or DPM-Solver++, clipped or not: 20–28 dB where blending
scores 34–39), because it had to relearn each frame's colours from its keyframe channels.

Both are diffusers models (`save_pretrained` / `from_pretrained`); `save_interpolator` writes a folder with
the model in fp16 and its noise schedule, whole or not at all.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from diffusers import ConfigMixin, DDIMScheduler, ModelMixin, UNet2DConditionModel
from diffusers.configuration_utils import register_to_config
from diffusers.models.embeddings import get_timestep_embedding
from diffusers.models.resnet import ResnetBlock2D
from diffusers.utils import logging as diffusers_logging
from einops import rearrange
from torch import nn

from ..files import atomic_folder, readable
from ..registry import ASSETS, INTERP_RECORD, is_tuned_folder
from ..tuning import apply_mode
from .inflate import inflate
from .temporal import TemporalModule, _zero
from .text import encode_prompts
from ..tuning import load_tuned, tuned_record

FACTOR = 4           # output frames per keyframe gap: T keyframes → 4T − 3 frames
MIDDLE = FACTOR - 1  # frames the group model predicts between two keyframes
SKIP_SCALE = 100.0   # skip-frame values 1, 2, … are spread like timesteps before their sinusoidal embedding
ASSET = ASSETS / "interp"
KEYFRAME_MODE = "ff-conv1d-attn1d-blocks"  # the embedded keyframe model's mode: the masked model starts from it


def output_frames(keyframes: int) -> int:
    return FACTOR * keyframes - (FACTOR - 1)


def hold_keyframes(keys: torch.Tensor) -> torch.Tensor:
    """Baseline: keyframes (T, C, H, W) -> 4T−3 frames, each keyframe held until the next."""
    return torch.cat([keys[:-1].repeat_interleave(FACTOR, 0), keys[-1:]])


def blend_keyframes(keys: torch.Tensor) -> torch.Tensor:
    """Baseline: keyframes (T, C, H, W) -> 4T−3 frames, linear in time between neighbouring keyframes."""
    a = (torch.arange(FACTOR, dtype=keys.dtype, device=keys.device) / FACTOR).view(1, FACTOR, 1, 1, 1)
    gaps = (1 - a) * keys[:-1, None] + a * keys[1:, None]  # g 4 c h w
    return torch.cat([gaps.flatten(0, 1), keys[-1:]])


def blend_middles(pairs: torch.Tensor) -> torch.Tensor:
    """Each gap's pair [c¹, c²] (B, 2C, G, H, W) -> its three middle frames blended linearly in time, [z¹, z², z³]
    (B, 3C, G, H, W): the blend baseline in the group model's slots, what a residual model adds to."""
    first, second = pairs.chunk(2, 1)
    return torch.cat([(1 - m / FACTOR) * first + (m / FACTOR) * second for m in range(1, FACTOR)], 1)


def blend_clip(keys: torch.Tensor) -> torch.Tensor:
    """Keyframes (B, C, T, H, W) -> the blended clip (B, C, 4T−3, H, W): what a residual masked model adds to."""
    return join_frames(keys, blend_middles(keyframe_pairs(keys)))


def keyframe_pairs(keys: torch.Tensor) -> torch.Tensor:
    """Keyframes (B, C, T, H, W) -> each gap's two keyframes on channels, [c¹, c²]: (B, 2C, T−1, H, W)."""
    return rearrange(torch.stack([keys[:, :, :-1], keys[:, :, 1:]], 1), "b two c g h w -> b (two c) g h w")


def middle_frames(clip: torch.Tensor) -> torch.Tensor:
    """A clip (B, C, 4T−3, H, W) -> the three frames inside each gap on channels, [z¹, z², z³]: (B, 3C, T−1, H, W)."""
    gaps = rearrange(clip[:, :, :-1], "b c (g k) h w -> b c g k h w", k=FACTOR)[:, :, :, 1:]
    return rearrange(gaps, "b c g m h w -> b (m c) g h w")


def join_frames(keys: torch.Tensor, middle: torch.Tensor) -> torch.Tensor:
    """The inverse of `middle_frames`: keyframes (B, C, T, H, W) and middles (B, 3C, T−1, H, W) -> (B, C, 4T−3, H, W)."""
    middle = rearrange(middle, "b (m c) g h w -> b c g m h w", m=MIDDLE)
    gaps = torch.cat([keys[:, :, :-1, None], middle], 3)
    return torch.cat([rearrange(gaps, "b c g k h w -> b c (g k) h w"), keys[:, :, -1:]], 2)


def slots_as_frames(middle: torch.Tensor) -> torch.Tensor:
    """(B, 3C, G, H, W) -> (B, C, 3, G·H, W): the three middle frames on the frame axis, where `frame_noise`
    and the losses share noise between frames."""
    return rearrange(middle, "b (m c) g h w -> b c m (g h) w", m=MIDDLE)


def frames_as_slots(x: torch.Tensor, gaps: int) -> torch.Tensor:
    """The inverse of `slots_as_frames`."""
    return rearrange(x, "b c m (g h) w -> b (m c) g h w", g=gaps)


def level_embedding(values: list[torch.Tensor], dim: int) -> torch.Tensor:
    """Sinusoidal features of per-sample scalars (B,) each, concatenated: (B, len(values)·dim); the UNet
    projects them (class_embed_type 'projection') and adds them to its timestep embedding."""
    return torch.cat([get_timestep_embedding(v.float().flatten(), dim, flip_sin_to_cos=True, downscale_freq_shift=0)
                      for v in values], dim=1)


def noise_augment(x: torch.Tensor, level: torch.Tensor, noise: torch.Tensor, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """Conditioning frames (B, …) after `level` (B,) forward-diffusion steps: √ᾱ·x + √(1−ᾱ)·noise, with ᾱ
    after 0 steps = 1 (level 0 leaves them as they are)."""
    level = torch.as_tensor(level, device=x.device).long().expand(x.shape[0])
    alpha = torch.cat([torch.ones(1), alphas_cumprod.float().cpu()])[level.cpu()].to(x.device, x.dtype)
    alpha = alpha.view(-1, *([1] * (x.ndim - 1)))
    return alpha.sqrt() * x + (1 - alpha).sqrt() * noise.to(x.dtype)


def _widened_config(unet: UNet2DConditionModel, in_channels: int, out_channels: int, conditions: int) -> dict:
    config = {k: v for k, v in unet.config.items() if not k.startswith("_")}
    return {**config, "in_channels": in_channels, "out_channels": out_channels, "class_embed_type": "projection",
            "projection_class_embeddings_input_dim": conditions * config["block_out_channels"][0]}


@torch.no_grad()
def load_inflated_weights(target: UNet2DConditionModel, base: UNet2DConditionModel, out_copies: int):
    """Copy the base UNet into a widened one: conv_in's extra input channels are zero (the base's weights on
    the first ones), conv_out is the base's (its ε/v part) repeated `out_copies` times, and the level
    embedding's output layer is zero, so the widened UNet starts as the base."""
    state = {k: v for k, v in base.state_dict().items() if not k.startswith(("conv_in.", "conv_out.", "class_embedding."))}
    channels = base.config.in_channels
    w_in = torch.zeros_like(target.conv_in.weight)
    w_in[:, :channels] = base.conv_in.weight
    state["conv_in.weight"], state["conv_in.bias"] = w_in, base.conv_in.bias.clone()
    state["conv_out.weight"] = base.conv_out.weight[:channels].repeat(out_copies, 1, 1, 1)
    state["conv_out.bias"] = base.conv_out.bias[:channels].repeat(out_copies)
    own = target.state_dict()
    for k in own:
        if k.startswith("class_embedding."):
            state[k] = own[k] if "linear_1" in k else torch.zeros_like(own[k])
    target.load_state_dict(state)


def null_text_states(base) -> torch.Tensor:
    """The base's text states for the empty prompt (1, L, D): what its cross-attention reads from now on."""
    with torch.no_grad():
        return encode_prompts(base.tokenizer, base.text_encoder, [""]).float().cpu()


class MergedTemporalConv(TemporalModule):
    """FusionFrames' temporal layer after a spatial conv: x + α·conv3×1×1(x) over frames, with a learned merge
    parameter α. The conv starts at zero (so the layer is the identity) and α at 1: a zero α would hold back
    the conv's gradient until α itself had grown, which Adam does a learning rate a step."""

    def __init__(self, channels: int, ctx):
        super().__init__(ctx)
        self.conv = _zero(nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0)))
        self.alpha = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = rearrange(x, "(b f) c h w -> b c f h w", f=self.frames)
        return x + self.alpha * rearrange(self.conv(v), "b c f h w -> (b f) c h w")


class _Interpolator(ModelMixin, ConfigMixin):
    """What both models share: the inflated UNet `self.video`, the empty prompt's states, the level embedding."""

    def _common(self, unet_config: dict, text_tokens: int, text_dim: int):
        self.video = inflate(UNet2DConditionModel.from_config(unet_config))
        self.register_buffer("null_text", torch.zeros(1, text_tokens, text_dim))

    def start_residual(self):
        """The residual form: the output conv at zero, so the model predicts x0 = 0 (nothing added to the blend)."""
        _zero(self.video.unet.conv_out)
        return self

    @property
    def channels(self) -> int:
        return self.config.channels

    def run(self, x: torch.Tensor, timestep, levels: list[torch.Tensor]) -> torch.Tensor:
        b = x.shape[0]
        t = torch.as_tensor(timestep, device=x.device)
        t = t.expand(b) if t.ndim == 0 else t
        dim = self.config.unet_config["block_out_channels"][0]
        labels = level_embedding([torch.as_tensor(v, device=x.device).expand(b) for v in levels], dim)
        return self.video(x, t, self.null_text.expand(b, -1, -1).to(x.dtype), class_labels=labels.to(x.dtype))


class GroupInterpolationUNet(_Interpolator):
    """forward(sample (B, 3C, G, H, W): the noisy middle frames of G keyframe pairs, timestep, keyframes
    (B, 2C, G, H, W): each pair's two keyframes, level (B,), skip (B,)) -> v for the middle frames (with `residual`:
    x0 of middle frames − `blend_middles`)."""

    @register_to_config
    def __init__(self, unet_config: dict, channels: int = 3, text_tokens: int = 24, text_dim: int = 64,
                 noise_share: float = 0.0, residual: bool = False):
        super().__init__()
        self._common(unet_config, text_tokens, text_dim)
        for site, res in self.video.sites(ResnetBlock2D):
            for conv in ("conv1", "conv2"):
                self.video.add_after(f"{site}.{conv}", MergedTemporalConv(res.out_channels, self.video.ctx), "temporal")

    @classmethod
    def from_base(cls, base, noise_share: float = 0.0, residual: bool = False) -> "GroupInterpolationUNet":
        """`noise_share` ρ: the three middle frames' noise is √ρ·(one draw) + √(1−ρ)·(their own), in training
        and sampling (see `frame_noise`). `residual`: the residual form (the module's docstring)."""
        c = base.channels
        null = null_text_states(base)
        model = cls(_widened_config(base.unet, (MIDDLE + 2) * c, MIDDLE * c, 2), c, null.shape[1], null.shape[2],
                    noise_share, residual)
        load_inflated_weights(model.video.unet, base.unet, MIDDLE)
        model.null_text.copy_(null)
        return model.start_residual() if residual else model

    def forward(self, sample, timestep, keyframes, level, skip) -> torch.Tensor:
        levels = [torch.as_tensor(level), torch.as_tensor(skip) * SKIP_SCALE]
        return self.run(torch.cat([sample, keyframes.to(sample.dtype)], 1), timestep, levels)


class MaskedInterpolationUNet(_Interpolator):
    """forward(sample (B, C, F, H, W): the noisy clip, timestep, context (B, C, F, H, W): the clip whose
    keyframes count, mask (B, 1, F, H, W): 1 on keyframes, level (B,)) -> v (or ε, as the keyframe model) for
    every frame (with `residual`: x0 of the clip − `blend_clip`)."""

    @register_to_config
    def __init__(self, unet_config: dict, mode: str = KEYFRAME_MODE, channels: int = 3, text_tokens: int = 24,
                 text_dim: int = 64, residual: bool = False):
        super().__init__()
        self._common(unet_config, text_tokens, text_dim)
        apply_mode(self.video, mode)
        self.video.requires_grad_(True)  # MPL-Video: every parameter fine-tunes

    @classmethod
    def from_base(cls, base, tuned: str | Path | None = None, mode: str = KEYFRAME_MODE,
                  residual: bool = False) -> "MaskedInterpolationUNet":
        """Start from the keyframe model: the base and a tuned mode's temporal modules (`tuned`; without one,
        the mode's modules start at identity). `residual`: the residual form (the module's docstring)."""
        c = base.channels
        null = null_text_states(base)
        if is_tuned_folder(tuned):
            mode = tuned_record(tuned)["mode"]
        model = cls(_widened_config(base.unet, 2 * c + 1, c, 1), mode, c, null.shape[1], null.shape[2], residual)
        keyframe_model = load_tuned(base.unet, tuned, mode)
        load_inflated_weights(model.video.unet, keyframe_model.unet, 1)
        model.video.added.load_state_dict(keyframe_model.added.state_dict())
        model.null_text.copy_(null)
        return model.start_residual() if residual else model

    def forward(self, sample, timestep, context, mask, level) -> torch.Tensor:
        mask = mask.to(sample.dtype).expand(sample.shape[0], 1, *sample.shape[2:])
        x = torch.cat([sample, context.to(sample.dtype) * mask, mask], 1)
        return self.run(x, timestep, [level])


METHODS = {"group": GroupInterpolationUNet, "masked": MaskedInterpolationUNet}


def save_interpolator(model: _Interpolator, scheduler_config: dict, out: str | Path, record: dict | None = None,
                      extras=()):
    """Write OUT/{unet (fp16 safetensors), scheduler, interp.json} whole or not at all."""
    method = next(k for k, v in METHODS.items() if isinstance(model, v))
    with atomic_folder(out, keep=()) as tmp:
        dtype, verbosity = model.dtype, diffusers_logging.get_verbosity()
        diffusers_logging.set_verbosity_error()  # .to() warns about fp32 modules these models do not have
        try:
            model.to(torch.float16).save_pretrained(tmp / "unet", safe_serialization=True)
        finally:
            model.to(dtype)
            diffusers_logging.set_verbosity(verbosity)
        DDIMScheduler.from_config(scheduler_config).save_pretrained(tmp / "scheduler")
        (tmp / INTERP_RECORD).write_text(json.dumps({"method": method, **(record or {})}, indent=1))
        for extra in extras:
            if Path(extra).is_file():
                shutil.copy2(extra, tmp / Path(extra).name)
        readable(tmp)  # diffusers writes weights 0600; an asset is readable like any other file


def interp_record(folder: str | Path) -> dict:
    path = Path(folder) / INTERP_RECORD
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not an interpolation model (no interp.json); train one with "
                                "`flipbook train-interp --method group` (or masked)")
    return json.loads(path.read_text())


def load_interpolator(folder: str | Path, dtype=torch.float32) -> tuple[_Interpolator, dict, dict]:
    """(model, scheduler config, record) from a folder `save_interpolator` wrote."""
    record = interp_record(folder)
    cls = METHODS.get(record.get("method"))
    if cls is None:
        raise ValueError(f"{folder}: unknown interpolation method {record.get('method')!r}")
    model = cls.from_pretrained(Path(folder) / "unet", torch_dtype=dtype, use_safetensors=True, low_cpu_mem_usage=False)
    scheduler = DDIMScheduler.load_config(Path(folder) / "scheduler")
    return model.eval(), scheduler, record
