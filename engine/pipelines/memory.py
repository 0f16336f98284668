"""The memory options users of real checkpoints expect, as one value the CLI, the studio and notebooks pass on.

| option | what it does | costs |
|---|---|---|
| attention="sdpa" | PyTorch's scaled-dot-product attention (flash / memory-efficient kernels on a GPU); the default | — |
| attention="sliced" | attention a few heads at a time | a little speed |
| vae_slicing | the VAE decodes one frame at a time | a little speed (latent models) |
| vae_tiling | the VAE decodes each frame in overlapping tiles | a little speed, for large frames (latent models) |
| cpu_offload | each model (text encoder, UNet, VAE) moves to the GPU only while it runs | host↔GPU copies (needs CUDA) |
| frame_chunk=N | the VAE decodes N frames at a time | — (latent models) |

The UNet itself always sees every frame at once: its temporal layers attend and convolve across frames.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

ATTENTION = ("sdpa", "sliced")


@dataclass(frozen=True)
class MemoryOptions:
    attention: str = "sdpa"
    vae_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False
    frame_chunk: int | None = None

    def __post_init__(self):
        if self.attention not in ATTENTION:
            raise ValueError(f"unknown attention {self.attention!r}; choose one of: {', '.join(ATTENTION)}")
        if self.frame_chunk is not None and self.frame_chunk < 1:
            raise ValueError(f"frame chunks must hold at least one frame, got {self.frame_chunk}")

    def to_dict(self) -> dict:
        return asdict(self)

    def apply(self, pipe, device: torch.device | str = "cpu"):
        """Set these options on a TextToVideoPipeline whose models sit on the CPU (offload) or on `device`."""
        if self.attention == "sliced":
            pipe.enable_attention_slicing()
        if self.vae_slicing:
            pipe.enable_vae_slicing()
        if self.vae_tiling:
            pipe.enable_vae_tiling()
        pipe.decode_chunk_size = self.frame_chunk
        if self.cpu_offload:
            if torch.device(device).type != "cuda":
                raise ValueError("model CPU offload keeps models on the CPU and moves each to the GPU while it runs: "
                                 "it needs --device cuda (on a CPU the models are already there)")
            pipe.enable_model_cpu_offload(device=device)
        return pipe
