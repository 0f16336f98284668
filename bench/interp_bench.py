"""Frame interpolation on the world (issue 5, item 1): 8 keyframes → 29 frames on validation clips.

Each clip is rendered at 8 fps (29 frames at 32², the ground truth); its keyframes are every 4th frame (2 fps).
Rows: FusionFrames' group model, MPL-Video's masked model (both with context guidance w = 0.25 and the same
DPM-Solver++ steps, timed side by side, alternating which goes first), and two baselines: each keyframe
repeated, and linear blending of the two keyframes around a frame. PSNR and SSIM are over the 21 interpolated
frames (the keyframes are given back exactly), TCC over all 29 frames. Writes bench/results/interp.md and a
frame grid (interp.png).

    python bench/interp_bench.py                       # the measurement (16 clips, 20 steps)
    python bench/interp_bench.py --clips 2 --steps 2   # a quick check that it runs
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.io.video import save_frame_grid  # noqa: E402
from engine.metrics import psnr, ssim, tcc  # noqa: E402
from engine.models.interpolation import FACTOR, blend_keyframes, hold_keyframes, output_frames  # noqa: E402
from engine.pipelines.interpolate import interpolation_pipeline, skip_for_fps  # noqa: E402
from engine.files import atomic_path  # noqa: E402
from engine.world import render, sample_split_spec  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
KEYFRAMES, FPS = 8, 8.0
PSNR_CAP = 60.0  # dB: a clip reproduced exactly (a still clip blended) would otherwise score infinity


def scores(out: torch.Tensor, truth: torch.Tensor) -> dict:
    """out, truth: (F, 3, H, W). Metrics take (3, F, H, W)."""
    mid = [i for i in range(out.shape[0]) if i % FACTOR]
    o, t = out.permute(1, 0, 2, 3), truth.permute(1, 0, 2, 3)
    return {"psnr": min(PSNR_CAP, psnr(o[:, mid], t[:, mid]).item()), "ssim": ssim(o[:, mid], t[:, mid]).item(),
            "tcc": tcc(o, t).item(), "sse": (o[:, mid] - t[:, mid]).pow(2).sum().item(), "n": o[:, mid].numel()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--guidance", type=float, default=0.25)
    p.add_argument("--group", default=None, help="group model folder (default assets/interp/group)")
    p.add_argument("--masked", default=None, help="masked model folder (default assets/interp/masked)")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--out", default=str(RESULTS / "interp.md"))
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))

    pipes = {"group": interpolation_pipeline("group", args.group)[0],
             "masked": interpolation_pipeline("masked", args.masked)[0]}
    options = {"group": {"skip": skip_for_fps(FPS / FACTOR)}, "masked": {"max_keyframes": KEYFRAMES}}
    rows = {name: [] for name in ("group", "masked", "repeat", "blend")}
    seconds = {"group": [], "masked": []}
    grid = []
    warm = render(sample_split_spec("val", 10_000)[0], args.size, FPS, output_frames(KEYFRAMES))[::FACTOR]
    for name, pipe in pipes.items():  # first calls pay for allocation; neither is timed
        pipe(warm, num_inference_steps=1, **options[name])
    for i in range(args.clips):
        spec, caption = sample_split_spec("val", i)
        truth = render(spec, args.size, FPS, output_frames(KEYFRAMES))  # f 3 h w
        keys = truth[::FACTOR]
        outs = {"repeat": hold_keyframes(keys), "blend": blend_keyframes(keys)}
        for name in (("group", "masked") if i % 2 == 0 else ("masked", "group")):
            start = time.perf_counter()
            outs[name] = pipes[name](keys, num_inference_steps=args.steps, guidance_scale=args.guidance,
                                     generator=torch.Generator().manual_seed(i), **options[name]).frames[0]
            seconds[name].append(time.perf_counter() - start)
        for name, out in outs.items():
            rows[name].append(scores(out, truth))
        if len(grid) < 3 and spec.objects[0].motion not in ("still", "rotate"):
            grid.append([truth, outs["blend"], outs["group"], outs["masked"]])
        print(f"clip {i} ({caption}): " + ", ".join(f"{k} {v[-1]['psnr']:.1f} dB" for k, v in rows.items())
              + f"; group {seconds['group'][-1]:.2f} s, masked {seconds['masked'][-1]:.2f} s", flush=True)

    def mean(name, key):
        return sum(r[key] for r in rows[name]) / len(rows[name])

    def pooled(name):
        mse = sum(r["sse"] for r in rows[name]) / sum(r["n"] for r in rows[name])
        return 10 * torch.log10(torch.tensor(1 / mse)).item()

    speed = {k: sum(v) / len(v) for k, v in seconds.items()}
    ratio = speed["masked"] / speed["group"]
    lines = ["# Frame interpolation: 8 keyframes → 29 frames", "",
             f"{args.clips} validation clips at {args.size}², keyframes at 2 fps, ground truth at 8 fps. Both models: "
             f"{args.steps} DPM-Solver++ steps, context guidance w = {args.guidance}, timed side by side in one run "
             f"({torch.get_num_threads()} thread). PSNR and SSIM over the 21 interpolated frames (pooled: from the "
             f"mean squared error over every clip; per clip: mean of clips, capped at {PSNR_CAP:.0f} dB), TCC over "
             "all 29 frames.", "",
             "| method | s / clip | UNet frames a step | PSNR pooled (dB) | PSNR per clip (dB) | SSIM | TCC |",
             "|---|---|---|---|---|---|---|"]
    frames_a_step = {"group": 2 * (KEYFRAMES - 1), "masked": 2 * output_frames(KEYFRAMES)}
    for name in rows:
        time_cell = f"{speed[name]:.2f}" if name in speed else "—"
        lines.append(f"| {name} | {time_cell} | {frames_a_step.get(name, '—')} | {pooled(name):.2f} | "
                     f"{mean(name, 'psnr'):.2f} | {mean(name, 'ssim'):.4f} | {mean(name, 'tcc'):.4f} |")
    group_ok = pooled("group") >= pooled("masked") and mean("group", "tcc") >= mean("masked", "tcc")
    beats = {m: all(pooled(m) > pooled(b) and mean(m, "tcc") > mean(b, "tcc") for b in ("repeat", "blend"))
             for m in ("group", "masked")}
    mark = lambda ok: "yes" if ok else "**no**"
    lines += ["", "Acceptance (issue 5):", "",
              f"- group ≥ 3× faster than masked: {ratio:.2f}× — {mark(ratio >= 3)}",
              f"- group no worse than masked in PSNR (pooled) and TCC: {mark(group_ok)}",
              f"- group beats repeat and blend (PSNR pooled and TCC): {mark(beats['group'])}",
              f"- masked beats repeat and blend (PSNR pooled and TCC): {mark(beats['masked'])}", "",
              "Rows of interp.png: ground truth, blend, group, masked (clips with motion)."]
    text = "\n".join(lines) + "\n"
    with atomic_path(args.out) as tmp:
        tmp.write_text(text)
    if grid:
        save_frame_grid(Path(args.out).with_suffix(".png"), [clip for clips in grid for clip in clips], scale=3)
    print(text)


if __name__ == "__main__":
    main()
