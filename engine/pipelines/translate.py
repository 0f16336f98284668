"""Expert translation (MPL-Video §3.6): refine a clip's detail with a latent video model trained on t ≤ 900.

The clip (the pixel SR output) is resized bilinearly to the expert's resolution, encoded by its VAE, noised to the
first timestep of the last `strength` part of the schedule with the scheduler's own `add_noise` (SDEdit: 0.5 of
20 trailing steps starts at t = 499), denoised from there with the same prompt by DDIM or DPM-Solver++, and
decoded by a temporal video decoder (`engine.models.decoder`) or the VAE's image decoder (frame by frame).

A long clip runs in segments of F frames that share a frame, as pixel SR does (`engine.pipelines.upscale`): the
first frame of each segment after the first is the carried last frame of the one before. Its clean latent is put
back into the segment after every step, noised to the level of the next (diffusers' inpainting way), so the new
frames are denoised beside it, and it ends exactly as the last segment made it. Memory then grows with F, not
with the clip (the point of MPL-Video's pixel-then-latent cascade). A strength whose start lies above the
timesteps the expert was trained on is refused; strength 0 denoises nothing (the clip through the VAE alone, the
ablation that tells what the expert's steps add). `engine.translate.translate_file` runs it on a video file.

Going up in resolution (MPL-Video's use: the pixel stage's 128² clip to a 512² top), the translated frames can keep
the input's low frequencies and add only their own detail (`detail_sigma` σ: the input resized bicubically, plus
what the translation changed above a Gaussian of σ output pixels, `'out = base + (x − base) − blur_σ(x − base)'`).
The world's VAE errs mostly at low frequencies (colour, measured in bench/results/expert.md), which a clip that
was already right at 128² need not inherit; its decoder draws sharper edges than bicubic does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline
from einops import rearrange

from ..diffusion.loop import StoppablePipeline, pipeline_callback
from ..diffusion.noise import frame_noise
from ..metrics.degrade import blur
from ..models.base import model_output
from ..models.decoder import best_decoder, load_decoder
from ..models.expert import load_expert, vae_factor
from ..models.text import encode_prompts
from ..sidecar import model_hash
from ..models.vae import decode_frames, encode_frames
from .load import SCHEDULERS
from .text_to_video import VideoOutput
from .upscale import SEGMENT, check_segment_frames, segments

STRENGTH = 0.5
DETAIL_SIGMA = (0.1, 16.0)  # the Gaussian's σ in output pixels that keep_low_frequencies takes


class ExpertTranslationPipeline(StoppablePipeline, DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->unet->vae->decoder"
    _optional_components = ["decoder"]
    _callback_tensor_inputs = ["latents"]

    def __init__(self, unet, text_encoder, tokenizer, scheduler, vae, decoder=None, max_timestep: int = 900,
                 sample_size: int | None = None):
        super().__init__()
        self.register_modules(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler, vae=vae,
                              decoder=decoder)
        self.register_to_config(max_timestep=max_timestep, sample_size=sample_size or vae.config.sample_size)
        self.vae_scale_factor = vae_factor(vae)

    @property
    def decoder_name(self) -> str:
        """The temporal decoder's variant, or "image" for the VAE's own decoder."""
        return self.decoder.config.variant if self.decoder is not None else "image"

    @property
    def multiple(self) -> int:
        """Frame sides must be multiples of this: the VAE divides them and the UNet halves the latents
        len(channels) − 1 times."""
        return self.vae_scale_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)

    @property
    def max_strength(self) -> float:
        return (self.config.max_timestep + 1) / self.scheduler.config.num_train_timesteps

    def check_inputs(self, video, strength: float, num_inference_steps: int, guidance_scale: float, size: tuple,
                     segment_frames: int = SEGMENT, detail_sigma: float | None = None):
        if not torch.is_tensor(video) or video.ndim != 5 or video.shape[2] != 3:
            raise ValueError(f"video must be a tensor (B, F, 3, H, W) in [0, 1], got "
                             f"{tuple(video.shape) if torch.is_tensor(video) else type(video).__name__}")
        if video.numel() == 0 or not torch.isfinite(video).all() or video.min() < 0 or video.max() > 1:
            raise ValueError("video values must be finite and in [0, 1]")
        if any(s < self.multiple or s % self.multiple for s in size):
            raise ValueError(f"frames of {size[0]}×{size[1]}: the expert needs sides that are multiples of "
                             f"{self.multiple}; pass height and width (translate_file chooses them)")
        if not 0 <= strength <= 1:
            raise ValueError(f"strength must be in [0, 1] (the part of the schedule the clip is noised into; 0: "
                             f"through the VAE alone), got {strength}")
        if strength > self.max_strength:
            raise ValueError(f"strength {strength:g} noises the clip above the t ≤ {self.config.max_timestep} this "
                             f"expert was trained on; use a strength of at most {self.max_strength:.2f}")
        if not 1 <= num_inference_steps <= 1000:
            raise ValueError(f"steps must be between 1 and 1000, got {num_inference_steps}")
        if not 0 <= guidance_scale <= 50:
            raise ValueError(f"guidance must be between 0 and 50, got {guidance_scale}")
        check_segment_frames(segment_frames)
        if detail_sigma is not None and not DETAIL_SIGMA[0] <= detail_sigma <= DETAIL_SIGMA[1]:
            raise ValueError(f"detail_sigma must be in [{DETAIL_SIGMA[0]:g}, {DETAIL_SIGMA[1]:g}] output pixels (or "
                             f"None: the translated frames as they are), got {detail_sigma}")

    def get_timesteps(self, num_inference_steps: int, strength: float, device) -> torch.Tensor:
        """SDEdit's part of the schedule, diffusers' img2img way: the last strength · steps of the steps spanning the
        whole schedule (at least one), the scheduler told where it begins."""
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        start = num_inference_steps - max(1, min(num_inference_steps, int(num_inference_steps * strength)))
        timesteps = self.scheduler.timesteps[start * self.scheduler.order:]
        if int(timesteps[0]) > self.config.max_timestep:
            raise ValueError(f"strength {strength:g} with {num_inference_steps} steps starts at t = {int(timesteps[0])}, "
                             f"above the t ≤ {self.config.max_timestep} this expert was trained on; use a strength "
                             f"of at most {self.max_strength:.2f}")
        if hasattr(self.scheduler, "set_begin_index"):
            self.scheduler.set_begin_index(start * self.scheduler.order)
        return timesteps

    @torch.no_grad()
    def encode_prompt(self, prompts: list[str], guidance_scale: float) -> torch.Tensor:
        states = encode_prompts(self.tokenizer, self.text_encoder, prompts)
        if guidance_scale > 1:
            states = torch.cat([encode_prompts(self.tokenizer, self.text_encoder, [""] * len(prompts)), states])
        return states.to(self.unet.dtype)

    def predict(self, x: torch.Tensor, t, text: torch.Tensor, guidance_scale: float) -> torch.Tensor:
        """ε or v for latents x, with classifier-free guidance over the prompt when > 1."""
        channels, dtype = x.shape[1], self.unet.dtype
        if guidance_scale <= 1:
            return model_output(self.unet(x.to(dtype), t, text), channels).to(x.dtype)
        uncond, cond = model_output(self.unet(torch.cat([x] * 2).to(dtype), t, text), channels).chunk(2)
        return (uncond + guidance_scale * (cond - uncond)).to(x.dtype)

    def decode(self, latents: torch.Tensor, chunk: int | None) -> torch.Tensor:
        if self.decoder is not None:  # temporal layers: every frame of the segment at once
            return self.decoder(latents.to(self.decoder.dtype)).float()
        return decode_frames(self.vae, latents, chunk).float()

    def sdedit(self, z0: torch.Tensor, carried: torch.Tensor | None, num_inference_steps: int, strength: float,
               text: torch.Tensor, guidance_scale: float, generator, callback: Callable | None) -> torch.Tensor:
        """One segment's clean latents z₀ (B, C, f, h, w) noised to the start of the schedule's last `strength` part
        and denoised. `carried` (B, C, h, w): the final latent of the segment's first frame, made by the segment
        before; after every step it replaces frame 0, noised to the next step's level, and at the end as it is."""
        b, device = z0.shape[0], z0.device
        timesteps = self.get_timesteps(num_inference_steps, strength, device)  # also resets the scheduler's state
        noise = frame_noise(z0.shape, generator, getattr(self.unet, "noise_share", 0.0), device, z0.dtype)
        if carried is not None:
            z0 = torch.cat([carried[:, :, None], z0[:, :, 1:]], dim=2)
        latents = self.scheduler.add_noise(z0, noise, timesteps[:1].repeat(b))
        step_end = pipeline_callback(self, callback)

        def on_step(i, t, latents):
            if carried is not None:  # the known frame at the level the next step expects (clean after the last)
                last = i == len(timesteps) - 1
                known = carried if last else self.scheduler.add_noise(carried, noise[:, :, 0],
                                                                      timesteps[i + 1:i + 2].repeat(b))
                latents = torch.cat([known[:, :, None], latents[:, :, 1:]], dim=2)
            return latents if step_end is None else step_end(i, t, latents)

        predict = lambda x, t: self.predict(x, t, text, guidance_scale)  # noqa: E731
        return self.run_steps(latents, predict, timesteps, on_step=on_step, generator=generator)

    @torch.no_grad()
    def __call__(self, video: torch.Tensor, prompt: str | list[str] = "", strength: float = STRENGTH,
                 num_inference_steps: int = 20, guidance_scale: float = 1.0, height: int | None = None,
                 width: int | None = None, generator: torch.Generator | None = None,
                 callback_on_step_end: Callable | None = None, decode_chunk_size: int | None = None,
                 segment_frames: int = SEGMENT, detail_sigma: float | None = None, return_dict: bool = True):
        """Translate `video` (B, F, 3, h, w) in [0, 1] at height × width (default: its own size): frames
        (B, F, 3, height, width) in [0, 1]. `strength`: how far into the noise the clip goes (at most
        (max_timestep + 1) / 1000); `num_inference_steps`: steps over the whole schedule, of which the last
        `strength` part runs in each segment; `segment_frames`: F, the frames denoised (and decoded) together;
        `decode_chunk_size`: frames the VAE encodes, and the image decoder decodes, at once; `detail_sigma`: keep the
        input's frequencies below a Gaussian of σ output pixels (None: the translated frames as they are)."""
        # 1. check inputs
        size = (height or video.shape[-2], width or video.shape[-1])
        self.start_run()  # Stop (engine.diffusion.loop) ends a run after its current step
        self.check_inputs(video, strength, num_inference_steps, guidance_scale, size, segment_frames, detail_sigma)
        device, (b, n) = self._execution_device, video.shape[:2]
        prompts = [prompt] * b if isinstance(prompt, str) else list(prompt)
        if len(prompts) != b:
            raise ValueError(f"{len(prompts)} prompts for {b} clips")

        # 2. encode the prompt (and the empty one, for guidance)
        text = self.encode_prompt(prompts, guidance_scale)

        # 3. the clip resized bilinearly to the expert's size, in [-1, 1]
        frames = rearrange(video.to(device, torch.float32), "b f c h w -> (b f) c h w")
        if tuple(frames.shape[-2:]) != size:
            frames = F.interpolate(frames, size=size, mode="bilinear", align_corners=False)
        pixels = rearrange(frames * 2 - 1, "(b f) c h w -> b c f h w", b=b)

        # 4. segments of F frames, each after the first starting from the carried last frame of the one before:
        #    encode z₀ (B, C, f, h', w'), SDEdit it with the same prompt, decode
        out, carried = torch.empty_like(pixels), None
        for start, stop in segments(n, segment_frames):
            z0 = encode_frames(self.vae, pixels[:, :, start:stop], decode_chunk_size)
            latents = z0 if strength == 0 else self.sdedit(z0, carried, num_inference_steps, strength, text,
                                                           guidance_scale, generator, callback_on_step_end)
            decoded = self.decode(latents, decode_chunk_size)
            first = 1 if carried is not None else 0  # the carried frame stays as the last segment decoded it
            out[:, :, start + first:stop] = decoded[:, :, first:]
            carried = latents[:, :, -1]

        # 5. frames in [0, 1], with the input's low frequencies if asked
        out = (out / 2 + 0.5).clamp(0, 1)
        if detail_sigma is not None:  # frame by frame: a frame's worth of memory, not a clip's
            given = rearrange(video.to(device, torch.float32), "b f c h w -> b c f h w")
            for i in range(n):
                out[:, :, i:i + 1] = keep_low_frequencies(given[:, :, i:i + 1], out[:, :, i:i + 1], detail_sigma)
        frames = rearrange(out, "b c f h w -> b f c h w").cpu()
        self.maybe_free_model_hooks()
        return VideoOutput(frames=frames) if return_dict else (frames,)


def keep_low_frequencies(video: torch.Tensor, translated: torch.Tensor, sigma: float) -> torch.Tensor:
    """`video` (B, 3, F, h, w) resized bicubically to `translated`'s (B, 3, F, H, W) size, plus the translation's
    change above a Gaussian of `sigma` pixels: the input's colours and layout, the translation's detail. In [0, 1]."""
    b, size = video.shape[0], translated.shape[-2:]
    base = F.interpolate(rearrange(video, "b c f h w -> (b f) c h w"), size=size, mode="bicubic", align_corners=False)
    base = rearrange(base.clamp(0, 1), "(b f) c h w -> b c f h w", b=b).to(translated.dtype)
    change = translated - base
    return (base + change - blur(change, sigma)).clamp(0, 1)


def _decoder_for(name: str | None, vae):
    """The temporal decoder `name` asks for (a variant, a folder, or "image" for none); None picks the best embedded
    one made from this VAE, or the image decoder if there is none."""
    if name == "image":
        return None, None
    return load_decoder(name, vae) if name is not None else best_decoder(vae)


def translation_pipeline(expert: str | Path | None = None, decoder: str | None = None, scheduler: str = "dpm++",
                         device: str = "cpu", dtype=None) -> tuple[ExpertTranslationPipeline, dict]:
    """A ready pipeline from an expert folder (default assets/expert/t900) and a temporal decoder (see `_decoder_for`),
    and the hashes of what it is made of."""
    if scheduler not in ("ddim", "dpm++"):
        raise ValueError(f"unknown scheduler {scheduler!r} for expert translation; choose ddim or dpm++")
    ex = load_expert(expert, device, dtype)
    temporal, _ = _decoder_for(decoder, ex.base.vae)
    hashes = ex.hashes()
    if temporal is not None:
        hashes["decoder"] = model_hash(temporal)
        temporal = temporal.to(ex.base.vae.device)
    pipe = ExpertTranslationPipeline(ex.video, ex.base.text_encoder, ex.base.tokenizer,
                                     SCHEDULERS[scheduler](dict(ex.base.scheduler.config), False), ex.base.vae,
                                     temporal, ex.max_timestep, ex.size)
    pipe.set_progress_bar_config(disable=True)
    return pipe, hashes


def fit_size(h: int, w: int, side: int, multiple: int) -> tuple[int, int]:
    """(height, width) with the long side `side` (the expert's), the aspect kept, each a multiple of `multiple`."""
    k = side / max(h, w)
    return tuple(max(multiple, round(s * k / multiple) * multiple) for s in (h, w))
