"""Fine-tune a temporal video decoder (FusionFrames §4.3) on world clips: the VAE's encoder (frozen) encodes each
frame, the decoder with its temporal layers decodes the clip, and it trains on the MSE between the decoded clip
and the clip. `finetune="temporal"` tunes the temporal layers alone (Table 3's "Finetune:
Temporal" rows); `finetune="decoder"` tunes the whole decoder with them (its "Finetune: Decoder" rows, the best in
the table), which can also lift what the image decoder reconstructs: the encoder stays frozen, so every latent the
experts and the interpolation models make still decodes. Clips are 8 frames at 8 fps (what interpolation produces),
random `crop`² crops (64 by default) of renders at `sizes` in turn (default: the VAE's own size; the layers are convolutions and
attention over frames at each position, so a crop teaches them what a whole frame would, at a fraction of the cost,
and crops of larger renders show the finer detail of the cascade's top resolution). A whole-decoder finetune wants
whole frames, though (`crop` = the render side): on crops its GroupNorm and mid-block attention learn a crop's
statistics and it loses on whole frames (bench/results/decoder.md).
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


def decoder_loss(decoder: TemporalDecoder, vae, pixels: torch.Tensor, change_weight: float = 0.0) -> torch.Tensor:
    """Reconstruction MSE of clips (B, 3, F, H, W) in [-1, 1] through the frozen encoder and the temporal decoder,
    plus `change_weight` × the MSE of the change between consecutive frames ('b c f h w', differences along f):
    an error that varies from frame to frame is flicker, one that stays put is not, and this term sees only the
    first."""
    with torch.no_grad():
        z = encode_frames(vae, pixels)
    decoded = decoder(z)
    loss = (decoded - pixels).pow(2).mean()
    if change_weight:
        loss = loss + change_weight * (decoded.diff(dim=2) - pixels.diff(dim=2)).pow(2).mean()
    return loss


FINETUNE = ("temporal", "decoder")  # what trains: the temporal layers alone, or the whole decoder with them


def check_sizes(sizes: list[int]) -> list[int]:
    """The render sides a run takes in turn, each a positive multiple of 4 (the crop is at most the smallest)."""
    if not sizes or any(s <= 0 or s % 4 for s in sizes):
        raise ValueError(f"render sizes must be positive multiples of 4; got {sizes}")
    return sizes


def train_decoder(variant: str, out: str | Path, vae: str | Path | None = None, steps: int = 600, batch_size: int = 2,
                  lr: float = 5e-4, seed: int = 0, work_dir: str | Path | None = None, frames: int = 8,
                  fps: float = 8.0, crop: int | None = 64, checkpoint_every: int = 100, finetune: str = "temporal",
                  sizes: list[int] | None = None, still: bool = True, change_weight: float = 0.0) -> dict:
    """Add `variant`'s temporal layers to the VAE's decoder and tune them (with the whole decoder when `finetune` is
    "decoder") on clips rendered at `sizes` in turn; write a decoder folder (fp16). `still`: layers that keep a
    still clip still (`TemporalDecoder`); `change_weight`: see `decoder_loss`."""
    if finetune not in FINETUNE:
        raise ValueError(f"finetune must be one of {', '.join(FINETUNE)}, got {finetune!r}")
    torch.manual_seed(seed)
    v, record = load_world_vae(vae, process_state().device)
    v.requires_grad_(False)
    decoder = TemporalDecoder.from_vae(v, variant, still=still)
    decoder.requires_grad_(finetune == "decoder")
    decoder.temporal.requires_grad_(True)
    size = int(record["size"])
    sizes = list(sizes or [size])
    crop = min(crop or size, min(check_sizes(sizes)))
    work_dir = run_folder(work_dir or f"runs/decoder/{variant}")
    state = train_loop({"decoder": decoder},
                       lambda s: world_batch(s, batch_size, seed + 9, sizes[s % len(sizes)], crop, frames, fps),
                       lambda b: decoder_loss(decoder, v, b["pixels"], change_weight), steps, work_dir, lr=lr,
                       checkpoint_every=checkpoint_every, title=f"temporal decoder {variant}")
    if process_state().is_main_process:
        with atomic_folder(out) as tmp:
            save_decoder(decoder, tmp, {"vae": recorded_path(vae or VAE_ASSET), "vae_hash": model_hash(v), "size": size,
                                        "crop": crop, "frames": frames, "fps": fps, "steps": steps,
                                        "finetune": finetune, "sizes": sizes, "still": still,
                                        "change_weight": change_weight,
                                        "batch_size": batch_size, "lr": lr, "seed": seed,
                                        "temporal_parameters": sum(p.numel() for p in decoder.temporal_parameters()),
                                        "trained_parameters": sum(p.numel() for p in decoder.parameters()
                                                                  if p.requires_grad),
                                        "data": "world clips, train split"})
            if (work_dir / "loss.png").is_file():
                shutil.copy2(work_dir / "loss.png", tmp / "loss.png")
    process_state().wait_for_everyone()
    return state
