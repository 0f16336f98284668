"""Video super-resolution: an inflated SR UNet (`engine.models.sr`) run over a clip in segments.

A clip too long to denoise at once is split into segments of F frames that overlap by one: the last upscaled
frame of a segment is carried into the next, where it fills the condition channels of that segment's first frame
in place of the bilinear-upsampled low-resolution frame, and is kept as it was (MPL-Video §3.5; 29 frames make
four segments of 8). `upscale_frames` runs it on frames of any size: frames larger than the model's budget are
scaled down first, odd sizes are padded and cropped back (`engine.upscale.upscale_file` runs that on a video file).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, DiffusionPipeline
from diffusers.utils.torch_utils import randn_tensor
from einops import rearrange

from ..diffusion.loop import StoppablePipeline, pipeline_callback
from ..diffusion.noise import frame_noise
from ..models.base import model_output
from ..models.sr import augment, back_project, load_video_sr, side_multiple, sr_forward, upsample
from ..models.text import encode_prompts
from .load import SCHEDULERS, prompt_for
from .text_to_video import VideoOutput


SEGMENT, MAX_SEGMENT = 8, 64  # frames a segment (the clips the video models train on), and the most allowed


def check_segment_frames(size: int):
    if not 2 <= size <= MAX_SEGMENT:
        raise ValueError(f"segment frames must be between 2 and {MAX_SEGMENT} (one is carried into the next), got "
                         f"{size}")


def segments(frames: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) of each segment: `size` frames each (the last may be shorter), consecutive ones sharing a frame."""
    if size < 2:
        raise ValueError(f"segments need at least 2 frames (one is carried over), got {size}")
    spans = [(0, min(size, frames))]
    while spans[-1][1] < frames:
        start = spans[-1][1] - 1
        spans.append((start, min(start + size, frames)))
    return spans


class VideoUpscalePipeline(StoppablePipeline, DiffusionPipeline):
    """`image_noising_scheduler`: the schedule the condition is augmented with (IF stage II has its own; default
    the sampling schedule's); `align_corners`: how the condition is upsampled (True for IF stage II)."""
    _callback_tensor_inputs = ["latents"]
    _optional_components = ["image_noising_scheduler"]

    def __init__(self, unet, text_encoder, tokenizer, scheduler, scale: int = 4, noise_level: int = 0,
                 residual: bool = True, image_noising_scheduler=None, align_corners: bool = False):
        super().__init__()
        self.register_modules(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
                              image_noising_scheduler=image_noising_scheduler)
        self.register_to_config(scale=scale, noise_level=noise_level, residual=residual, align_corners=align_corners)
        # q(x_t | x_0) of the condition's augmentation schedule
        self.augmenter = image_noising_scheduler or DDPMScheduler.from_config(scheduler.config)

    def check_inputs(self, video: torch.Tensor, num_inference_steps: int, segment_frames: int, noise_level: int,
                     noise_share: float = 1.0, consistency: int = 0):
        if not torch.is_tensor(video) or video.ndim != 5 or video.shape[2] != 3:
            raise ValueError(f"video must be a tensor (B, F, 3, h, w) in [0, 1], got "
                             f"{tuple(video.shape) if torch.is_tensor(video) else type(video).__name__}")
        if video.numel() == 0 or not torch.isfinite(video).all() or video.min() < 0 or video.max() > 1:
            raise ValueError("video values must be finite and in [0, 1]")
        m, s = side_multiple(self.unet), self.config.scale
        h, w = video.shape[-2:]
        if (h * s) % m or (w * s) % m:
            raise ValueError(f"{h}×{w} frames upscale ×{s} to {h * s}×{w * s}; the UNet needs sides that are "
                             f"multiples of {m}: pad the frames first (upscale_frames does)")
        if not 1 <= num_inference_steps <= 1000:
            raise ValueError(f"steps must be between 1 and 1000, got {num_inference_steps}")
        check_segment_frames(segment_frames)
        if not 0 <= noise_share <= 1 or consistency < 0:
            raise ValueError(f"noise share must be in [0, 1] and consistency iterations ≥ 0, got {noise_share}, "
                             f"{consistency}")
        if not 0 <= noise_level < self.augmenter.config.num_train_timesteps:
            top = self.augmenter.config.num_train_timesteps
            raise ValueError(f"noise level must be in [0, {top}), got {noise_level}")

    @torch.no_grad()
    def encode(self, prompts: list[str], guidance_scale: float) -> torch.Tensor:
        states = encode_prompts(self.tokenizer, self.text_encoder, prompts)
        if guidance_scale > 1:
            states = torch.cat([encode_prompts(self.tokenizer, self.text_encoder, [""] * len(prompts)), states])
        return states.to(self.unet.dtype)

    def predict(self, x, t, cond, text, level, guidance_scale: float) -> torch.Tensor:
        """ε or v for x given the condition, with classifier-free guidance over the prompt when > 1."""
        dtype = self.unet.dtype
        if guidance_scale <= 1:
            return model_output(sr_forward(self.unet, x.to(dtype), cond, t, text, level), 3).to(x.dtype)
        pred = sr_forward(self.unet, torch.cat([x] * 2).to(dtype), torch.cat([cond] * 2), t, text, torch.cat([level] * 2))
        uncond, conditioned = model_output(pred, 3).chunk(2)
        return (uncond + guidance_scale * (conditioned - uncond)).to(x.dtype)

    def denoise(self, cond, text, level, steps, guidance_scale, generator, callback: Callable | None, share: float = 0.0,
                offset: torch.Tensor | float = 0):
        """One segment: (B, 3, f, H, W) condition -> the model's sample plus `offset` (a residual model's bicubic),
        (B, 3, f, H, W) in about [-1, 1], from noise that frames share by `share` (PYoCo's mixed prior,
        engine.diffusion.noise). `callback(pipe, i, t, {"latents": x, "frames": x + offset})` after every step;
        "frames" is the sample as frames (a preview), as in the interpolation pipelines."""
        self.scheduler.set_timesteps(steps, device=cond.device)
        x = frame_noise(cond.shape, generator, share, cond.device, cond.dtype)
        x = x * getattr(self.scheduler, "init_noise_sigma", 1.0)
        predict = lambda x, t: self.predict(x, t, cond, text, level, guidance_scale)  # noqa: E731
        on_step = pipeline_callback(self, callback, lambda x: {"frames": x + offset})
        return self.run_steps(x, predict, on_step=on_step, generator=generator) + offset

    @torch.no_grad()
    def __call__(self, video: torch.Tensor, prompt: str | list[str] = "", num_inference_steps: int = 20,
                 guidance_scale: float = 1.0, noise_level: int | None = None, segment_frames: int = SEGMENT,
                 generator: torch.Generator | None = None, callback_on_step_end: Callable | None = None,
                 noise_share: float = 1.0, consistency: int = 3, return_dict: bool = True):
        """Upscale `video` (B, F, 3, h, w) in [0, 1] by the model's scale: frames (B, F, 3, s·h, s·w) in [0, 1].
        `noise_level`: the condition's augmentation level (default: the model's); `segment_frames`: F;
        `noise_share`: how much of the initial noise the frames share (1: one draw for all, so that what the model
        fails to remove is the same in every frame instead of flickering); `consistency`: back-projection
        iterations that make each frame average back to its low-resolution frame (0: none)."""
        # 1. check inputs
        noise_level = self.config.noise_level if noise_level is None else int(noise_level)
        self.start_run()  # Stop (engine.diffusion.loop) ends a run after its current step
        self.check_inputs(video, num_inference_steps, segment_frames, noise_level, noise_share, consistency)
        device, dtype = self._execution_device, self.unet.dtype
        b, n = video.shape[:2]
        prompts = [prompt] * b if isinstance(prompt, str) else list(prompt)
        if len(prompts) != b:
            raise ValueError(f"{len(prompts)} prompts for {b} clips")

        # 2. encode the prompt
        text = self.encode(prompts, guidance_scale)

        # 3. the condition: low-resolution frames upsampled bilinearly, in [-1, 1]
        low = rearrange(video.to(device, torch.float32) * 2 - 1, "b f c h w -> b c f h w")
        size = (low.shape[-2] * self.config.scale, low.shape[-1] * self.config.scale)
        cond = upsample(low, size, align_corners=self.config.align_corners)
        base = upsample(low, size, "bicubic")  # a residual model adds to the bicubic
        level = torch.full((b,), noise_level, device=device, dtype=torch.long)

        # 4. segments of F frames; each after the first starts from the carried last frame of the one before
        out, carried = torch.empty_like(cond), None
        for start, stop in segments(n, segment_frames):
            seg, seg_base = cond[:, :, start:stop].clone(), base[:, :, start:stop].clone()
            if carried is not None:
                seg[:, :, 0], seg_base[:, :, 0] = carried, carried
            noise = randn_tensor(seg.shape, generator=generator, device=device, dtype=seg.dtype)
            augmented = augment(seg, level, self.augmenter, noise) if noise_level > 0 else seg
            offset = seg_base if self.config.residual else 0  # a residual model adds what bicubic missed
            x = self.denoise(augmented.to(dtype), text, level, num_inference_steps, guidance_scale, generator,
                             callback_on_step_end, noise_share, offset).float().clamp(-1, 1)
            x = back_project(x, low[:, :, start:stop], consistency) if consistency else x
            if carried is not None:
                x[:, :, 0] = carried  # the carried frame stays as the last segment made it
            out[:, :, start:stop] = x
            carried = x[:, :, -1]

        # 5. frames in [0, 1]
        frames = rearrange(out / 2 + 0.5, "b c f h w -> b f c h w").clamp(0, 1).cpu()
        self.maybe_free_model_hooks()
        return VideoOutput(frames=frames) if return_dict else (frames,)


def upscale_pipeline(mode: str = "zero-shot", model=None, tuned=None, scheduler: str = "dpm++", device="cpu",
                     dtype=None) -> tuple[VideoUpscalePipeline, dict]:
    """The upscaler in `mode` (zero-shot, full, temporal) and the hashes of what it is made of."""
    if scheduler not in ("ddim", "dpm++"):
        raise ValueError(f"unknown scheduler {scheduler!r} for super-resolution; choose ddim or dpm++")
    sr, video, hashes = load_video_sr(mode, model, tuned, device, dtype)
    noising = DDPMScheduler.from_config(sr.noising_config) if sr.noising_config else None
    pipe = VideoUpscalePipeline(video, sr.text_encoder, sr.tokenizer, SCHEDULERS[scheduler](sr.sampler_config(), True),
                                sr.scale, sr.noise_level, sr.residual, noising, sr.align_corners)
    pipe.set_progress_bar_config(disable=True)
    return pipe, hashes


def fit_input(video: torch.Tensor, max_side: int, multiple: int) -> tuple[torch.Tensor, list[str], tuple[int, int]]:
    """Frames (F, 3, h, w) scaled down (area, aspect kept) so the long side is at most `max_side`, then padded
    (edge pixels repeated, bottom and right) to multiples of `multiple`: (frames, notes, size before padding)."""
    notes = []
    h, w = video.shape[-2:]
    if max(h, w) > max_side:
        k = max_side / max(h, w)
        size = (max(1, round(h * k)), max(1, round(w * k)))
        video = F.interpolate(video, size=size, mode="area")
        notes.append(f"scaled down from {w}×{h} to {size[1]}×{size[0]} (long side over --max-side {max_side})")
        h, w = size
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        video = F.pad(video, (0, pw, 0, ph), mode="replicate")
        notes.append(f"padded {w}×{h} to {w + pw}×{h + ph} (edge pixels repeated) and cropped back after upscaling")
    return video, notes, (h, w)


def upscale_frames(pipe: VideoUpscalePipeline, video: torch.Tensor, scale: int | None = None, prompt: str = "",
                   steps: int = 20, guidance: float = 1.0, noise_level: int | None = None, segment_frames: int = SEGMENT,
                   generator: torch.Generator | None = None, max_side: int = 64, noise_share: float = 1.0,
                   consistency: int = 3, callback: Callable | None = None) -> tuple[torch.Tensor, list[str]]:
    """Frames (F, 3, h, w) in [0, 1] of any size upscaled ×`scale` (default: the model's) by `pipe`: scaled down to
    `max_side` and edge-padded to the UNet's multiple (`fit_input`), upscaled in segments, cropped back, and, for a
    scale under the model's, scaled down (area). `callback`: the pipeline's `callback_on_step_end`, called after every
    step of every segment. Returns (frames (F, 3, scale·h', scale·w') in [0, 1], notes on what was done)."""
    model_scale = pipe.config.scale
    scale = scale or model_scale
    if not 1 <= scale <= model_scale:
        raise ValueError(f"this model upscales ×{model_scale}; choose --scale from 1 to {model_scale} (for more, "
                         f"upscale the result again, or train a model with `flipbook train-sr --scale {scale}`)")
    prompt = prompt_for(pipe.tokenizer, prompt)
    multiple = side_multiple(pipe.unet) // math.gcd(side_multiple(pipe.unet), model_scale)
    low, notes, (h, w) = fit_input(video, max_side, multiple)
    frames = pipe(low[None], prompt, steps, guidance, noise_level, segment_frames, generator,
                  callback_on_step_end=callback, noise_share=noise_share, consistency=consistency).frames[0]
    frames = frames[..., :h * model_scale, :w * model_scale]
    if scale != model_scale:
        frames = F.interpolate(frames, size=(h * scale, w * scale), mode="area")
        notes.append(f"upscaled ×{model_scale} and scaled down to ×{scale} (area)")
    return frames, notes
