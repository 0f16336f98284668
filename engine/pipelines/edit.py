"""One-shot video editing (Tune-A-Video; SimDA §3.4): DDIM-invert a clip with its source prompt, then sample the
edited prompt from the inverted latents, so the clip's layout and motion carry over and the prompt's change takes.

The model is usually one-shot tuned on the clip first (`engine.edit.edit_video` does that); this pipeline only
inverts and samples. Inverted latents are cached on disk (`InversionCache`), keyed by what they depend on: the
clip's content, the model's weights, the source prompt, the steps and the strength.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from ..edit_settings import GUIDANCE, MOTION_STRENGTH, STEPS, STRENGTH
from ..diffusion.inversion import ddim_invert, inverse_scheduler, inversion_steps, sample_from, sampler
from ..diffusion.loop import pipeline_callback
from ..sidecar import model_hash
from ..motion import FINE, check_method, fine_noise_like
from ..models.vae import encode_frames
from ..files import atomic_path
from .text_to_video import TextToVideoPipeline, VideoOutput, plans_per_clip

DEFAULT_STRENGTH, DEFAULT_STEPS, DEFAULT_GUIDANCE = STRENGTH, STEPS, GUIDANCE


def tensor_hash(x: torch.Tensor) -> str:
    """A short content hash of a tensor (a clip: the same frames give the same hash)."""
    return hashlib.sha256(x.detach().float().contiguous().cpu().numpy().tobytes()).hexdigest()[:16]


class InversionCache:
    """Inverted latents as safetensors files under `root`, one per key, written atomically."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @staticmethod
    def key(**parts) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]

    def path(self, key: str) -> Path:
        return self.root / "inversions" / f"{key}.safetensors"

    def get(self, key: str) -> tuple[torch.Tensor, int] | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            data = load_file(str(path))
        except Exception:  # an unreadable entry is a miss (it is rewritten), never an error
            return None
        return data["latents"], int(data["timestep"])

    def put(self, key: str, latents: torch.Tensor, timestep: int):
        with atomic_path(self.path(key)) as tmp:
            save_file({"latents": latents.detach().contiguous().cpu(), "timestep": torch.tensor(timestep)}, str(tmp))


class EditPipeline(TextToVideoPipeline):
    """(clip, source prompt, edited prompt) -> the edited clip, at the model's resolution.

    Build it from a text-to-video pipeline's parts: `EditPipeline(**keyframe_pipeline(...)[0].components)`."""

    def check_edit_inputs(self, video, source_prompt, prompt, num_inference_steps, strength, guidance_scale):
        if not torch.is_tensor(video) or video.ndim != 5 or video.shape[1] != 3:
            raise ValueError("the clip must be a tensor shaped (B, 3, F, H, W) in [0, 1] (engine.training.clips.fit_clip)")
        for name, p in (("source prompt", source_prompt), ("prompt", prompt)):
            if not isinstance(p, str) or not p.strip():
                raise ValueError(f"give the {name}: what the clip {'shows' if name != 'prompt' else 'should show'}, "
                                 "in the world's words")
        inversion_steps(num_inference_steps, strength)
        self.check_inputs(prompt, video.shape[2], num_inference_steps, guidance_scale, video.shape[-2], video.shape[-1])

    def follow_plan(self, latents: torch.Tensor, motion_plan, strength: float, predict: Callable, steps: int,
                    inversion_strength: float, callback: Callable | None, generator: torch.Generator | None,
                    first_noise: torch.Tensor | None = None):
        """The edited latents' frame 0 carried along the motion plan(s) and sampled again from `strength` of the
        schedule (the frame method); `callback(i, t, x)` numbers these steps after the edit's own. `first_noise`
        (B, C, h, w): frame 0's own noise (from the inversion), which the warped noise is made around, so that
        frame 0 noised back is found where it was (fresh noise lets the model redraw it elsewhere)."""
        plans = plans_per_clip(motion_plan, latents.shape[0])
        check_method("frame", strength)
        fine = None if first_noise is None else fine_noise_like(first_noise.float().cpu(), FINE, generator)
        clean, noise = self.carry_first(latents[:, :, 0], plans, latents.shape[2], fine, generator)
        latents, start = self.noised_back(clean, noise, strength, steps)
        done = inversion_steps(steps, inversion_strength)
        on_step = None if callback is None else lambda i, t, x: callback(done + i - start, t, x)
        return self.denoise(latents, predict, steps, start, on_step, generator)

    # Over 60 lines: diffusers' __call__, its options documented in place and its work as numbered steps.
    @torch.no_grad()
    def __call__(self, video: torch.Tensor, source_prompt: str, prompt: str, negative_prompt: str | None = None,
                 num_inference_steps: int = DEFAULT_STEPS, strength: float = DEFAULT_STRENGTH,
                 guidance_scale: float = DEFAULT_GUIDANCE, generator: torch.Generator | None = None,
                 cache: InversionCache | None = None, callback_on_step_end: Callable | None = None,
                 callback_on_inversion_step: Callable | None = None, motion_plan=None,
                 motion_strength: float | None = None, return_dict: bool = True):
        """`video`: (B, 3, F, H, W) in [0, 1] at the model's size. `strength`: how far into the noise schedule the
        clip is inverted (1 = all the way; less keeps more of the clip). `callback_on_step_end` and
        `callback_on_inversion_step`: `callback(pipe, i, t, {"latents": ...})` after every sampling step and every
        inversion step (none when the inversion comes from the cache). `motion_plan` (an engine.motion.MotionPlan,
        or one per clip): the edited frame 0 is carried along it and the clip sampled again from `motion_strength`
        of the schedule (the frame method, default edit_settings.MOTION_STRENGTH), so the edit moves as the plan
        says. Returns frames (B, F, 3, H, W) in [0, 1]; `self.last_inversion` says whether the inverted latents
        came from the cache."""
        # 1. check inputs
        self.check_edit_inputs(video, source_prompt, prompt, num_inference_steps, strength, guidance_scale)
        self.start_run()
        device, dtype = self._execution_device, self.unet.dtype
        b = video.shape[0]
        pixel = self.vae is None

        # 2. the clip to what the UNet denoises: pixels in [-1, 1], or VAE latents
        x0 = video.to(device=device, dtype=dtype) * 2 - 1
        x0 = encode_frames(self.vae, x0, self.decode_chunk_size) if self.vae is not None else x0

        # 3. DDIM-invert with the source prompt, unguided (or take the cached inversion)
        key = InversionCache.key(clip=tensor_hash(video), model=model_hash(self.unet), source=source_prompt,
                                 steps=num_inference_steps, strength=strength) if cache is not None else None
        hit = cache.get(key) if cache is not None else None
        if hit is not None and hit[0].shape == x0.shape:
            x_t, t_start = hit[0].to(device=device, dtype=dtype), hit[1]
        else:
            source = self.encode([source_prompt] * b, None, 1.0)
            x_t, t_start = ddim_invert(lambda x, t: self.predict(x, t, source, 1.0), x0,
                                       inverse_scheduler(self.scheduler.config, pixel), num_inference_steps, strength,
                                       pipeline_callback(self, callback_on_inversion_step))
            if cache is not None:
                cache.put(key, x_t, t_start)
        self.last_inversion = {"cached": hit is not None, "timestep": t_start, "key": key}

        # 4. encode the edited prompt (with the negative prompt for classifier-free guidance)
        negative = None if negative_prompt is None else [negative_prompt] * b
        text = self.encode([prompt] * b, negative, guidance_scale)

        # 5. sample the edited prompt back from the inverted latents
        step_end = pipeline_callback(self, callback_on_step_end)
        latents = sample_from(lambda x, t: self.predict(x, t, text, guidance_scale), x_t, t_start,
                              sampler(self.scheduler.config, pixel), num_inference_steps, generator,
                              step_end, lambda: self.interrupt)

        # 6. with motion plans: the edited frame 0 carried along them, noised back and sampled again (the
        # callback's step numbers go on from the sampling's)
        if motion_plan is not None:
            ac = self.scheduler.alphas_cumprod[int(t_start)].to(x0)  # frame 0's noise: x_t = √ᾱ·x_0 + √(1−ᾱ)·ε
            first_noise = (x_t[:, :, 0] - ac.sqrt() * x0[:, :, 0]) / (1 - ac).sqrt()
            latents = self.follow_plan(latents, motion_plan, motion_strength or MOTION_STRENGTH,
                                       lambda x, t: self.predict(x, t, text, guidance_scale), num_inference_steps,
                                       strength, step_end, generator, first_noise)

        # 7. to frames in [0, 1] (latent models: through the VAE)
        frames = self.decode(latents, self.decode_chunk_size)
        self.maybe_free_model_hooks()
        return VideoOutput(frames=frames) if return_dict else (frames,)
