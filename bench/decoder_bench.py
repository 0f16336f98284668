"""FusionFrames Table 3 on the world: temporal video decoders against the image decoder, on reconstruction and on
flicker, at the VAE's side and at the cascade's top side.

Validation clips (8 frames at 8 fps, rendered at each `--sizes` side) are encoded frame by frame by the VAE's image
encoder; the latents are decoded by the image decoder and by every temporal decoder found (`--decoders`, default:
each trained variant in assets/decoder). PSNR, SSIM and TCC against the clips; flicker (engine.metrics.flicker: the
change between frames that the truth does not have, per pixel); judder (engine.metrics.judder: uneven change between
frames) of the decoded clip, and its error against the truth's own judder (|judder(decoded) − judder(truth)| per
clip); the parameters each decoder adds and the decoding time per clip, measured side by side in one run. The last
line says which decoders beat the image decoder on PSNR and on flicker at every size: only those may be embedded.
Judder error is reported but does not decide: judder divides by the clip's own motion, so on clips that barely move
(most world clips at 8 fps change under 0.005 a pixel a frame) the VAE's frame-to-frame noise decides it (README,
"Flicker, and decoders that keep a still clip still").
Writes bench/results/decoder.md.

    python bench/decoder_bench.py                                    # 16 clips at 128², 4 at 512²
    python bench/decoder_bench.py --sizes 128 --clips 2              # a quick check that it runs
    python bench/decoder_bench.py --decoders runs/a,runs/b           # trained folders, before embedding them
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.metrics import flicker, judder, psnr, ssim, tcc  # noqa: E402
from engine.models.decoder import available_decoders, load_decoder  # noqa: E402
from engine.models.expert import VAE_ASSET, load_world_vae  # noqa: E402
from engine.models.vae import decode_frames, encode_frames  # noqa: E402
from engine.files import write_text  # noqa: E402
from engine.training.expert import val_clips  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
LAYERS = {"conv1d": "3×1×1 conv", "conv3d": "3×3×3 conv", "conv1d-attn": "3×1×1 conv + attn",
          "conv3d-attn": "3×3×3 conv + attn"}
COLUMNS = ("psnr", "ssim", "tcc", "flicker", "judder", "judder_error")


@torch.no_grad()
def decoded(decode, latents: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Every clip decoded one at a time: (frames (B, 3, F, H, W) in [0, 1], seconds per clip)."""
    start = time.perf_counter()
    out = torch.cat([decode(latents[i:i + 1]) for i in range(latents.shape[0])])
    return (out / 2 + 0.5).clamp(0, 1), (time.perf_counter() - start) / latents.shape[0]


def scores(out: torch.Tensor, truth: torch.Tensor) -> dict:
    """Means over clips of every column."""
    return {"psnr": psnr(out, truth).mean().item(), "ssim": ssim(out, truth).mean().item(),
            "tcc": tcc(out, truth).mean().item(), "flicker": flicker(out, truth).mean().item(),
            "judder": judder(out).mean().item(),
            "judder_error": (judder(out) - judder(truth)).abs().mean().item()}


@torch.no_grad()
def size_rows(vae, decoders: dict, size: int, clips: int, frames: int) -> dict:
    """{name: scores and seconds per clip} at one side: the image decoder first, then each temporal decoder."""
    truth, _ = val_clips(clips, size, frames)
    latents = torch.cat([encode_frames(vae, truth[i:i + 1] * 2 - 1) for i in range(clips)])
    rows = {}
    for name, decode in {"image": lambda z: decode_frames(vae, z), **decoders}.items():
        out, seconds = decoded(decode, latents)
        rows[name] = {**scores(out, truth), "seconds": seconds}
        print(size, name, {k: round(v, 4) for k, v in rows[name].items()}, flush=True)
    return rows


def describe(name: str, record: dict | None, added: int) -> str:
    """A row's first columns: decoder, temporal layers, what was tuned, added parameters."""
    if record is None:
        return "image | – | – | 0.0 k"
    tuned = f"{record.get('finetune', 'temporal')} ({record.get('steps')} steps × {record.get('batch_size')} clips" + \
        (f", renders {'/'.join(map(str, record['sizes']))}, crops {record.get('crop')}²" if record.get("sizes") else "") + ")"
    return f"video ({name}) | {LAYERS[record['variant']]} | {tuned} | {added / 1e3:.1f} k"


def table(results: dict, records: dict, added: dict) -> list[str]:
    lines = ["| side | decoder | temporal layers | finetune | added params | PSNR ↑ | SSIM ↑ | TCC ↑ | flicker ↓ | "
             "judder | judder error ↓ | s / clip |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, rows in results.items():
        for name, r in rows.items():
            lines.append(f"| {size}² | {describe(name, records.get(name), added.get(name, 0))} | {r['psnr']:.2f} | "
                         f"{r['ssim']:.4f} | {r['tcc']:.4f} | {r['flicker']:.5f} | {r['judder']:.4f} | "
                         f"{r['judder_error']:.4f} | "
                         f"{r['seconds']:.2f} |")
    return lines


def winners(results: dict) -> list[str]:
    """Decoders that beat the image decoder on PSNR and on flicker at every side."""
    names = [n for n in next(iter(results.values())) if n != "image"]
    return [n for n in names if all(r[n]["psnr"] > r["image"]["psnr"] and
                                    r[n]["flicker"] < r["image"]["flicker"] for r in results.values())]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="128,512", help="render sides, comma-separated")
    p.add_argument("--clips", default="16,4", help="validation clips at each side (one number: the same at all)")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--vae", default=str(VAE_ASSET))
    p.add_argument("--decoders", default=None, help="comma-separated variants or folders (default: every trained one)")
    p.add_argument("--out", default=str(RESULTS / "decoder.md"))
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))
    sizes = [int(s) for s in args.sizes.split(",")]
    clips = [int(c) for c in args.clips.split(",")]
    clips = clips * len(sizes) if len(clips) == 1 else clips
    if len(clips) != len(sizes):
        p.error(f"--clips needs one number or one per side ({len(sizes)}), got {args.clips}")

    vae, record = load_world_vae(args.vae)
    names = args.decoders.split(",") if args.decoders else available_decoders()
    loaded = {Path(name).name: load_decoder(name, vae) for name in names}
    decoders = {name: d.eval() for name, (d, _) in loaded.items()}
    records = {name: rec for name, (_, rec) in loaded.items()}
    added = {name: sum(p.numel() for p in d.temporal_parameters()) for name, d in decoders.items()}
    results = {size: size_rows(vae, decoders, size, n, args.frames) for size, n in zip(sizes, clips)}

    spatial = sum(p.numel() for p in vae.decoder.parameters()) + sum(p.numel() for p in vae.post_quant_conv.parameters())
    best = winners(results) if decoders else []
    lines = ["# Temporal video decoders vs the image decoder (FusionFrames Table 3)", "",
             f"`python bench/decoder_bench.py --sizes {args.sizes} --clips {args.clips} --frames {args.frames}`, "
             f"{torch.get_num_threads()} thread(s), one run. Validation clips, {args.frames} frames at 8 fps, rendered "
             f"at each side, encoded by the VAE's image encoder (posterior mean; the VAE was trained at "
             f"{record['size']}²) and decoded by each decoder. Flicker: mean |(x̂ₜ₊₁ − x̂ₜ) − (xₜ₊₁ − xₜ)| per pixel "
             f"(change the truth does not have). Judder error: |judder(decoded) − judder(truth)| per clip (reported; "
             f"it does not decide, see the script's docstring). The image decoder has {spatial / 1e6:.3f} M "
             f"parameters.", ""]
    lines += table(results, records, added)
    if not decoders:
        lines += ["", "No temporal decoder is trained yet: `flipbook train-decoder --variant VARIANT` for each of "
                      + ", ".join(LAYERS) + "."]
    else:
        lines += ["", ("Beat the image decoder on PSNR and flicker at every side (may be embedded): " + ", ".join(best)
                       + "." if best else "No temporal decoder beats the image decoder on PSNR and flicker at every "
                                          "side, so none is embedded: the cascade decodes with the image decoder.")]
    print(write_text(args.out, "\n".join(lines) + "\n").read_text())


if __name__ == "__main__":
    main()
