"""Long clips and image-to-video, side by side in one run (engine.diffusion.windows; issue 32).

For each length (8, 16, 32, 64, 128 frames) and each way of making a clip longer than the model's 8-frame window
(context windows fused at every step with FreeNoise's noise, autoregressive windows, independent chunks, and every
frame in one pass up to 64), on validation prompts with the default motion plan, as `flipbook generate` samples
(the embedded default mode, 25 DPM-Solver++ steps, guidance 4):

- drift: the judge's appearance accuracy (shape, colour, background, and size unless the object grows or shrinks)
  on the first 8 frames minus that on the last 8;
- motion: the judge's motion accuracy over the whole clip (8 frames evenly spaced over it);
- seams: judder (engine.metrics.judder, the spread of frame-to-frame change) over the transitions where a window
  starts or ends, against that over the rest;
- seconds and peak memory a clip (engine.peak_memory), each (method, length) in a process of its own (`--cost`),
  and a plot of both against frames. Peak memory is shown twice: as the process's high-water mark with glibc's
  defaults (which also counts freed blocks the allocator kept), and under a fixed mmap threshold (`--live-memory`),
  where it is what the work had live at once.

The world's objects stay in the frame for its 4-second clips, so every length shows the same 4 s: a clip of F
frames runs at F/4 fps (8 frames at 2 fps, as the models were trained; 64 at 16 fps). The motion plan follows.

Image-to-video: world stills (frame 0 of a rendered validation clip) and their prompts, 8 and 64 frames; the given
frame's PSNR in the output and the judge's motion accuracy.

    python bench/long_bench.py [--prompts 24] [--lengths 8,16,32,64,128] [--methods windows,autoregressive,chunks,one-pass]
    python bench/long_bench.py --lengths "" --image-lengths "" --cost [--live-memory]   # the costs alone
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from engine.diffusion.windows import context_windows
from engine.generate import default_mode, motion_plan_for
from engine.metrics import judder, load_judge
from engine.metrics.alignment import attribute_accuracy
from engine.metrics.quality import psnr
from engine.peak_memory import PeakMemory
from engine.pipelines.load import keyframe_pipeline
from engine.pipelines.text_to_video import TRAINED_FRAMES
from engine.registry import DEFAULT_OVERLAP
from engine.world import parse_prompt, render, sample_split_spec

APPEARANCE = ("shape", "colour", "size", "background")
SECONDS, BATCH, STEPS, GUIDANCE = 4.0, 4, 25, 4.0
COST_CLIPS = 1  # clips a cost probe makes


def prompts_and_specs(n: int) -> list[tuple]:
    return [sample_split_spec("val", i, 99)[::-1] for i in range(n)]


@torch.no_grad()
def sample(pipe, prompts: list[str], frames: int, method: str, images: torch.Tensor | None = None) -> torch.Tensor:
    """Clips (N, 3, F, H, W) in batches of BATCH (seed: the batch's first index), each along its prompt's plan."""
    fps, videos = frames / SECONDS, []
    window = None if method == "one-pass" else TRAINED_FRAMES
    for start in range(0, len(prompts), BATCH):
        batch = prompts[start:start + BATCH]
        plans = [motion_plan_for(p, frames, fps, start + i) for i, p in enumerate(batch)]
        out = pipe(batch, num_frames=frames, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                   generator=torch.Generator().manual_seed(start), motion_plan=plans, context_window=window,
                   context_overlap=DEFAULT_OVERLAP, long_method="windows" if window is None else method,
                   image=None if images is None else images[start:start + BATCH])
        videos.append(out.frames.permute(0, 2, 1, 3, 4))  # b f c h w -> b c f h w
    return torch.cat(videos)


def seam_transitions(frames: int, method: str) -> list[int]:
    """Transitions f → f + 1 (indexed by f) at which a window starts or ends."""
    if method == "one-pass" or frames <= TRAINED_FRAMES:
        return []
    spans = context_windows(frames, TRAINED_FRAMES, 0 if method == "chunks" else DEFAULT_OVERLAP)
    edges = {s.start - 1 for s in spans[1:]} | {s.stop - 1 for s in spans[:-1]}
    return sorted(e for e in edges if 0 <= e < frames - 1)


def transition_judder(videos: torch.Tensor, seams: list[int]) -> tuple[float, float]:
    """Mean |change at a seam − median change| / median change, at the seams and elsewhere (per clip, then mean):
    how far a transition's change strays from the clip's typical change."""
    change = (videos[:, :, 1:] - videos[:, :, :-1]).abs().mean(dim=(1, 3, 4))  # n (f-1)
    typical = change.median(dim=1, keepdim=True).values.clamp_min(1e-4)
    stray = (change - typical).abs() / typical
    inside = [f for f in range(change.shape[1]) if f not in seams]
    at = stray[:, seams].mean().item() if seams else float("nan")
    return at, stray[:, inside].mean().item()


def appearance(judge, videos: torch.Tensor, prompts: list[str]) -> float:
    """The judge's accuracy on the appearance attributes the prompts name (size only where it does not change)."""
    acc = attribute_accuracy(judge, videos, prompts)
    hits = [ok for clip in acc["per_clip"] for k, ok in clip["correct"].items()
            if k in APPEARANCE and not (k == "size" and clip["named"].get("motion") in ("grow", "shrink"))]
    return float(np.mean(hits))


def score(judge, videos: torch.Tensor, prompts: list[str], method: str) -> dict:
    frames = videos.shape[2]
    first, last = videos[:, :, :TRAINED_FRAMES], videos[:, :, -TRAINED_FRAMES:]
    motion = attribute_accuracy(judge, videos, prompts)["motion"]
    seam, inside = transition_judder(videos, seam_transitions(frames, method))
    return {"appearance_first": appearance(judge, first, prompts), "appearance_last": appearance(judge, last, prompts),
            "motion": motion, "judder_seam": seam, "judder_inside": inside,
            "judder_cv": judder(videos).mean().item()}


def image_to_video(pipe, judge, specs_prompts: list[tuple], frames: int) -> dict:
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    prompts = [p for p, _ in specs_prompts]
    stills = torch.stack([render(spec, size, frames / SECONDS, 1)[0] for _, spec in specs_prompts])
    videos = sample(pipe, prompts, frames, "windows", images=stills)
    kept = psnr(videos[:, :, 0:1], stills[:, :, None]).mean().item()
    return {"first_frame_psnr": kept, "motion": attribute_accuracy(judge, videos, prompts)["motion"]}


def cost_probe(method: str, frames: int, prompts: list[str]) -> dict:
    """Seconds a clip and the peak memory a batch adds, in this (fresh) process: the pipeline loaded and warmed up
    on an 8-frame clip first, so that only what the long clip itself needs is counted."""
    pipe, _ = keyframe_pipeline(default_mode(), "dpm++")
    sample(pipe, prompts, TRAINED_FRAMES, "windows")
    with PeakMemory() as probe:
        begun = time.perf_counter()
        sample(pipe, prompts, frames, method)
        seconds = time.perf_counter() - begun
    return {"s_clip": seconds / len(prompts), "peak_mb": probe.mb}


# glibc's malloc raises its mmap threshold as large blocks are freed and then keeps freed memory in its heap, so a
# process's high-water mark also counts what the allocator held back. With a fixed threshold every large block is
# mapped and unmapped, and the high-water mark is what the work itself had live at once (a second column).
LIVE_MEMORY = {"MALLOC_MMAP_THRESHOLD_": "65536"}


def costs(results: dict, saved: Path, lengths: list[int], methods: list[str], threads: int, max_others: int,
          live: bool = False):
    """Every (method, length)'s cost, each in its own process (resident memory is not given back between runs);
    `live`: under LIVE_MEMORY, recorded as cost-live/…"""
    import os  # only for --cost
    import subprocess
    import sys

    for method in methods:
        for f in lengths:
            if (method == "one-pass" and f > 64) or (method not in ("windows", "one-pass") and f <= TRAINED_FRAMES):
                continue
            if method != "windows" and f > max_others:
                continue
            cmd = [sys.executable, __file__, "--cost-probe", f"{method}:{f}", "--threads", str(threads)]
            env = {**os.environ, **(LIVE_MEMORY if live else {})}
            run(results, f"cost{'-live' if live else ''}/{method}/{f}", saved, lambda: json.loads(
                subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout.splitlines()[-1]))


def run(results: dict, key: str, saved: Path, work):
    if key in results:
        return
    results[key] = work()
    tmp = saved.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(saved)
    print(key, json.dumps(results[key]), flush=True)


def table(results: dict, lengths: list[int], methods: list[str]) -> list[str]:
    lines = ["| method | frames | fps | s / clip | peak MB | live MB | appearance first → last (drift) | motion | "
             "judder at seams / inside (ratio) |", "|---|---|---|---|---|---|---|---|---|"]
    for method in methods:
        for f in lengths:
            r, cost = results.get(f"{method}/{f}"), results.get(f"cost/{method}/{f}")
            live = results.get(f"cost-live/{method}/{f}", {}).get("peak_mb")
            live = "–" if live is None else f"{live:.0f}"
            if cost and not r:  # timed only
                lines.append(f"| {method} | {f} | {f / SECONDS:g} | {cost['s_clip']:.1f} | {cost['peak_mb']:.0f} | "
                             f"{live} | – | – | – |")
            if not r:
                continue
            r = {**r, **(cost or {})}  # the cost measured in a process of its own
            drift = r["appearance_first"] - r["appearance_last"]
            ratio = r["judder_seam"] / r["judder_inside"] if r["judder_seam"] == r["judder_seam"] else float("nan")
            seams = "–" if ratio != ratio else f"{r['judder_seam']:.3f} / {r['judder_inside']:.3f} ({ratio:.2f})"
            lines.append(f"| {method} | {f} | {f / SECONDS:g} | {r['s_clip']:.1f} | {r['peak_mb']:.0f} | {live} | "
                         f"{r['appearance_first']:.3f} → {r['appearance_last']:.3f} ({drift:+.3f}) | {r['motion']:.3f} | "
                         f"{seams} |")
    return lines


def plot(results: dict, lengths: list[int], methods: list[str], path: Path):
    import matplotlib  # optional and heavy: only for the figure
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for method in methods:
        rows = [(f, results.get(f"cost/{method}/{f}") or results[f"{method}/{f}"]) for f in lengths
                if f"{method}/{f}" in results or f"cost/{method}/{f}" in results]
        for ax, key in zip(axes, ("s_clip", "peak_mb")):
            ax.plot([f for f, _ in rows], [r[key] for _, r in rows], marker="o", label=method)
    for ax, label in zip(axes, ("seconds a clip", "peak MB a clip")):
        ax.set_xlabel("frames")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--prompts", type=int, default=24)
    p.add_argument("--lengths", default="8,16,32,64,128")
    p.add_argument("--methods", default="windows,autoregressive,chunks,one-pass")
    p.add_argument("--image-lengths", default="8,64", help="image-to-video lengths ('' for none)")
    p.add_argument("--max-others", type=int, default=64, help="the longest clip for methods other than windows")
    p.add_argument("--cost", action="store_true", help="also time every (method, length) in its own process")
    p.add_argument("--cost-lengths", default="8,16,32,64,128", help="the lengths --cost times")
    p.add_argument("--live-memory", action="store_true", help="with --cost: measure again under LIVE_MEMORY")
    p.add_argument("--cost-probe", default=None, metavar="METHOD:FRAMES", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="bench/results/long")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.cost_probe:  # one cost measurement, for `costs` in the parent process
        method, frames = a.cost_probe.split(":")
        print(json.dumps(cost_probe(method, int(frames), [q for q, _ in prompts_and_specs(COST_CLIPS)])))
        return
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = out.with_suffix(".json")
    results = json.loads(saved.read_text()) if saved.exists() else {}
    judge, mode = load_judge(), default_mode()
    pipe, _ = keyframe_pipeline(mode, "dpm++")
    pairs = prompts_and_specs(a.prompts)
    prompts = [q for q, _ in pairs]
    sample(pipe, prompts[:1], TRAINED_FRAMES, "windows")  # warm up: the first run's one-time allocations unmeasured
    lengths, methods = [int(f) for f in a.lengths.split(",") if f], a.methods.split(",")
    for f in lengths:
        for method in methods:
            if (method == "one-pass" and f > 64) or (method not in ("windows", "one-pass") and f <= TRAINED_FRAMES):
                continue  # past one pass's limit; the same clip as "windows" when it fits in a window
            if method != "windows" and f > a.max_others:
                continue

            def work():
                with PeakMemory() as probe:
                    begun = time.perf_counter()
                    videos = sample(pipe, prompts, f, method)
                    seconds = time.perf_counter() - begun
                return {**score(judge, videos, prompts, method), "s_clip": seconds / len(prompts),
                        "peak_mb": probe.mb}
            run(results, f"{method}/{f}", saved, work)
    for f in (int(x) for x in a.image_lengths.split(",") if x):
        run(results, f"image/{f}", saved, lambda: image_to_video(pipe, judge, pairs, f))
    if a.cost:
        for live in (False, True) if a.live_memory else (False,):
            costs(results, saved, [int(f) for f in a.cost_lengths.split(",")], methods, a.threads, a.max_others, live)
    lengths = sorted(set(lengths) | ({int(f) for f in a.cost_lengths.split(",")} if a.cost else set()))
    shown = [m for m in methods if any(k.startswith((m + "/", f"cost/{m}/")) for k in results)]
    where = ("each in a process of its own after an 8-frame warm-up" if a.cost else
             "in the quality run, one after another")
    lines = [f"# Long clips: {a.prompts} validation prompts, the embedded `{mode}` mode, {STEPS} DPM-Solver++ steps, "
             f"guidance {GUIDANCE:g}, {a.threads} thread(s), {BATCH} clips a batch; every length covers the world's "
             f"{SECONDS:g} s (F frames at F/4 fps), windows of {TRAINED_FRAMES} overlapping by {DEFAULT_OVERLAP}. "
             f"Seconds and peak memory: " + (f"one clip, {where}" if a.cost else f"a batch of {BATCH} clips, {where}")
             + ".", ""]
    lines += table(results, lengths, shown)
    images = [(k, v) for k, v in results.items() if k.startswith("image/")]
    if images:
        lines += ["", "## Image-to-video (world stills as frame 0, context windows past 8 frames)", "",
                  "| frames | first frame PSNR (dB) | motion |", "|---|---|---|"]
        lines += [f"| {k.split('/')[1]} | {v['first_frame_psnr']:.1f} | {v['motion']:.3f} |" for k, v in images]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(results, lengths, shown, out.with_suffix(".png"))


if __name__ == "__main__":
    main()
