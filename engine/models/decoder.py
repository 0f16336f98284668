"""A temporal video decoder (FusionFrames §4.3, Table 3): the image VAE's decoder with temporal layers after
every resnet block, so that neighbouring frames are decoded consistently.

Frames fold into the batch for every spatial layer ('b c f h w -> (b f) c h w'); after each resnet of the mid
block and the up blocks, a temporal layer unfolds them ('(b f) c h w -> b c f h w'), mixes over time and adds a
residual whose last projection starts at zero. Variants (Table 3's rows that fine-tune the temporal layers):

| variant | after every decoder resnet |
|---|---|
| conv1d | a 3×1×1 convolution |
| conv3d | a 3×3×3 convolution (full width) |
| conv1d-attn | a 3×1×1 convolution, then attention over frames at every position |
| conv3d-attn | a 3×3×3 convolution, then attention over frames |

The clip's ends are decoded with their own latent repeated beyond them (`edge_frames`, 'b c f h w' padded in f by
replication, then cropped), as a still clip would go on: otherwise the temporal layers' zero padding makes the
first and last frames differ from the middle ones, a flicker at every segment boundary (bench/results/decoder.md:
one edge frame took judder error from 0.086 to 0.028 at no cost in PSNR). With `still=True` (config) the temporal
convolutions pad with edge frames at every layer and the attention has no frame positions, so a still clip decodes
still (to float rounding) through any depth of layers, trained or not: folders saved before it had zero padding and positions.

An untrained temporal decoder is therefore the image decoder frame by frame, exactly (tested bit for bit). The
spatial weights start as a copy of the VAE's; training (`engine.training.decoder`) tunes the temporal layers alone
or the whole decoder with them (Table 3's "Finetune: Decoder" rows), never the encoder, and the folder records the
hash of the VAE it came from, so it is never paired with another encoder.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.models.autoencoders.vae import Decoder
from diffusers.models.resnet import ResnetBlock2D
from einops import rearrange
from torch import nn

from ..registry import ASSETS, DECODER_RECORD, decoders_here
from .base import resolve_device, resolve_dtype
from .temporal import FrameContext, TemporalAttention, TemporalConv
from ..sidecar import model_hash

ASSET = ASSETS / "decoder"
RECORD = DECODER_RECORD
VARIANTS = {"conv1d": (False, False), "conv3d": (True, False), "conv1d-attn": (False, True), "conv3d-attn": (True, True)}


class TemporalLayers(nn.Sequential):
    """A temporal convolution (3×1×1 or 3×3×3), then optionally attention over frames; each x + f(x), f zero first.
    `still=True`: the convolution pads with edge frames and the attention has no frame positions (the convolution
    before it gives order), so a still clip decodes still (to float rounding) whatever the weights."""

    def __init__(self, channels: int, ctx: FrameContext, spatial: bool, attention: bool, still: bool = False):
        layers = [TemporalConv(channels, ctx, spatial=spatial, block=False, bottleneck=False,
                               padding="replicate" if still else "zeros")]
        if attention:
            layers.append(TemporalAttention(channels, ctx, positions=not still))
        super().__init__(*layers)


def _after(layers: TemporalLayers):
    """A forward hook running `layers` on a resnet's output. They read a contiguous copy (after the mid block's
    attention the output is channels-last, and torch 2.13's CPU GroupNorm backward segfaults on such an input when
    only its affine weights need gradients); the result takes the output's own memory layout back, so that the
    spatial layers after it compute exactly what they compute in the image decoder."""
    return lambda module, args, out: torch.empty_like(out).copy_(layers(out.contiguous()))


class TemporalDecoder(ModelMixin, ConfigMixin):
    """forward(latents (B, C, F, h, w), scaled as the VAE's `encode_frames` makes them) -> frames (B, 3, F, H, W)."""

    @register_to_config
    def __init__(self, latent_channels: int = 4, out_channels: int = 3, up_block_types=("UpDecoderBlock2D",) * 3,
                 block_out_channels=(16, 32, 64), layers_per_block: int = 1, norm_num_groups: int = 8,
                 act_fn: str = "silu", mid_block_add_attention: bool = True, use_post_quant_conv: bool = True,
                 scaling_factor: float = 1.0, shift_factor: float | None = None, variant: str = "conv3d-attn",
                 edge_frames: int = 1, still: bool = False):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown temporal decoder {variant!r}; choose one of: {', '.join(VARIANTS)}")
        spatial, attention = VARIANTS[variant]
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1) if use_post_quant_conv else nn.Identity()
        self.decoder = Decoder(in_channels=latent_channels, out_channels=out_channels, up_block_types=up_block_types,
                               block_out_channels=block_out_channels, layers_per_block=layers_per_block,
                               norm_num_groups=norm_num_groups, act_fn=act_fn,
                               mid_block_add_attention=mid_block_add_attention)
        self.ctx = FrameContext()  # a plain object: the frame count of the current call, shared by the layers
        self.temporal = nn.ModuleDict()
        for site, res in self.decoder.named_modules():
            if isinstance(res, ResnetBlock2D):
                layers = TemporalLayers(res.out_channels, self.ctx, spatial, attention, still)
                self.temporal[site.replace(".", "__")] = layers
                res.register_forward_hook(_after(layers))

    @classmethod
    def from_vae(cls, vae, variant: str = "conv3d-attn", still: bool = False) -> "TemporalDecoder":
        """The VAE's decoder with `variant`'s temporal layers added (zero: the image decoder, frame by frame)."""
        c = vae.config
        decoder = cls(c.latent_channels, c.out_channels, tuple(c.up_block_types), tuple(c.block_out_channels),
                      c.layers_per_block, c.norm_num_groups, c.act_fn, c.get("mid_block_add_attention", True),
                      c.get("use_post_quant_conv", True), c.scaling_factor, c.shift_factor, variant, still=still)
        decoder.decoder.load_state_dict(vae.decoder.state_dict())
        if c.get("use_post_quant_conv", True):
            decoder.post_quant_conv.load_state_dict(vae.post_quant_conv.state_dict())
        decoder = decoder.to(vae.device)
        return decoder if vae.dtype == torch.float32 else decoder.to(dtype=vae.dtype)

    def temporal_parameters(self) -> list[nn.Parameter]:
        return list(self.temporal.parameters())

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        if latents.ndim != 5:
            raise ValueError(f"a temporal decoder takes latents (B, C, F, h, w), got {tuple(latents.shape)}")
        n, edge = latents.shape[2], self.config.edge_frames
        latents = torch.cat([latents[:, :, :1]] * edge + [latents] + [latents[:, :, -1:]] * edge, dim=2)
        self.ctx.frames = latents.shape[2]
        shift = self.config.shift_factor or 0.0
        z = rearrange(latents, "b c f h w -> (b f) c h w") / self.config.scaling_factor + shift
        frames = self.decoder(self.post_quant_conv(z.to(self.dtype)))
        return rearrange(frames.to(latents.dtype), "(b f) c h w -> b c f h w", f=latents.shape[2])[:, :, edge:edge + n]


def save_decoder(decoder: TemporalDecoder, folder: Path, record: dict):
    """config.json and fp16 safetensors (the whole decoder: spatial copy and temporal layers) and decoder.json."""
    dtype = decoder.dtype
    decoder.half().save_pretrained(folder, safe_serialization=True)
    decoder.float() if dtype == torch.float32 else decoder.to(dtype=dtype)
    (folder / RECORD).write_text(json.dumps({"variant": decoder.config.variant, **record}, indent=1))


def load_decoder(folder: str | Path, vae=None, device="cpu", dtype=torch.float32) -> tuple[TemporalDecoder, dict]:
    """A temporal decoder folder (or a variant name: assets/decoder/VARIANT) and its decoder.json; with `vae`,
    checked to have been made from that VAE."""
    folder = ASSET / folder if str(folder) in VARIANTS else Path(folder)
    if not (folder / RECORD).is_file():
        variant = folder.name if folder.name in VARIANTS else "conv3d-attn"
        raise FileNotFoundError(f"no temporal decoder at {folder}; train one with `flipbook train-decoder --variant "
                                f"{variant} --out {folder}` (or decode with the image decoder: --decoder image)")
    record = json.loads((folder / RECORD).read_text())
    if vae is not None and record.get("vae_hash") != model_hash(vae):
        raise ValueError(f"{folder} was made from another VAE than this expert's (hash {record.get('vae_hash')}, this "
                         f"one {model_hash(vae)}); train it again on this VAE with `flipbook train-decoder --vae ...`")
    decoder = TemporalDecoder.from_pretrained(str(folder), torch_dtype=resolve_dtype(dtype), use_safetensors=True)
    return decoder.to(resolve_device(device)).eval(), record


def available_decoders() -> list[str]:
    """The embedded temporal decoders that exist now, best first."""
    return decoders_here(ASSET)


def best_decoder(vae, device="cpu", dtype=torch.float32) -> tuple[TemporalDecoder | None, dict | None]:
    """The best embedded temporal decoder made from `vae`, or (None, None) when none is."""
    vae_hash = model_hash(vae)
    for variant in available_decoders():
        if json.loads((ASSET / variant / RECORD).read_text()).get("vae_hash") == vae_hash:
            return load_decoder(variant, vae, device, dtype)
    return None, None
