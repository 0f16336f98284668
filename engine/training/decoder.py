"""Fine-tune a temporal video decoder (FusionFrames §4.3) on world clips: the VAE's encoder (frozen) encodes each
frame, the decoder with its temporal layers decodes the clip, and only the temporal layers train, on the MSE
between the decoded clip and the clip (Table 3's "Finetune: Temporal" rows). Clips are 8 frames at 8 fps (what
interpolation produces), random 64² crops of 128² renders by default (the layers are convolutions and attention
over frames at each position, so a crop teaches them what a whole frame would, at a quarter of the cost).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import torch

from ..distributed import process_state
from ..models.decoder import TemporalDecoder, save_decoder
from ..models.expert import VAE_ASSET, load_world_vae
from ..sidecar import model_hash, recorded_path
from ..models.vae import encode_frames
from ..files import atomic_folder
from .checkpoint import run_folder
from .expert import world_batch
from .loop import train_loop


def decoder_loss(decoder: TemporalDecoder, vae, pixels: torch.Tensor) -> torch.Tensor:
    """Reconstruction MSE of clips (B, 3, F, H, W) in [-1, 1] through the frozen encoder and the temporal decoder."""
    with torch.no_grad():
        z = encode_frames(vae, pixels)
    return (decoder(z) - pixels).pow(2).mean()


def train_decoder(variant: str, out: str | Path, vae: str | Path | None = None, steps: int = 600, batch_size: int = 2,
                  lr: float = 5e-4, seed: int = 0, work_dir: str | Path | None = None, frames: int = 8,
                  fps: float = 8.0, crop: int | None = 64, checkpoint_every: int = 100) -> dict:
    """Add `variant`'s temporal layers to the VAE's decoder and tune them; write a decoder folder (fp16)."""
    torch.manual_seed(seed)
    v, record = load_world_vae(vae, process_state().device)
    v.requires_grad_(False)
    decoder = TemporalDecoder.from_vae(v, variant)
    decoder.requires_grad_(False)
    decoder.temporal.requires_grad_(True)
    size = int(record["size"])
    crop = min(crop or size, size)
    work_dir = run_folder(work_dir or f"runs/decoder/{variant}")
    state = train_loop({"decoder": decoder}, lambda s: world_batch(s, batch_size, seed + 9, size, crop, frames, fps),
                       lambda b: decoder_loss(decoder, v, b["pixels"]), steps, work_dir, lr=lr,
                       checkpoint_every=checkpoint_every, title=f"temporal decoder {variant}")
    if process_state().is_main_process:
        with atomic_folder(out) as tmp:
            save_decoder(decoder, tmp, {"vae": recorded_path(vae or VAE_ASSET), "vae_hash": model_hash(v), "size": size,
                                        "crop": crop, "frames": frames, "fps": fps, "steps": steps,
                                        "batch_size": batch_size, "lr": lr, "seed": seed,
                                        "temporal_parameters": sum(p.numel() for p in decoder.temporal_parameters()),
                                        "data": "world clips, train split"})
            if (work_dir / "loss.png").is_file():
                shutil.copy2(work_dir / "loss.png", tmp / "loss.png")
    process_state().wait_for_everyone()
    return state
