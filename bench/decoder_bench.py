"""FusionFrames Table 3 on the world: temporal video decoders against the image decoder.

Validation clips (8 frames at 8 fps, rendered at the VAE's size, 128²) are encoded frame by frame by the VAE's
image encoder; the latents are decoded by the image decoder and by every temporal decoder found (`--decoders`,
default: each trained variant in assets/decoder). PSNR, SSIM and TCC against the clips, the temporal layers'
parameters, and the decoding time per clip, measured side by side. Writes bench/results/decoder.md.

    python bench/decoder_bench.py                 # 16 clips
    python bench/decoder_bench.py --clips 2       # a quick check that it runs
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.metrics import psnr, ssim, tcc  # noqa: E402
from engine.models.decoder import available_decoders, load_decoder  # noqa: E402
from engine.models.expert import VAE_ASSET, load_world_vae  # noqa: E402
from engine.models.vae import decode_frames, encode_frames  # noqa: E402
from engine.files import write_text  # noqa: E402
from engine.training.expert import val_clips  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
LAYERS = {"conv1d": "3×1×1 conv", "conv3d": "3×3×3 conv", "conv1d-attn": "3×1×1 conv + attn",
          "conv3d-attn": "3×3×3 conv + attn"}


@torch.no_grad()
def decoded(decode, latents: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Every clip decoded one at a time: (frames (B, 3, F, H, W) in [0, 1], seconds per clip)."""
    start = time.perf_counter()
    out = torch.cat([decode(latents[i:i + 1]) for i in range(latents.shape[0])])
    return (out / 2 + 0.5).clamp(0, 1), (time.perf_counter() - start) / latents.shape[0]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--vae", default=str(VAE_ASSET))
    p.add_argument("--decoders", default=None, help="comma-separated variants or folders (default: every trained one)")
    p.add_argument("--out", default=str(RESULTS / "decoder.md"))
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))

    vae, record = load_world_vae(args.vae)
    names = args.decoders.split(",") if args.decoders else available_decoders()
    decoders = {name: load_decoder(name, vae) for name in names}
    truth, _ = val_clips(args.clips, int(record["size"]), args.frames)
    with torch.no_grad():
        latents = torch.cat([encode_frames(vae, truth[i:i + 1] * 2 - 1) for i in range(args.clips)])
    rows = {"image": (*decoded(lambda z: decode_frames(vae, z), latents), "–", 0, None)}
    for name, (decoder, rec) in decoders.items():
        out, seconds = decoded(decoder, latents)
        rows[name] = (out, seconds, f"temporal ({rec.get('steps')} steps × {rec.get('batch_size')} clips)",
                      sum(p.numel() for p in decoder.temporal_parameters()), rec["variant"])
        print(name, psnr(out, truth).mean().item(), flush=True)

    spatial = sum(p.numel() for p in vae.decoder.parameters()) + sum(p.numel() for p in vae.post_quant_conv.parameters())
    lines = ["# Temporal video decoders vs the image decoder (FusionFrames Table 3)", "",
             f"`python bench/decoder_bench.py --clips {args.clips} --frames {args.frames}`, {torch.get_num_threads()} "
             f"thread(s). {args.clips} validation clips, {args.frames} frames at 8 fps, {record['size']}², encoded by the "
             f"VAE's image encoder (posterior mean) and decoded by each decoder. The image decoder has "
             f"{spatial / 1e6:.3f} M parameters.", "",
             "| decoder | temporal layers | finetune | PSNR ↑ | SSIM ↑ | TCC ↑ | added params | s / clip |",
             "|---|---|---|---|---|---|---|---|"]
    for name, (out, seconds, tuned, added, variant) in rows.items():
        kind = "image" if variant is None else "video"
        lines.append(f"| {kind} | {LAYERS[variant] if variant else '–'} | {tuned} | "
                     f"{psnr(out, truth).mean().item():.2f} | {ssim(out, truth).mean().item():.4f} | "
                     f"{tcc(out, truth).mean().item():.4f} | {added / 1e3:.1f} k | {seconds:.2f} |")
    if not decoders:
        lines += ["", "No temporal decoder is trained yet: `flipbook train-decoder --variant VARIANT` for each of "
                      + ", ".join(LAYERS) + "."]
    text = "\n".join(lines) + "\n"
    print(write_text(args.out, text).read_text())


if __name__ == "__main__":
    main()
