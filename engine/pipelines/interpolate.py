"""Frame interpolation, T keyframes → 4T−3 frames, with either interpolation model.

- `GroupInterpolationPipeline` (FusionFrames): the T−1 keyframe gaps are the UNet's frames, and each pass
  predicts the three middle frames of every gap at once.
- `MaskedInterpolationPipeline` (MPL-Video): the whole 4T−3-frame clip is denoised, keyframes given in the
  masked input (clips longer than the model was trained on go in windows of `max_keyframes`, batched).

Both use context guidance (FusionFrames Eq. 5): v = (1 + w)·v(keyframes) − w·v(no keyframes), w ≈ 0.25, and
put the given keyframes back at every 4th frame; a residual model's output is added to the keyframes' linear
blend. Frames are (B, T, 3, H, W) or (T, 3, H, W) in [0, 1], any
size (padded to the UNet's multiple and cropped back); the output is (B, 4T−3, 3, H, W) in [0, 1].

An interpolator trained on a latent (SD-style) base works on that base's VAE latents: the pipeline takes the VAE
(`vae`), encodes the keyframes, interpolates the latents and decodes the clip, then puts the given keyframes back
as they were. `interpolation_pipeline(..., model=BASE)` loads it and checks it is the VAE the model learned on.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from einops import rearrange

from ..models.base import load_vae, resolve_device, resolve_dtype, vae_dtype
from ..diffusion.loop import StoppablePipeline, pipeline_callback
from ..diffusion.noise import frame_noise
from ..models.interpolation import (ASSET, FACTOR, MIDDLE, blend_clip, blend_middles, frames_as_slots, join_frames,
                                    keyframe_pairs, load_interpolator, noise_augment, output_frames)
from ..sidecar import model_hash
from ..models.vae import decode_frames, encode_frames
from ..registry import INTERP_RECORD
from .load import SCHEDULERS

MAX_SKIP = 6  # the largest skip-frame value the group model trains on (engine/training/interpolation.py)


@dataclass
class InterpolationOutput(BaseOutput):
    frames: torch.Tensor  # (B, 4T−3, 3, H, W) in [0, 1]


def skip_for_fps(fps: float) -> int:
    """The skip-frame value for keyframes at `fps`: output frames 1/32 s × s apart (2 fps → 8 fps is s = 4)."""
    return int(min(MAX_SKIP, max(1, round(8.0 / fps))))


class _InterpolationPipeline(StoppablePipeline, DiffusionPipeline):
    _optional_components = ["vae"]
    _callback_tensor_inputs = ["latents"]

    def __init__(self, unet, scheduler, vae=None):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler, vae=vae)
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1) if vae is not None else 1

    @property
    def multiple(self) -> int:
        """Frame sides are padded to this: the UNet halves the (latent) side len(channels) − 1 times."""
        return self.vae_scale_factor * 2 ** (len(self.unet.config.unet_config["block_out_channels"]) - 1)

    def check_inputs(self, video, num_inference_steps: int, guidance_scale: float, aug_level: int) -> torch.Tensor:
        """Keyframes (B, 3, T, H, W) in [-1, 1]; anything else is a ValueError that says what to give."""
        if not torch.is_tensor(video):
            raise ValueError("video must be a tensor of frames (T, 3, H, W) or (B, T, 3, H, W) in [0, 1]")
        video = video[None] if video.ndim == 4 else video
        if video.ndim != 5 or video.shape[2] != 3:
            raise ValueError(f"expected RGB frames (T, 3, H, W) or (B, T, 3, H, W), got {tuple(video.shape)}")
        if video.shape[1] < 2:
            raise ValueError(f"interpolation needs at least 2 keyframes, got {video.shape[1]}: give a clip of 2 or "
                             "more frames")
        if not 1 <= num_inference_steps <= 1000:
            raise ValueError(f"steps must be between 1 and 1000, got {num_inference_steps}")
        if not 0 <= guidance_scale <= 10:
            raise ValueError(f"guidance must be between 0 and 10 (FusionFrames uses 0.25), got {guidance_scale}")
        if not 0 <= aug_level <= 999:
            raise ValueError(f"the keyframes' perturbation level must be between 0 and 999, got {aug_level}")
        return rearrange(video.float(), "b t c h w -> b c t h w").to(self._execution_device) * 2 - 1

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, F, H, W) with H and W padded (edge pixels repeated) to the UNet's multiple."""
        h, w = x.shape[-2:]
        m = self.multiple
        if h % m == 0 and w % m == 0:
            return x
        flat = F.pad(rearrange(x, "b c f h w -> b (c f) h w"), (0, -w % m, 0, -h % m), mode="replicate")
        return rearrange(flat, "b (c f) h w -> b c f h w", c=x.shape[1])

    def to_latents(self, x: torch.Tensor) -> torch.Tensor:
        """Keyframes (B, 3, T, H, W) in [-1, 1] to what the UNet works on: themselves, or VAE latents."""
        return encode_frames(self.vae, x) if self.vae is not None else x

    def finish(self, clip: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """The denoised clip (B, C, 4T−3, h, w) to frames (B, 4T−3, 3, H, W) in [0, 1]: decoded (latent models),
        cropped to the keyframes' size, and the given keyframes put back at every 4th frame as they were."""
        video = decode_frames(self.vae, clip) if self.vae is not None else clip
        video = video[..., :keys.shape[-2], :keys.shape[-1]].clone()
        video[:, :, ::FACTOR] = keys
        return self.to_frames(video)

    def augment(self, x: torch.Tensor, level: int, generator) -> torch.Tensor:
        noise = randn_tensor(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return noise_augment(x, torch.full((x.shape[0],), level), noise, self.scheduler.alphas_cumprod)

    def predict(self, x: torch.Tensor, t, guidance_scale: float, cond: dict, uncond: dict) -> torch.Tensor:
        """v with context guidance: (1 + w)·v(cond) − w·v(uncond), both halves in one UNet call."""
        x_in = x.to(self.unet.dtype)
        if guidance_scale == 0:
            return self.unet(x_in, t, **cond).to(x.dtype)
        both = {k: torch.cat([cond[k], uncond[k]]) for k in cond}
        v_cond, v_uncond = self.unet(torch.cat([x_in, x_in]), t, **both).to(x.dtype).chunk(2)
        return (1 + guidance_scale) * v_cond - guidance_scale * v_uncond

    def blend_offset(self, blend: Callable[[], torch.Tensor]):
        """What the denoised sample is added to: the keyframes' linear blend (`blend()`) for a residual model, else 0."""
        return blend() if self.unet.config.get("residual") else 0

    def denoise(self, latents: torch.Tensor, steps: int, guidance_scale: float, cond: dict, uncond: dict, generator,
                callback: Callable | None = None, offset: torch.Tensor | float = 0):
        """The denoised sample plus `offset` (a residual model's blend). `callback(pipe, i, t, {"latents": latents,
        "frames": latents + offset})` after every step (diffusers' `callback_on_step_end`); what it returns under
        "latents" replaces them. The latents are the UNet's sample: the group model's slots (B, 3C, T−1, h, w), the
        masked model's clip windows (B·n, C, 4k−3, h, w); "frames" is the same sample as frames (a preview)."""
        self.scheduler.set_timesteps(steps, device=latents.device)
        latents = latents * getattr(self.scheduler, "init_noise_sigma", 1.0)
        predict = lambda x, t: self.predict(x, t, guidance_scale, cond, uncond)  # noqa: E731
        on_step = pipeline_callback(self, callback, lambda x: {"frames": x + offset})
        return self.run_steps(latents, predict, on_step=on_step, generator=generator) + offset

    @staticmethod
    def to_frames(x: torch.Tensor) -> torch.Tensor:
        return (rearrange(x.float(), "b c f h w -> b f c h w") / 2 + 0.5).clamp(0, 1).cpu()


class GroupInterpolationPipeline(_InterpolationPipeline):
    @torch.no_grad()
    def __call__(self, video: torch.Tensor, num_inference_steps: int = 20, guidance_scale: float = 0.25,
                 skip: int = 4, aug_level: int = 0, generator: torch.Generator | None = None,
                 callback_on_step_end: Callable | None = None, return_dict: bool = True):
        """`skip`: the skip-frame value (output frames 1/32 s × skip apart; 4 for 2 → 8 fps);
        `aug_level`: forward-diffusion steps applied to the keyframes (0: as given, as the paper samples);
        `callback_on_step_end(pipe, i, t, {"latents": ...})`: after every denoising step."""
        # 1. check inputs: keyframes (B, C, T, H, W) in [-1, 1], padded to the UNet's multiple
        keys = self.check_inputs(video, num_inference_steps, guidance_scale, aug_level)
        self.start_run()  # Stop (engine.diffusion.loop) ends a run after its current step
        b, t = keys.shape[0], keys.shape[2]
        z = self.to_latents(self.pad(keys))  # (B, C, T, h, w): the padded keyframes, or their latents
        c = z.shape[1]

        # 2. each gap's conditioning: its two keyframes on channels, perturbed to aug_level
        clean = keyframe_pairs(z)
        pairs = self.augment(clean, aug_level, generator)
        level, skip = torch.full((b,), float(aug_level)), torch.full((b,), float(skip))
        cond = {"keyframes": pairs, "level": level, "skip": skip}
        uncond = {"keyframes": torch.zeros_like(pairs), "level": torch.zeros(b), "skip": skip}

        # 3. noise for the three middle frames of every gap (shared between them as the model was trained)
        shape = (b, c, MIDDLE, (t - 1) * z.shape[-2], z.shape[-1])
        noise = frame_noise(shape, generator, self.unet.config.noise_share, z.device, z.dtype)
        latents = frames_as_slots(noise, t - 1)

        # 4. denoise every gap at once, with context guidance (a residual model: what blending misses, added to it)
        latents = self.denoise(latents, num_inference_steps, guidance_scale, cond, uncond, generator,
                               callback_on_step_end, self.blend_offset(lambda: blend_middles(clean)))

        # 5. keyframes and middle frames interleaved: 4T−3 frames (decoded, cropped, the keyframes as given)
        frames = self.finish(join_frames(z, latents), keys)
        self.maybe_free_model_hooks()
        return InterpolationOutput(frames=frames) if return_dict else (frames,)


def windows(keyframes: int, size: int) -> list[int]:
    """First keyframe of each window of `size` keyframes covering 0..keyframes−1, neighbours sharing a keyframe
    (the last window moved back to end on the last keyframe)."""
    if keyframes <= size:
        return [0]
    starts = list(range(0, keyframes - size, size - 1))
    return starts + [keyframes - size]


class MaskedInterpolationPipeline(_InterpolationPipeline):
    @torch.no_grad()
    def __call__(self, video: torch.Tensor, num_inference_steps: int = 20, guidance_scale: float = 0.25,
                 aug_level: int = 0, max_keyframes: int = 8, generator: torch.Generator | None = None,
                 callback_on_step_end: Callable | None = None, return_dict: bool = True):
        """`max_keyframes`: the longest clip (in keyframes) denoised at once, as trained; longer ones go in
        overlapping windows, batched. `aug_level`: forward-diffusion steps applied to the keyframes;
        `callback_on_step_end(pipe, i, t, {"latents": ...})`: after every denoising step."""
        # 1. check inputs: keyframes (B, C, T, H, W) in [-1, 1], padded to the UNet's multiple
        keys = self.check_inputs(video, num_inference_steps, guidance_scale, aug_level)
        self.start_run()  # Stop (engine.diffusion.loop) ends a run after its current step
        if max_keyframes < 2:
            raise ValueError(f"max_keyframes must be at least 2, got {max_keyframes}")
        b, t = keys.shape[0], keys.shape[2]
        z = self.to_latents(self.pad(keys))  # (B, C, T, h, w): the padded keyframes, or their latents
        c = z.shape[1]

        # 2. windows of at most max_keyframes keyframes, one batch
        size = min(t, max_keyframes)
        starts = windows(t, size)
        batch = torch.cat([z[:, :, s:s + size] for s in starts])  # (n b) c k h w

        # 3. the masked clip (keyframes at every 4th frame, zeros between), perturbed, and its mask
        n, f = batch.shape[0], output_frames(size)
        context = torch.zeros(n, c, f, *batch.shape[-2:], device=z.device, dtype=z.dtype)
        context[:, :, ::FACTOR] = self.augment(batch, aug_level, generator)
        mask = torch.zeros(n, 1, f, 1, 1, device=z.device)
        mask[:, :, ::FACTOR] = 1
        level = torch.full((n,), float(aug_level))
        cond = {"context": context, "mask": mask, "level": level}
        uncond = {"context": torch.zeros_like(context), "mask": mask, "level": torch.zeros(n)}

        # 4. noise for every frame
        latents = randn_tensor(context.shape, generator=generator, device=z.device, dtype=z.dtype)

        # 5. denoise the whole clip, with context guidance (a residual model: what blending misses, added to it)
        latents = self.denoise(latents, num_inference_steps, guidance_scale, cond, uncond, generator,
                               callback_on_step_end, self.blend_offset(lambda: blend_clip(batch)))

        # 6. windows joined into 4T−3 frames (decoded, cropped, the keyframes as given)
        latents[:, :, ::FACTOR] = batch
        clip = torch.zeros(b, c, output_frames(t), *z.shape[-2:], device=z.device, dtype=z.dtype)
        for i, s in enumerate(starts):
            clip[:, :, FACTOR * s:FACTOR * s + f] = latents[i * b:(i + 1) * b]
        frames = self.finish(clip, keys)
        self.maybe_free_model_hooks()
        return InterpolationOutput(frames=frames) if return_dict else (frames,)


PIPELINES = {"group": GroupInterpolationPipeline, "masked": MaskedInterpolationPipeline}


def base_vae(record: dict, folder: Path, model, device, dtype):
    """The VAE of the latent base an interpolator learned on (None for a pixel interpolator), checked by its hash."""
    if not record.get("latent"):
        return None
    trained_on = record.get("base", "a latent model")
    if model is None:
        raise ValueError(f"{folder} interpolates the VAE latents of a latent model ({trained_on}): pass --model with "
                         "that model (its VAE encodes the keyframes and decodes the result)")
    vae = load_vae(model)  # fp32 on the CPU first: the hash is of the weights as stored
    if model_hash(vae) != record.get("vae_hash"):
        raise ValueError(f"the VAE of {model} is not the one {folder} learned on (that of {trained_on}): pass that model "
                         f"as --model, or train an interpolator on this one (`flipbook train-interp --model {model}`)")
    target = vae_dtype(vae.config, dtype)
    vae = vae.to(device)
    return vae if target == vae.dtype else vae.to(dtype=target)


def interpolation_pipeline(method: str | None = None, folder: str | Path | None = None, scheduler: str = "dpm++",
                           device: str = "cpu", dtype=None, model: str | Path | None = None
                           ) -> tuple[_InterpolationPipeline, dict]:
    """A ready pipeline from an interpolation folder (default assets/interp/METHOD) and its hashes. `model`: the
    latent base the folder's model learned on (its VAE is needed; a pixel interpolator needs none)."""
    if method is not None and method not in PIPELINES:
        raise ValueError(f"unknown interpolation method {method!r}; choose one of: {', '.join(PIPELINES)}")
    if scheduler not in ("dpm++", "ddim"):
        raise ValueError(f"unknown scheduler {scheduler!r}; choose dpm++ or ddim")
    folder = Path(folder) if folder else ASSET / (method or "group")
    if not (folder / INTERP_RECORD).is_file():
        raise FileNotFoundError(f"no interpolation model at {folder}; train one with `flipbook train-interp --method "
                                f"{method or 'group'}` (or pass --interp FOLDER)")
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    interp, config, record = load_interpolator(folder, dtype)
    if method is not None and record["method"] != method:
        raise ValueError(f"{folder} holds a {record['method']} model, not {method}; drop --method or pass another "
                         "folder")
    vae = base_vae(record, folder, model, device, dtype)
    pipe = PIPELINES[record["method"]](interp.to(device), SCHEDULERS[scheduler](config, pixel=vae is None), vae)
    pipe.set_progress_bar_config(disable=True)
    return pipe, {"interp": model_hash(interp), **({"vae": record["vae_hash"]} if vae is not None else {})}
