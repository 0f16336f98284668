"""Text-to-video keyframes: an inflated image UNet denoised with any diffusers scheduler.

Pixel-space (IF-like) models denoise frames directly; the output is (B, F, 3, H, W) in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from ..diffusion.pyramid import noise_form, pyramid_sample
from ..models.text import encode_prompts


@dataclass
class VideoOutput(BaseOutput):
    frames: torch.Tensor  # (B, F, 3, H, W) in [0, 1]


class TextToVideoPipeline(DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->unet"
    _callback_tensor_inputs = ["latents"]

    def __init__(self, unet, text_encoder, tokenizer, scheduler):
        super().__init__()
        self.register_modules(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler)
        self._interrupt = False

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    def stop(self):
        """Ask a running __call__ to stop after the current step (the studio's Stop button)."""
        self._interrupt = True

    def check_inputs(self, prompt, num_frames, num_inference_steps, guidance_scale, height, width):
        if not isinstance(prompt, (str, list)) or (isinstance(prompt, list) and not all(isinstance(p, str) for p in prompt)):
            raise ValueError("prompt must be a string or a list of strings")
        if not 1 <= num_frames <= 64:
            raise ValueError(f"frames must be between 1 and 64, got {num_frames}")
        if not 1 <= num_inference_steps <= 1000:
            raise ValueError(f"steps must be between 1 and 1000, got {num_inference_steps}")
        if not (guidance_scale == guidance_scale and 0 <= guidance_scale <= 50):
            raise ValueError(f"guidance must be a number between 0 and 50, got {guidance_scale}")
        if height % 8 or width % 8 or height < 8 or width < 8:
            raise ValueError(f"height and width must be multiples of 8, got {height}×{width}")

    @torch.no_grad()
    def encode(self, prompts: list[str], negative: list[str] | None, guidance_scale: float) -> torch.Tensor:
        states = encode_prompts(self.tokenizer, self.text_encoder, prompts)
        if guidance_scale > 1:
            uncond = encode_prompts(self.tokenizer, self.text_encoder, negative or [""] * len(prompts))
            states = torch.cat([uncond, states])
        return states

    def predict(self, x: torch.Tensor, t, text: torch.Tensor, guidance_scale: float) -> torch.Tensor:
        """The UNet's prediction at x, with classifier-free guidance when guidance_scale > 1."""
        if guidance_scale <= 1:
            return self.unet(x, t, text)
        uncond, cond = self.unet(torch.cat([x] * 2), t, text).chunk(2)
        return uncond + guidance_scale * (cond - uncond)

    def _step_callback(self, callback: Callable | None):
        if callback is None:
            return None
        return lambda i, t, x: (callback(self, i, t, {"latents": x}) or {}).get("latents", x)

    @torch.no_grad()
    def __call__(self, prompt: str | list[str], negative_prompt: str | list[str] | None = None, num_frames: int = 8,
                 num_inference_steps: int = 25, guidance_scale: float = 4.0, height: int | None = None,
                 width: int | None = None, generator: torch.Generator | None = None, latents: torch.Tensor | None = None,
                 callback_on_step_end: Callable | None = None, pyramid: int | None = None, renoise: bool = True,
                 return_dict: bool = True):
        """`pyramid=K` samples through TPDiff's K-stage temporal pyramid (a pyramid-trained model; frames a
        multiple of 2^(K−1)); `renoise=False` is its ablation. `num_inference_steps` is then the total over
        the stages."""
        # 1. check inputs
        height = height or self.unet.config.sample_size
        width = width or self.unet.config.sample_size
        self.check_inputs(prompt, num_frames, num_inference_steps, guidance_scale, height, width)
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        negative = None if negative_prompt is None else (
            [negative_prompt] * len(prompts) if isinstance(negative_prompt, str) else list(negative_prompt))
        self._interrupt = False
        device = self._execution_device

        # 2. encode the prompt (and the negative prompt for classifier-free guidance)
        text = self.encode(prompts, negative, guidance_scale)

        # 3. the noise form and, for plain sampling, the timesteps
        shape = (len(prompts), self.unet.config.in_channels, num_frames, height, width)
        predict = lambda x, t: self.predict(x, t, text, guidance_scale)
        if pyramid:
            # 4–5. the temporal pyramid starts from its own noise at the lowest frame rate
            stop = lambda: self.interrupt
            latents = pyramid_sample(predict, noise_form(self.scheduler), shape, pyramid, num_inference_steps,
                                     renoise, generator, self._step_callback(callback_on_step_end), stop)
        else:
            self.scheduler.set_timesteps(num_inference_steps, device=device)
            # 4. initial noise, (B, C, F, H, W)
            latents = latents if latents is not None else randn_tensor(shape, generator=generator, device=device,
                                                                        dtype=self.unet.dtype)
            latents = latents * self.scheduler.init_noise_sigma
            # 5. denoise
            for i, t in enumerate(self.progress_bar(self.scheduler.timesteps)):
                if self.interrupt:
                    break
                eps = predict(self.scheduler.scale_model_input(latents, t), t)
                latents = self.scheduler.step(eps, t, latents, generator=generator).prev_sample
                if callback_on_step_end is not None:
                    out = callback_on_step_end(self, i, t, {"latents": latents}) or {}
                    latents = out.get("latents", latents)

        # 6. to frames in [0, 1]
        frames = (latents / 2 + 0.5).clamp(0, 1).permute(0, 2, 1, 3, 4).float().cpu()  # b c f h w -> b f c h w
        self.maybe_free_model_hooks()
        return VideoOutput(frames=frames) if return_dict else (frames,)
