"""Image bases: the embedded IF-like pixel UNet on 32×32 RGB, or any diffusers-format checkpoint.

`load_base` is the one loader every pipeline and trainer uses. It reads a diffusers-format folder or hub id
(unet/, text_encoder/, tokenizer/, scheduler/, and vae/ for latent models) and returns a `Base`: the
UNet, text encoder, tokenizer, scheduler, the VAE (None for pixel models) and whether the model works in
latent or pixel space. The embedded base, an IF-style folder (T5 text encoder, pixel UNet, learned
variance) and an SD-1.x-style folder (CLIP, latent UNet, AutoencoderKL) load through the same code.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, DiffusionPipeline, UNet2DConditionModel
from transformers import AutoTokenizer, CLIPTextModel

from ..registry import ASSETS
from .vae import decode_frames, encode_frames

ASSET = ASSETS / "base"
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
TEXT_ENCODERS = ("CLIPTextModel", "CLIPTextModelWithProjection", "T5EncoderModel", "UMT5EncoderModel")
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


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


def model_output(pred: torch.Tensor, channels: int) -> torch.Tensor:
    """The ε / v part of a UNet's output: IF-style UNets also predict a variance ('learned_range'), in the
    second half of the channels, which DDIM, DPM-Solver++ and the losses here do not use."""
    return pred[:, :channels] if pred.shape[1] == 2 * channels else pred


@dataclass
class Base:
    unet: UNet2DConditionModel
    text_encoder: torch.nn.Module
    tokenizer: object
    scheduler: DDIMScheduler
    vae: AutoencoderKL | None = None
    source: str = ""

    @property
    def latent(self) -> bool:
        """True for latent models (SD-style: the UNet denoises VAE latents), False for pixel models (IF-style)."""
        return self.vae is not None

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1) if self.vae is not None else 1

    @property
    def channels(self) -> int:
        """Channels the UNet denoises (3 for pixel models, the VAE's latent channels otherwise)."""
        return self.unet.config.in_channels

    def noise_scheduler(self) -> DDPMScheduler:
        """The base's own training noise schedule (β schedule, prediction type): what fine-tuning must use
        (SD's scaled-linear schedule is not the embedded base's cosine one)."""
        return DDPMScheduler.from_config(self.scheduler.config)

    def encode(self, pixels: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """Clips (B, 3, F, H, W) in [-1, 1] to what the UNet denoises: themselves, or scaled VAE latents."""
        if self.vae is None:
            return pixels
        return encode_frames(self.vae, pixels, chunk)

    def decode(self, latents: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """The inverse of `encode`: (B, C, F, h, w) to clips (B, 3, F, H, W) in about [-1, 1]."""
        if self.vae is None:
            return latents
        return decode_frames(self.vae, latents, chunk)


def resolve_dtype(dtype) -> torch.dtype:
    """'fp32' | 'fp16' | 'bf16' | a torch dtype | None (fp32)."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(f"dtype {dtype} is not supported; use one of: {', '.join(DTYPES)}")
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of: {', '.join(DTYPES)}")
    return DTYPES[dtype]


def resolve_device(device) -> torch.device:
    """'cpu' | 'cuda' | 'cuda:N' | a torch device | None (cpu), checked against what this torch can see."""
    try:
        device = torch.device(device or "cpu")
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        build = "this torch build is CPU-only" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise ValueError(f"--device cuda: {build}; install a CUDA build of torch on a machine with a GPU, "
                         "or use --device cpu")
    if device.type not in ("cpu", "cuda", "mps", "xpu"):
        raise ValueError(f"unknown device {device}; use cpu or cuda")
    return device


def _not_found(source: str, reason: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"no model at {source!r}: {reason}. Pass a diffusers-format folder (unet/, text_encoder/, tokenizer/, "
        "scheduler/ and, for latent models, vae/; e.g. one written by a pipeline's save_pretrained), or a hub id "
        "such as 'stable-diffusion-v1-5/stable-diffusion-v1-5' on a machine with network access (HF_HUB_OFFLINE "
        "unset; to fetch ahead: `huggingface-cli download ID --local-dir DIR`, then --model DIR)")


def _locate(path) -> tuple[str, bool]:
    """(where to read from, whether it is a local folder)."""
    source = str(path)
    if Path(source).expanduser().is_dir():
        return str(Path(source).expanduser()), True
    if Path(source).expanduser().exists():
        raise _not_found(source, "it is a file, not a folder")
    if not HUB_ID.match(source) or source.startswith((".", "/", "~")):
        raise _not_found(source, "there is no such folder")
    return source, False


def _index(source: str, local: bool) -> dict:
    """model_index.json (what a pipeline's save_pretrained writes), or {} for Flipbook's own layout."""
    if local:
        index = Path(source) / "model_index.json"
        return json.loads(index.read_text()) if index.is_file() else {}
    try:
        return DiffusionPipeline.load_config(source)
    except Exception as e:  # offline, unknown id, gated repository: all read the same to the user
        raise _not_found(source, f"it is not a folder here and the hub could not provide it ({type(e).__name__}: "
                                 f"{str(e).splitlines()[0][:160]})") from None


def _load(cls, source: str, sub: str, **kwargs):
    try:
        return cls.from_pretrained(source, subfolder=sub, **kwargs)
    except (OSError, ValueError) as e:
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        hint = " (Flipbook loads safetensors weights only)" if "safetensors" in str(e) or ".bin" in str(e) else ""
        raise FileNotFoundError(f"cannot load {sub}/ of {source}: {first}{hint}") from None


def _text_encoder_class(source: str, local: bool, index: dict):
    name = (index.get("text_encoder") or [None, None])[1]
    if name is None and local:
        config = Path(source) / "text_encoder" / "config.json"
        if not config.is_file():
            raise _not_found(source, "it has no text_encoder/config.json")
        name = (json.loads(config.read_text()).get("architectures") or ["CLIPTextModel"])[0]
    name = name or "CLIPTextModel"
    if name not in TEXT_ENCODERS:
        raise ValueError(f"{source}: text encoder {name} is not supported; Flipbook reads {', '.join(TEXT_ENCODERS)}")
    return getattr(transformers, name)


def _check_unet(source: str, unet: UNet2DConditionModel, latent: bool):
    config = unet.config
    if config.addition_embed_type in ("text_time", "image", "text_image", "image_hint"):
        raise ValueError(f"{source}: this UNet needs {config.addition_embed_type!r} added conditioning (SDXL-style "
                         "size and pooled-text inputs), which Flipbook does not provide; use an SD-1.x/2.x-style "
                         "or IF-style model")
    if config.in_channels == 6 and config.class_embed_type == "timestep" and not latent:
        raise ValueError(f"{source}: this is a super-resolution UNet (IF stage II-style: 6 input channels, the noise "
                         "level as class labels), not an image base; upscale with it (`flipbook upscale --model "
                         f"{source}`, `flipbook train-sr-video --model {source}`) and give --model a text-to-image "
                         "model here")
    if not latent and config.in_channels != 3:
        raise ValueError(f"{source}: the UNet takes {config.in_channels} channels but the folder has no vae/; "
                         "a pixel model takes 3 (RGB) and a latent model needs its VAE in vae/")


def _has_vae(source: str, index: dict) -> bool:
    return bool(index.get("vae") and index["vae"][1]) if index else (Path(source) / "vae").is_dir()


def vae_dtype(config, dtype: torch.dtype) -> torch.dtype:
    """A VAE that overflows in fp16 (config force_upcast) stays in fp32, as diffusers' SDXL pipeline does."""
    return torch.float32 if dtype == torch.float16 and config.get("force_upcast", True) else dtype


def _vae(source: str, dtype: torch.dtype) -> AutoencoderKL:
    dtype = vae_dtype(AutoencoderKL.load_config(source, subfolder="vae"), dtype)
    return _load(AutoencoderKL, source, "vae", torch_dtype=dtype, use_safetensors=True)


def load_base(path: str | Path | None = None, device: str = "cpu", dtype=torch.float32) -> Base:
    """Load a base from a diffusers-format folder or hub id (the embedded one by default), at `device` and
    `dtype` ('fp32', 'fp16', 'bf16' or a torch dtype). Weights load from safetensors only."""
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    if path is None:
        if not (ASSET / "unet" / "config.json").exists():
            raise FileNotFoundError(f"no base model at {ASSET}; build one with `flipbook train-base --out {ASSET}`")
        path = ASSET
    source, local = _locate(path)
    index = _index(source, local)
    if local and not (Path(source) / "unet" / "config.json").is_file():
        raise _not_found(source, "it has no unet/config.json" + (" (a UNet-less pipeline is not an image base)"
                                                                   if index else ""))
    if index and index.get("unet", [None, None])[1] not in (None, "UNet2DConditionModel"):
        raise ValueError(f"{source}: its unet is a {index['unet'][1]}; Flipbook inflates UNet2DConditionModel")
    common = {"torch_dtype": dtype, "use_safetensors": True}
    unet = _load(UNet2DConditionModel, source, "unet", **common)
    vae = _vae(source, dtype) if _has_vae(source, index) else None
    _check_unet(source, unet, vae is not None)
    text = _load(_text_encoder_class(source, local, index), source, "text_encoder", **common)
    try:
        tok = AutoTokenizer.from_pretrained(source, subfolder="tokenizer")
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"cannot load tokenizer/ of {source}: {str(e).splitlines()[0][:200]}") from None
    sched = _load(DDIMScheduler, source, "scheduler")  # the folder's schedule; samplers are built from its config
    vae = vae.to(device).eval() if vae is not None else None
    return Base(unet.to(device).eval(), text.to(device).eval(), tok, sched, vae, source)


def load_vae(path: str | Path, device: str = "cpu", dtype=torch.float32) -> AutoencoderKL:
    """Only the VAE of a latent model's folder or hub id (what the cascade stages need of their base to work on
    its latents), without loading its UNet and text encoder; in fp32 under fp16 where `vae_dtype` says so."""
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    source, local = _locate(path)
    if not _has_vae(source, _index(source, local)):
        raise ValueError(f"{source} has no vae/: it is a pixel model, whose frames need no VAE")
    return _vae(source, dtype).to(device).eval()
