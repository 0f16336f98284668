"""Expert translation as MPL-Video uses it: the latent stage takes the pixel stage's 128² clip up to the top
resolution (512²), against bicubic and against pixel SR run to the same size, in one run.

Validation clips are rendered at the top side (the ground truth), 8 frames at 8 fps, scaled down (area) to 32²
and upscaled ×4 to 128² by the pixel SR model, as the cascade does. From there, to the top side:
- bicubic (no model);
- pixel SR again (×4, the all-pixel cascade MPL-Video's memory bargain avoids);
- the VAE alone (translation at strength 0: encode, decode), then each `--strengths` of the expert (SDEdit, the
  caption as prompt, `--decoder`);
- each of those with the input's low frequencies kept (`--detail-sigma`, engine.pipelines.translate's
  `keep_low_frequencies`: the bicubic frame plus the translation's change above a Gaussian of σ pixels).
PSNR, SSIM and TCC against the truth, the judge's attribute accuracy, judder, and seconds per clip. The last lines
say which rows beat bicubic on PSNR and SSIM. Peak memory of the two cascades: bench/cascade_bench.py.
Writes bench/results/expert_top.md.

    python bench/expert_top_bench.py                          # 4 clips, strength 0.1
    python bench/expert_top_bench.py --clips 1 --top 256 --steps 4 --no-pixel-top   # a quick check that it runs
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine.metrics import attribute_accuracy, judder, load_judge  # noqa: E402
from engine.pipelines.translate import keep_low_frequencies, translation_pipeline  # noqa: E402
from engine.pipelines.upscale import upscale_pipeline  # noqa: E402
from engine.files import write_text  # noqa: E402
from engine.training.expert import val_clips  # noqa: E402
from expert_bench import pixel_stage, scores  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def timed(make, n: int) -> tuple[torch.Tensor, float]:
    """make(i) -> clip i (1, 3, F, H, W) for i < n: (clips, seconds per clip)."""
    start = time.perf_counter()
    out = torch.cat([make(i) for i in range(n)])
    return out, (time.perf_counter() - start) / n


@torch.no_grad()
def candidates(args, given: torch.Tensor, captions: list[str]) -> dict:
    """{row name: (clips (B, 3, F, top, top) in [0, 1], seconds per clip)}, bicubic first."""
    n, top = len(captions), args.top
    seed = lambda i: torch.Generator().manual_seed(i)  # noqa: E731
    frames = lambda clips: rearrange(clips, "b c f h w -> b f c h w")  # noqa: E731
    rows = {"bicubic (no model)": timed(lambda i: F.interpolate(
        rearrange(given[i:i + 1], "b c f h w -> (b f) c h w"), size=(top, top), mode="bicubic",
        align_corners=False).clamp(0, 1).transpose(0, 1)[None], n)}
    if args.pixel_top and args.pixel * 4 == top:  # the SR model's own ×4
        sr, _ = upscale_pipeline(args.sr_mode)
        rows["pixel SR ×4 again"] = timed(lambda i: frames(sr(frames(given[i:i + 1]), captions[i], args.steps,
                                                               generator=seed(i)).frames), n)
    pipe, _ = translation_pipeline(args.expert, args.decoder)
    for strength in [0.0] + args.strengths:
        name = "VAE alone (strength 0)" if strength == 0 else f"expert, strength {strength:g}"
        out, seconds = timed(lambda i: frames(pipe(frames(given[i:i + 1]), captions[i], strength, args.steps,
                                                   height=top, width=top, generator=seed(i)).frames), n)
        rows[name] = out, seconds
        kept, extra = timed(lambda i: keep_low_frequencies(given[i:i + 1], out[i:i + 1], args.detail_sigma), n)
        rows[f"{name}, input's low frequencies (σ {args.detail_sigma:g})"] = kept, seconds + extra
        print(name, flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--top", type=int, default=512)
    p.add_argument("--pixel", type=int, default=128, help="the pixel stage's output side (its input is a quarter)")
    p.add_argument("--steps", type=int, default=20, help="DPM-Solver++ steps over the whole schedule (and SR's)")
    p.add_argument("--strengths", default="0.1", help="the expert's strengths besides 0")
    p.add_argument("--detail-sigma", type=float, default=0.5, help="σ (top-side pixels) of the low-frequency split")
    p.add_argument("--expert", default=None, help="the expert folder (default assets/expert/t900)")
    p.add_argument("--decoder", default="image", help="image, a temporal decoder variant, or a folder")
    p.add_argument("--sr-mode", default="zero-shot", help="the pixel SR model's video mode")
    p.add_argument("--no-pixel-top", dest="pixel_top", action="store_false", help="skip pixel SR to the top side")
    p.add_argument("--out", default=str(RESULTS / "expert_top.md"))
    args = p.parse_args()
    args.strengths = [float(s) for s in args.strengths.split(",") if s]
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))

    truth, captions = val_clips(args.clips, args.top, args.frames)
    start = time.perf_counter()
    given = pixel_stage(truth, captions, "default", args.sr_mode, args.steps, args.pixel)
    print(f"pixel stage to {args.pixel}²: {time.perf_counter() - start:.1f} s", flush=True)
    rows = candidates(args, given, captions)
    judge = load_judge()
    lines = ["# Expert translation to the top resolution (MPL-Video), against bicubic and pixel SR", "",
             f"`python bench/expert_top_bench.py --clips {args.clips} --top {args.top} --strengths "
             f"{','.join(map(str, args.strengths))} --detail-sigma {args.detail_sigma:g} --decoder {args.decoder} "
             f"--steps {args.steps}{'' if args.pixel_top else ' --no-pixel-top'}`, "
             f"{torch.get_num_threads()} thread(s), one run. {args.clips} validation clips, {args.frames} frames at "
             f"8 fps: rendered at {args.top}² (the truth), area-scaled to {args.pixel // 4}², pixel SR to "
             f"{args.pixel}², then each row to {args.top}². σ was chosen on training-split clips.", "",
             "| to the top side | PSNR ↑ | SSIM ↑ | TCC ↑ | judge: all ↑ | judder | s / clip |",
             "|---|---|---|---|---|---|---|"]
    for name, (out, seconds) in rows.items():
        r = scores(out, truth)
        rows[name] = r
        lines.append(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['tcc']:.4f} | "
                     f"{attribute_accuracy(judge, out, captions)['all']:.3f} | {judder(out).mean().item():.4f} | "
                     f"{seconds:.1f} |")
    base = rows["bicubic (no model)"]
    better = [n for n, r in rows.items() if r["psnr"] > base["psnr"] and r["ssim"] > base["ssim"]]
    lines += ["", "Beat bicubic on PSNR and SSIM: " + ("; ".join(better) if better else "none") + "."]
    print(write_text(args.out, "\n".join(lines) + "\n").read_text())


if __name__ == "__main__":
    main()
