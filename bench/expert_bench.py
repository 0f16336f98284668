"""Expert translation on the world (MPL-Video §3.6, Fig. 6): the latent model trained on t ≤ 900 against the one
trained on the whole schedule (t ≤ 999), at the same budget, refining the pixel SR output of validation clips.

Each validation clip is rendered at the experts' side (the ground truth, 256² for the embedded ones), 8 frames at
8 fps, and scaled down (area) to the cascade's keyframe side, `--pixel` / 4 (32²); that is upscaled ×4 by the
pixel SR model (`--sr`, or bicubic with `--sr bicubic`) to `--pixel`² (128²), as the cascade does, then translated
by each expert at each `--strengths`, which upsamples it (bilinear) to the experts' side first (SDEdit from that
part of the schedule, the clip's caption as prompt, the image decoder unless `--decoder`, the same seed for both
models). PSNR, SSIM and TCC against the ground truth; rows for the input itself (bilinear to the experts' side)
and for its VAE round trip (what translation at strength → 0 tends to). Writes bench/results/expert.md.

    python bench/expert_bench.py                                       # 16 clips, strengths 0.3, 0.5, 0.7, 0.9
    python bench/expert_bench.py --clips 2 --steps 4 --strengths 0.5   # a quick check that it runs
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.metrics import psnr, ssim, tcc  # noqa: E402
from engine.models.expert import EXPERT_ASSET, EXPERT_RECORD  # noqa: E402
from engine.models.vae import decode_frames, encode_frames  # noqa: E402
from engine.pipelines.translate import translation_pipeline  # noqa: E402
from engine.pipelines.upscale import upscale_pipeline  # noqa: E402
from engine.files import write_text  # noqa: E402
from engine.training.expert import val_clips  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
FPS, SCALE = 8.0, 4  # the pixel stage upscales ×4


def scores(out: torch.Tensor, truth: torch.Tensor) -> dict:
    """Clips (B, 3, F, H, W) in [0, 1]: the means over clips."""
    return {"psnr": psnr(out, truth).mean().item(), "ssim": ssim(out, truth).mean().item(),
            "tcc": tcc(out, truth).mean().item()}


@torch.no_grad()
def pixel_stage(truth: torch.Tensor, captions: list[str], sr: str, mode: str, steps: int, pixel: int) -> torch.Tensor:
    """The cascade's input to translation: the (pixel/4)² clip upscaled ×4 by the pixel SR model (or bicubic),
    (B, 3, F, pixel, pixel)."""
    side = pixel // SCALE
    low = F.interpolate(truth.transpose(1, 2).flatten(0, 1), size=(side, side), mode="area")  # what renders there hold
    if sr == "bicubic":
        high = F.interpolate(low, size=(pixel, pixel), mode="bicubic", align_corners=False).clamp(0, 1)
        return high.view(truth.shape[0], -1, *high.shape[1:]).transpose(1, 2)
    pipe, _ = upscale_pipeline(mode, None if sr == "default" else sr)
    low = low.view(truth.shape[0], -1, *low.shape[1:])
    out = [pipe(low[i:i + 1], captions[i], steps, generator=torch.Generator().manual_seed(i)).frames
           for i in range(len(captions))]
    return torch.cat(out).transpose(1, 2)


@torch.no_grad()
def translated(pipe, clips: torch.Tensor, captions: list[str], strength: float, steps: int, size: int) -> torch.Tensor:
    out = [pipe(clips[i:i + 1].transpose(1, 2), captions[i], strength, steps, height=size, width=size,
                generator=torch.Generator().manual_seed(i)).frames for i in range(len(captions))]
    return torch.cat(out).transpose(1, 2)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--steps", type=int, default=20, help="DPM-Solver++ steps over the whole schedule")
    p.add_argument("--strengths", default="0.3,0.5,0.7,0.9")
    p.add_argument("--expert", default=str(EXPERT_ASSET / "t900"), help="the model trained on t ≤ 900")
    p.add_argument("--full", default=str(EXPERT_ASSET / "t1000"), help="the model trained on the whole schedule")
    p.add_argument("--pixel", type=int, default=128, help="the pixel stage's output side (its input is a quarter)")
    p.add_argument("--sr", default="default", help="image SR folder, 'default' (assets/sr/image) or 'bicubic'")
    p.add_argument("--sr-mode", default="zero-shot", help="the pixel SR model's video mode")
    p.add_argument("--decoder", default="image", help="decoder for both (default: the image decoder)")
    p.add_argument("--out", default=str(RESULTS / "expert.md"))
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))
    strengths = [float(s) for s in args.strengths.split(",")]

    pipes = {"t ≤ 900 (expert)": translation_pipeline(args.expert, args.decoder)[0],
             "t ≤ 999 (whole schedule)": translation_pipeline(args.full, args.decoder)[0]}
    records = [json.loads((Path(f) / EXPERT_RECORD).read_text()) for f in (args.expert, args.full)]
    budget = [(r["steps"], r["batch_size"], r["frames"], r["lr"], r["seed"]) for r in records]
    size = next(iter(pipes.values())).config.sample_size
    truth, captions = val_clips(args.clips, size, args.frames, FPS)
    start = time.perf_counter()
    given = pixel_stage(truth, captions, args.sr, args.sr_mode, args.steps, args.pixel)
    print(f"pixel stage: {time.perf_counter() - start:.1f} s", flush=True)
    vae = next(iter(pipes.values())).vae
    up = F.interpolate(given.transpose(1, 2).flatten(0, 1), size=(size, size), mode="bilinear", align_corners=False)
    up = up.view(*given.transpose(1, 2).shape[:2], 3, size, size).transpose(1, 2)  # what translation encodes
    with torch.no_grad():
        round_trip = (decode_frames(vae, encode_frames(vae, up * 2 - 1, 8), 8) / 2 + 0.5).clamp(0, 1)
    label = "pixel SR" if args.sr != "bicubic" else "bicubic"
    resized = f", bilinear to {size}²" if size != args.pixel else ""
    rows = {f"input ({label} to {args.pixel}²{resized})": scores(up, truth),
            "input through the VAE": scores(round_trip, truth)}
    seconds = {}
    for strength in strengths:
        for name, pipe in pipes.items():
            start = time.perf_counter()
            out = translated(pipe, given, captions, strength, args.steps, size)
            rows[f"{name}, strength {strength:g}"] = scores(out, truth)
            seconds[name] = (time.perf_counter() - start) / args.clips
            print(name, strength, rows[f"{name}, strength {strength:g}"], flush=True)

    psnr_at = lambda name, s: rows[f"{name}, strength {s:g}"]["psnr"]
    wins = sum(psnr_at("t ≤ 900 (expert)", s) > psnr_at("t ≤ 999 (whole schedule)", s) for s in strengths)
    lines = ["# Expert translation: trained on t ≤ 900 vs the whole schedule", "",
             f"`python bench/expert_bench.py --clips {args.clips} --frames {args.frames} --steps {args.steps} "
             f"--strengths {args.strengths} --sr {args.sr}`, {torch.get_num_threads()} thread(s). {args.clips} validation "
             f"clips, {args.frames} frames at 8 fps, {args.pixel // SCALE}² → {args.pixel}² by the pixel stage, then "
             f"bilinear to {size}² and SDEdit with each model "
             f"({args.steps} DPM-Solver++ steps over the schedule, the last `strength` part run, the caption as prompt, "
             f"{args.decoder} decoder, the same seeds). Against the {size}² ground truth.", "",
             f"Budgets (steps, clips a step, frames, lr, seed): t ≤ 900 {budget[0]}, whole schedule {budget[1]} — "
             + ("the same." if budget[0] == budget[1] else "**not the same**: retrain one of them."), "",
             "| input | PSNR ↑ | SSIM ↑ | TCC ↑ |", "|---|---|---|---|"]
    lines += [f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['tcc']:.4f} |" for name, r in rows.items()]
    lines += ["", "Translation time per clip: " + ", ".join(f"{n} {s:.1f} s" for n, s in seconds.items()) + ".", "",
              f"The expert scores the higher PSNR at {wins} of {len(strengths)} strengths."]
    text = "\n".join(lines) + "\n"
    print(write_text(args.out, text).read_text())


if __name__ == "__main__":
    main()
