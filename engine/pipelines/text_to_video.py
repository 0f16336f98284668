"""Text-to-video keyframes: an inflated image UNet denoised with any diffusers scheduler.

Pixel-space (IF-like) models denoise frames directly; latent (SD-like) models denoise VAE latents, which
are decoded frame by frame ('b c f h w -> (b f) c h w'), `decode_chunk_size` frames at a time. The output
is (B, F, 3, H, W) in [0, 1]. Memory options: `enable_attention_slicing`, `enable_vae_slicing`,
`enable_vae_tiling`, diffusers' `enable_model_cpu_offload`, and frames in chunks through the VAE.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

import torch
from diffusers import DiffusionPipeline
from diffusers.models.attention_processor import (Attention, AttnAddedKVProcessor2_0, AttnProcessor2_0,
                                                  SlicedAttnAddedKVProcessor, SlicedAttnProcessor)
from diffusers.utils import BaseOutput

from ..diffusion.loop import StoppablePipeline, pipeline_callback
from ..diffusion.noise import frame_noise
from ..diffusion.pyramid import epsilon_from_v, noise_form, pyramid_sample
from ..diffusion.windows import check_windows, context_windows, rescheduled_noise, windowed
from ..registry import DEFAULT_OVERLAP, LONG_METHODS
from ..motion import (DEFAULT_METHOD, DEFAULT_STRENGTH, MotionPlan, check_method, first_frame_noise, planned_start,
                      resume_index)
from ..models.attention import cross_frame_attention
from ..models.base import model_output
from ..models.text import encode_prompts
from ..models.vae import decode_frames, encode_frames


TRAINED_FRAMES = 8   # the keyframes every embedded mode was trained on: the default context window
MAX_ONE_PASS = 64    # frames denoised at once, without context windows
MAX_FRAMES = 256     # frames a clip may have, in windows


@dataclass
class VideoOutput(BaseOutput):
    frames: torch.Tensor  # (B, F, 3, H, W) in [0, 1]


def plans_per_clip(motion_plan: MotionPlan | list, count: int) -> list:
    """One motion plan for every clip, or one per clip (checked to be `count`)."""
    plans = list(motion_plan) if isinstance(motion_plan, (list, tuple)) else [motion_plan] * count
    if len(plans) != count:
        raise ValueError(f"{len(plans)} motion plans for {count} clips")
    return plans


class TextToVideoPipeline(StoppablePipeline, DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->unet->vae"
    _optional_components = ["vae"]
    _callback_tensor_inputs = ["latents"]

    def __init__(self, unet, text_encoder, tokenizer, scheduler, vae=None):
        super().__init__()
        self.register_modules(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler, vae=vae)
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1) if vae is not None else 1
        self.decode_chunk_size: int | None = None  # frames the VAE decodes at once (None: all)
        self.window: tuple[int, int] | None = None  # (window, windows) being made, for progress

    @property
    def latent(self) -> bool:
        return self.vae is not None

    # -- memory options ----------------------------------------------------------------------------
    def _spatial_attention(self) -> list[Attention]:
        """The UNet's diffusers attention layers that still run a diffusers processor (a frame-mixing one,
        such as SimDA's latent shift, is left alone)."""
        return [m for m in self.unet.modules() if isinstance(m, Attention)
                and type(m.processor).__module__.startswith("diffusers.")]

    def enable_attention_slicing(self, slice_size: str | int = "auto"):
        """Compute attention a few heads at a time: 'auto' (half the heads), 'max' (one) or a number."""
        for attn in self._spatial_attention():
            heads = attn.sliceable_head_dim
            size = {"auto": max(1, heads // 2), "max": 1}.get(slice_size, slice_size)
            if not isinstance(size, int) or size < 1:
                raise ValueError(f"attention slice size must be 'auto', 'max' or a number ≥ 1, got {slice_size!r}")
            size = min(size, heads)
            slicer = SlicedAttnAddedKVProcessor if attn.added_kv_proj_dim is not None else SlicedAttnProcessor
            attn.set_processor(slicer(size))

    def disable_attention_slicing(self):
        """Back to PyTorch's scaled-dot-product attention (the default) for every layer slicing changed."""
        for attn in self._spatial_attention():
            attn.set_processor(AttnAddedKVProcessor2_0() if attn.added_kv_proj_dim is not None else AttnProcessor2_0())

    def _need_vae(self, what: str):
        if self.vae is None:
            raise ValueError(f"{what} needs a VAE: this is a pixel-space model (it has none); leave the option off")

    def enable_vae_slicing(self):
        """Decode one frame at a time (the VAE's own slicing)."""
        self._need_vae("VAE slicing")
        self.vae.enable_slicing()

    def disable_vae_slicing(self):
        if self.vae is not None:
            self.vae.disable_slicing()

    def enable_vae_tiling(self):
        """Decode each frame in overlapping tiles (large frames)."""
        self._need_vae("VAE tiling")
        self.vae.enable_tiling()

    def disable_vae_tiling(self):
        if self.vae is not None:
            self.vae.disable_tiling()

    # -- steps -------------------------------------------------------------------------------------
    def check_inputs(self, prompt, num_frames, num_inference_steps, guidance_scale, height, width, window=None,
                     overlap=DEFAULT_OVERLAP, long_method="windows"):
        if not isinstance(prompt, (str, list)) or (isinstance(prompt, list) and not all(isinstance(p, str) for p in prompt)):
            raise ValueError("prompt must be a string or a list of strings")
        if not 1 <= num_frames <= MAX_FRAMES:
            raise ValueError(f"frames must be between 1 and {MAX_FRAMES}, got {num_frames}")
        if window is not None:
            check_windows(window, overlap)
            if window > MAX_ONE_PASS:
                raise ValueError(f"a context window may hold at most {MAX_ONE_PASS} frames, got {window}")
        if num_frames > MAX_ONE_PASS and window is None:
            raise ValueError(f"more than {MAX_ONE_PASS} frames are made in context windows: give a context window")
        if long_method not in LONG_METHODS:
            raise ValueError(f"unknown long-clip method {long_method!r}; choose one of: {', '.join(LONG_METHODS)}")
        if not 1 <= num_inference_steps <= 1000:
            raise ValueError(f"steps must be between 1 and 1000, got {num_inference_steps}")
        if not (guidance_scale == guidance_scale and 0 <= guidance_scale <= 50):
            raise ValueError(f"guidance must be a number between 0 and 50, got {guidance_scale}")
        m = max(8, self.vae_scale_factor)
        if height % m or width % m or height < m or width < m:
            raise ValueError(f"height and width must be multiples of {m}, got {height}×{width}")

    @torch.no_grad()
    def encode(self, prompts: list[str], negative: list[str] | None, guidance_scale: float) -> torch.Tensor:
        states = encode_prompts(self.tokenizer, self.text_encoder, prompts)
        if guidance_scale > 1:
            uncond = encode_prompts(self.tokenizer, self.text_encoder, negative or [""] * len(prompts))
            states = torch.cat([uncond, states])
        return states.to(self.unet.dtype)

    def predict(self, x: torch.Tensor, t, text: torch.Tensor, guidance_scale: float) -> torch.Tensor:
        """The UNet's prediction (ε or v; a learned variance is dropped) at x, with classifier-free guidance
        when guidance_scale > 1."""
        x_in = x.to(self.unet.dtype)
        if guidance_scale <= 1:
            return model_output(self.unet(x_in, t, text), x.shape[1]).to(x.dtype)
        uncond, cond = model_output(self.unet(torch.cat([x_in] * 2), t, text), x.shape[1]).chunk(2)
        return (uncond + guidance_scale * (cond - uncond)).to(x.dtype)

    def decode(self, latents: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """(B, C, F, h, w) -> frames (B, F, 3, H, W) in [0, 1] on the CPU, through the VAE for latent models."""
        video = decode_frames(self.vae, latents, chunk) if self.vae is not None else latents
        return (video.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 1, 3, 4).cpu()  # b c f h w -> b f c h w

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [0, 1] -> the model's space (B, C, h, w): through the VAE for latent models."""
        x = (images * 2 - 1).to(self._execution_device)
        if self.vae is None:
            return x
        return encode_frames(self.vae, x[:, :, None].to(self.vae.dtype))[:, :, 0].cpu()

    def _noised(self, clean: torch.Tensor, noise: torch.Tensor, t) -> torch.Tensor:
        """`clean` noised to timestep t the scheduler's way (flow schedulers: scale_noise)."""
        t = torch.as_tensor(t).reshape(1)
        if hasattr(self.scheduler, "add_noise"):
            return self.scheduler.add_noise(clean, noise, t)
        return self.scheduler.scale_noise(clean, t, noise)

    def denoise(self, latents: torch.Tensor, predict: Callable, num_inference_steps: int, start: int = 0,
                callback: Callable | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Run the scheduler from its `start`-th timestep to the end (engine.diffusion.loop; the studio's Stop ends
        it early); `callback(i, t, latents)` may return new latents."""
        self.scheduler.set_timesteps(num_inference_steps, device=latents.device)
        if start and hasattr(self.scheduler, "set_begin_index"):
            self.scheduler.set_begin_index(start)
        return self.run_steps(latents, predict, first=start, on_step=callback, generator=generator)

    def planned_clip(self, shape: tuple, predict: Callable, plans: list, num_inference_steps: int,
                     generator: torch.Generator | None, first: torch.Tensor | None = None,
                     callback: Callable | None = None):
        """Frame 0 denoised alone (or `first`, a given frame 0 in the model's space, (B, C, h, w), kept where it
        is), its object found and carried along the motion plans (engine.motion): the clip and the noise warped
        along the plans, (B, C, F, h, w) each, on the execution device. Frame 0's steps call `callback` too (with
        its latents, (B, C, 1, h, w)), so progress counts them and Stop ends them."""
        fine, first_noise = first_frame_noise(shape, generator)
        if first is not None:
            return self.carry_first(first.to(self._execution_device), plans, shape[2], fine, generator, False)
        first_noise = first_noise.to(self._execution_device, self.unet.dtype)
        sigma = getattr(self.scheduler, "init_noise_sigma", 1.0)
        first = self.denoise(first_noise * sigma, predict, num_inference_steps, callback=callback)[:, :, 0]
        return self.carry_first(first, plans, shape[2], fine, generator)

    def carry_first(self, first: torch.Tensor, plans: list, frames: int, fine: torch.Tensor | None = None,
                    generator: torch.Generator | None = None, move_first: bool = True):
        """A clean frame 0 (B, C, h, w in the model's space) carried along the motion plans: the clip and the
        noise warped along them (from `fine` noise, or fresh), (B, C, F, h, w) each, on frame 0's device.
        `move_first=False` keeps frame 0's object where it is (a given image)."""
        if fine is None:
            fine, _ = first_frame_noise((*first.shape[:2], frames, *first.shape[2:]), generator)
        pixels = self.decode(first[:, :, None])[:, 0]  # b 3 H W in [0, 1]
        begin = planned_start(first.cpu(), pixels, self.encode_image, plans, fine, frames, generator, move_first)
        return begin.clean.to(first.device), begin.noise.to(first.device)

    def noised_back(self, clean: torch.Tensor, noise: torch.Tensor, strength: float,
                    num_inference_steps: int) -> tuple[torch.Tensor, int]:
        """A clip noised back to `strength` of the schedule (SDEdit): the latents and the index of the timestep
        to denoise them from."""
        start = resume_index(num_inference_steps, strength)
        self.scheduler.set_timesteps(num_inference_steps, device=clean.device)
        return self._noised(clean, noise, self.scheduler.timesteps[start]), start

    def started(self, clean: torch.Tensor, noise: torch.Tensor, method: str, strength: float,
                num_inference_steps: int) -> tuple[torch.Tensor, int]:
        """Where sampling starts along a plan: the warped noise from the first timestep ("noise"), or the carried
        clip noised back to `strength` of the schedule ("frame"). The latents and the timestep index to start at."""
        if method == "noise":
            return noise * getattr(self.scheduler, "init_noise_sigma", 1.0), 0
        return self.noised_back(clean, noise, strength, num_inference_steps)

    def keeper(self, known: torch.Tensor, noise: torch.Tensor, callback: Callable | None = None) -> Callable:
        """A step callback that puts `known` clean frames (B, C, k, h, w) back as the clip's first k frames after
        every step, noised (with `noise`) to the level the next step expects, and as they are after the last;
        then calls `callback`. The carried-frame way of pixel SR and translation, for image-to-video and for
        each autoregressive window."""
        k = known.shape[2]

        def keep(i, t, latents):
            steps = self.scheduler.timesteps
            level = known if i + 1 >= len(steps) else self._noised(known, noise, steps[i + 1])
            latents = torch.cat([level.to(latents.dtype), latents[:, :, k:]], dim=2)
            return latents if callback is None else callback(i, t, latents)

        return keep if k else callback

    def extend(self, shape: tuple, predict: Callable, start: Callable, num_inference_steps: int, window: int,
               carry: int, callback: Callable | None, generator: torch.Generator | None,
               first: torch.Tensor | None = None) -> torch.Tensor:
        """A long clip made window by window (autoregressive extension): each window of `window` frames after the
        first starts with the last `carry` frames the one before made, kept as made, and makes the rest; with
        `carry` 0 the windows are independent chunks (the baseline). `start(frames)` gives a window's starting
        latents, step index and noise for its frames (a slice of the whole clip's start: the plan runs across
        windows). `first` (B, C, h, w): a given frame 0, kept."""
        out = torch.zeros(shape, device=self._execution_device, dtype=self.unet.dtype)
        spans = context_windows(shape[2], window, carry)
        made = 0 if first is None else 1
        if first is not None:
            out[:, :, 0] = first
        for k, span in enumerate(spans):
            self.window = (k, len(spans))
            latents, begin, noise = start(slice(span.start, span.stop))
            known = slice(span.start, max(span.start, made if carry or k == 0 else span.start))
            step = self.keeper(out[:, :, known], noise[:, :, :known.stop - known.start], callback)
            latents = self.denoise(latents, predict, num_inference_steps, begin, step, generator)
            out[:, :, made:span.stop] = latents[:, :, made - span.start:]
            made = span.stop
        return out

    def check_image(self, image: torch.Tensor, count: int, height: int, width: int) -> torch.Tensor:
        """A given first frame, (3, H, W) or (B, 3, H, W) in [0, 1] at the clip's size, in the model's space."""
        if not torch.is_tensor(image) or image.ndim not in (3, 4) or image.shape[-3] != 3:
            raise ValueError("the first frame must be an RGB image tensor (3, H, W) or (B, 3, H, W) in [0, 1]")
        image = (image[None] if image.ndim == 3 else image).float()
        if tuple(image.shape[-2:]) != (height, width):
            raise ValueError(f"the first frame is {image.shape[-2]}×{image.shape[-1]}, the clip {height}×{width}: "
                             "resize it to the clip's size")
        if image.shape[0] not in (1, count):
            raise ValueError(f"{image.shape[0]} first frames for {count} prompts")
        return self.encode_image(image.expand(count, -1, -1, -1).clamp(0, 1)).to(self._execution_device,
                                                                                 self.unet.dtype)

    def starts(self, shape: tuple, predict: Callable, plans: list | None, first: torch.Tensor | None, method: str,
               strength: float, num_inference_steps: int, generator: torch.Generator | None,
               window: int | None = None, overlap: int = DEFAULT_OVERLAP, callback: Callable | None = None) -> Callable:
        """`start(frames)`: the starting latents, timestep index and noise of a slice of the clip's frames. Along
        the motion plans or from a given frame 0 (engine.motion; the plan runs across the whole clip), else from
        noise (FreeNoise's rescheduled noise, windows sharing it, when `window` is given)."""
        if plans is not None or first is not None:
            plans = plans or [None] * shape[0]
            clean, noise = self.planned_clip(shape, predict, plans, num_inference_steps, generator, first, callback)
            return lambda f: (*self.started(clean[:, :, f], noise[:, :, f], method, strength, num_inference_steps),
                              noise[:, :, f])
        noise = frame_noise(shape, generator, getattr(self.unet, "noise_share", 0.0), self._execution_device,
                            self.unet.dtype)
        if window is not None:
            noise = rescheduled_noise(noise, window, overlap, generator)
        sigma = getattr(self.scheduler, "init_noise_sigma", 1.0)  # flow schedulers start at σ = 1
        return lambda f: (noise[:, :, f] * sigma, 0, noise[:, :, f])

    def sample_pyramid(self, shape, predict, plans, pyramid, renoise, strength, num_inference_steps, generator,
                       callback):
        """TPDiff's temporal pyramid, from its own noise at the lowest frame rate or part-way from the clip carried
        along the motion plans."""
        begin = None
        if plans is not None:
            clean, noise = self.planned_clip(shape, predict, plans, num_inference_steps, generator, callback=callback)
            begin = (clean, noise, strength)
        form = noise_form(self.scheduler)
        if form.name == "ddim" and self.scheduler.config.prediction_type == "v_prediction":
            v_predict = predict  # a v-predicting model: the pyramid's DDIM steps take ε = a·v + b·x_t
            predict = lambda x, t: epsilon_from_v(self.scheduler.alphas_cumprod, x, t, v_predict(x, t))
        return pyramid_sample(predict, form, shape, pyramid, num_inference_steps, renoise, generator, callback,
                              lambda: self.interrupt, device=self._execution_device, dtype=self.unet.dtype,
                              begin=begin)

    def sample_long(self, shape, predict, start, first, window, overlap, long_method, num_inference_steps,
                    generator, callback):
        """A clip of any length: in one pass when it fits in `window` (None: any length up to MAX_ONE_PASS),
        else by `long_method` (engine.diffusion.windows)."""
        if window is not None and shape[2] > window and long_method != "windows":
            carry = overlap if long_method == "autoregressive" else 0
            return self.extend(shape, predict, start, num_inference_steps, window, carry, callback, generator, first)
        if window is not None and shape[2] > window:
            predict = windowed(predict, window, overlap)
        latents, begin, noise = start(slice(None))
        if first is not None:
            callback = self.keeper(first[:, :, None], noise[:, :, :1], callback)
        return self.denoise(latents, predict, num_inference_steps, begin, callback, generator)

    # Over 60 lines: diffusers' __call__, its options documented in place and its work as numbered steps.
    @torch.no_grad()
    def __call__(self, prompt: str | list[str], negative_prompt: str | list[str] | None = None, num_frames: int = 8,
                 num_inference_steps: int = 25, guidance_scale: float = 4.0, height: int | None = None,
                 width: int | None = None, generator: torch.Generator | None = None, latents: torch.Tensor | None = None,
                 callback_on_step_end: Callable | None = None, pyramid: int | None = None, renoise: bool = True,
                 decode_chunk_size: int | None = None, motion_plan: MotionPlan | list | None = None,
                 motion_method: str | None = None, motion_strength: float | None = None, cross_frame: bool = False,
                 image: torch.Tensor | None = None, context_window: int | None = None,
                 context_overlap: int = DEFAULT_OVERLAP, long_method: str = "windows", return_dict: bool = True):
        """`pyramid=K` samples through TPDiff's K-stage temporal pyramid (a pyramid-trained model; frames a
        multiple of 2^(K−1)); `renoise=False` is its ablation. `num_inference_steps` is then the total over
        the stages. `decode_chunk_size` frames go through the VAE at once (latent models; default all).
        `motion_plan` (one engine.motion.MotionPlan, or one per prompt) moves the clip along a plan, by
        `motion_method` "frame" (the default: frame 0 carried along the plan and noised back to
        `motion_strength`, default 0.7) or "noise" (noise warped along it). `cross_frame`: every frame's spatial
        self-attention attends to frame 0 (Text2Video-Zero's cross-frame attention; training-free, any mode).
        `image` (3, H, W) or (B, 3, H, W) in [0, 1]: frame 0 as given (image-to-video), the rest carried from it
        along the plan and denoised. Clips longer than `context_window` frames are made by `long_method`:
        "windows" (context windows overlapping by `context_overlap`, fused at every step, FreeNoise's noise),
        "autoregressive" (each window starts from the last `context_overlap` frames of the one before) or
        "chunks" (independent windows: the baseline); engine.diffusion.windows."""
        # 1. check inputs
        height = height or self.unet.config.sample_size * self.vae_scale_factor
        width = width or self.unet.config.sample_size * self.vae_scale_factor
        self.check_inputs(prompt, num_frames, num_inference_steps, guidance_scale, height, width, context_window,
                          context_overlap, long_method)
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        negative = None if negative_prompt is None else (
            [negative_prompt] * len(prompts) if isinstance(negative_prompt, str) else list(negative_prompt))
        plans = None if motion_plan is None else plans_per_clip(motion_plan, len(prompts))
        motion_method, motion_strength = motion_method or DEFAULT_METHOD, motion_strength or DEFAULT_STRENGTH
        if plans is not None:
            check_method(motion_method, motion_strength)
        if pyramid and (image is not None or (context_window or num_frames) < num_frames
                        or (plans is not None and motion_method != "frame")):
            raise ValueError("the temporal pyramid samples every frame in one pass from its own noise, following a "
                             "motion plan by the frame method: sample without --pyramid for a given first frame, "
                             "context windows or --motion-method noise")
        self.start_run()
        self.window = None
        first = None if image is None else self.check_image(image, len(prompts), height, width)

        # 2. encode the prompt (and the negative prompt for classifier-free guidance)
        text = self.encode(prompts, negative, guidance_scale)

        # 3. the noise form
        s = self.vae_scale_factor
        shape = (len(prompts), self.unet.config.in_channels, num_frames, height // s, width // s)
        predict = lambda x, t: self.predict(x, t, text, guidance_scale)
        callback = pipeline_callback(self, callback_on_step_end)
        with cross_frame_attention(self.unet) if cross_frame else nullcontext():  # Text2Video-Zero §3.2
            if pyramid:
                # 4–5. the temporal pyramid
                latents = self.sample_pyramid(shape, predict, None if latents is not None else plans, pyramid,
                                              renoise, motion_strength, num_inference_steps, generator, callback)
            else:
                # 4. where sampling starts (B, C, F, h, w): along the motion plans or from the given frame 0, or
                # noise (a mode trained on noise shared over frames starts from the same mix)
                if latents is not None:
                    given, sigma = latents, getattr(self.scheduler, "init_noise_sigma", 1.0)
                    start = lambda f: (given[:, :, f] * sigma, 0, given[:, :, f])
                else:
                    # FreeNoise's shared noise for fused windows; windows made one after another draw their own
                    long = (context_window if context_window and num_frames > context_window
                            and long_method == "windows" else None)
                    start = self.starts(shape, predict, plans, first, motion_method, motion_strength,
                                        num_inference_steps, generator, long, context_overlap, callback)
                # 5. denoise: in one pass, or a long clip in windows
                latents = self.sample_long(shape, predict, start, first, context_window, context_overlap,
                                           long_method, num_inference_steps, generator, callback)

        # 6. to frames in [0, 1] (latent models: through the VAE, a chunk of frames at a time)
        frames = self.decode(latents, decode_chunk_size or self.decode_chunk_size)
        if image is not None:  # the given frame exactly, not its trip through a VAE
            frames[:, 0] = (image[None] if image.ndim == 3 else image).float().clamp(0, 1).cpu()
        self.maybe_free_model_hooks()
        return VideoOutput(frames=frames) if return_dict else (frames,)
