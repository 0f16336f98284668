"""TPDiff on the world, side by side in one run: Table 1 (sampling latency of vanilla vs pyramid, DDIM and
flow matching), Table 3 (training with and without data-noise alignment) and the renoising ablation.

Every model is a tuned folder trained by `flipbook train-pyramid` with one budget (see bench/README.md):
vanilla = `--stages 1`, pyramid = `--stages 3`, no-align = `--stages 3 --no-align`. All sample 16 frames at
32² (4 s at 4 fps) with the same total steps; latency is measured on the same prompts, the runs interleaved
batch by batch so that machine noise falls on both alike.

    python bench/pyramid_bench.py [--prompts 24] [--steps 24] [--dir assets/modes] [--runs-dir runs] [--rows 'no renoising']

The folders trained without alignment or for 0.6× the steps are not shipped (they only serve this bench):

    flipbook train-pyramid --form ddim --stages 3 --no-align --steps 300 --out runs/pyramid-ddim-noalign
    flipbook train-pyramid --form ddim --stages 3 --steps 180 --out runs/pyramid-ddim-180
    flipbook train-pyramid --form flow --stages 3 --steps 180 --out runs/pyramid-flow-180
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from engine.metrics import attribute_accuracy, judge_features, judder, load_judge, tcc
from engine.metrics.alignment import frechet_distance
from engine.tuning import tuned_record
from engine.pipelines.load import keyframe_pipeline
from engine.training.pyramid import PYRAMID_CLIPS
from engine.world import prompt_to_spec, render, sample_split_spec

# row name -> (folder name, sampler, pyramid stages or None, renoise)
RUNS = {
    "ddim vanilla": ("pyramid-ddim-vanilla", "ddim", None, True),
    "ddim pyramid": ("pyramid-ddim", "ddim", 3, True),
    "ddim pyramid, no renoising": ("pyramid-ddim", "ddim", 3, False),
    "flow vanilla": ("pyramid-flow-vanilla", "flow", None, True),
    "flow pyramid": ("pyramid-flow", "flow", 3, True),
    "flow pyramid, no renoising": ("pyramid-flow", "flow", 3, False),
}
# measurement-only folders (made by the commands in the module docstring, looked up in --runs-dir): trained without
# alignment (Table 3), and pyramids trained for 0.6× the vanilla budget (TPDiff: vanilla's score in about half the steps)
MEASURED = {
    "ddim pyramid, trained without alignment": ("pyramid-ddim-noalign", "ddim", 3, True),
    "ddim pyramid, 0.6× the steps": ("pyramid-ddim-180", "ddim", 3, True),
    "flow pyramid, 0.6× the steps": ("pyramid-flow-180", "flow", 3, True),
}


def truth_clips(prompts: list[str]) -> torch.Tensor:
    c = PYRAMID_CLIPS
    return torch.stack([render(prompt_to_spec(p, i), c["size"], c["fps"], c["frames"]).permute(1, 0, 2, 3)
                        for i, p in enumerate(prompts)])  # b c f h w


def scores(judge, videos: torch.Tensor, truth: torch.Tensor, prompts: list[str]) -> dict:
    acc = attribute_accuracy(judge, videos, prompts)
    return {"all": acc["all"], "motion": acc.get("motion", float("nan")),
            "fd": frechet_distance(judge_features(judge, videos), judge_features(judge, truth)),
            "tcc": tcc(videos, truth).mean().item(), "judder": judder(videos).mean().item()}


@torch.no_grad()
def run(args) -> list[str]:
    judge = load_judge()
    prompts = [sample_split_spec("val", i, 99)[1] for i in range(args.prompts)]
    truth = truth_clips(prompts)
    runs = {}
    wanted = [(name, Path(args.dir) / run[0], *run[1:]) for name, run in RUNS.items()]
    wanted += [(name, Path(args.runs_dir) / run[0], *run[1:]) for name, run in MEASURED.items()]
    for name, path, sampler, stages, renoise in wanted:
        if name.split()[0] not in args.forms.split(",") or (args.rows and not any(r in name for r in args.rows)):
            continue
        if not (path / "mode.json").is_file():
            print(f"skipping {name}: no {path}")
            continue
        pipe, _ = keyframe_pipeline(tuned_record(path)["mode"], sampler, tuned=path)
        runs[name] = (pipe, stages, renoise, tuned_record(path))
    videos = {name: [] for name in runs}
    seconds = {name: 0.0 for name in runs}
    for start in range(0, len(prompts), args.batch):  # interleaved: every run sees the same machine state
        batch = prompts[start:start + args.batch]
        for name, (pipe, stages, renoise, _) in runs.items():
            g = torch.Generator().manual_seed(start)
            t0 = time.perf_counter()
            frames = pipe(batch, num_frames=PYRAMID_CLIPS["frames"], num_inference_steps=args.steps,
                          guidance_scale=args.guidance, generator=g, pyramid=stages, renoise=renoise).frames
            seconds[name] += time.perf_counter() - t0
            videos[name].append(frames.permute(0, 2, 1, 3, 4))  # b f c h w -> b c f h w
    results = {name: {**scores(judge, torch.cat(v), truth, prompts), "s": seconds[name] / len(prompts),
                      "steps_trained": runs[name][3].get("steps")} for name, v in videos.items()}
    results["ground truth"] = {**scores(judge, truth, truth, prompts), "s": float("nan"), "steps_trained": None}
    Path(args.json).write_text(json.dumps(results, indent=1))
    return table(results, args)


def table(results: dict, args) -> list[str]:
    rows = [f"{args.prompts} validation prompts, 16 frames at 32² (4 s at 4 fps), {args.steps} steps in all, guidance "
            f"{args.guidance}; seconds a clip measured interleaved in one run. TCC compares frame changes with a ground-truth "
            "clip of the same prompt that the sample is not aligned with, so small changes score well; judder is the "
            "std / mean of the change between consecutive frames (0: steady motion; a frame shown twice: 1).", "",
            "| run | trained steps | s / clip | speed-up vs vanilla | attributes | motion | Fréchet | TCC | judder |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        form = name.split()[0]
        base = results.get(f"{form} vanilla")
        speed = f"{base['s'] / r['s']:.2f}×" if base and r["s"] == r["s"] else "–"
        rows.append(f"| {name} | {r['steps_trained'] or '–'} | {r['s']:.2f} | {speed} | {r['all']:.3f} | "
                    f"{r['motion']:.3f} | {r['fd']:.1f} | {r['tcc']:.3f} | {r['judder']:.3f} |")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prompts", type=int, default=24)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--guidance", type=float, default=4.0)
    p.add_argument("--dir", default="assets/modes")
    p.add_argument("--runs-dir", default="runs", help="where the measurement-only folders are")
    p.add_argument("--forms", default="ddim,flow", help="which forms to run (each form's runs are side by side)")
    p.add_argument("--rows", type=lambda s: s.split(","), default=None,
                   help="only the runs whose name contains one of these (comma list), e.g. 'pyramid,no renoising'")
    p.add_argument("--out", default="bench/results/pyramid.md")
    p.add_argument("--json", default="bench/results/pyramid.json")
    args = p.parse_args()
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", 2)))
    rows = run(args)
    Path(args.out).write_text("# Temporal pyramid (TPDiff Tables 1 and 3, renoising ablation)\n\n" + "\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
