"""Compare tuning modes on the world, side by side in one run (Inflation Table 1, SimDA Table 6,
FusionFrames Table 1 in shape): tunable parameters, train steps per second and peak memory for every mode
(on the embedded UNet and on an SD-1.5-sized one), and, for every mode with tuned weights, attribute
accuracy (motion included), Fréchet distance to ground truth and TCC on validation and held-out prompts.

Quality is measured for every tuned folder under --tuned (each trained with `flipbook train-mode --out
runs/compare/NAME --steps S`, one budget for all, SimDA ablations included) and for zero-shot.

    python bench/compare_modes.py [--prompts 32] [--tuned runs/compare] [--real-size full,temporal,simda]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from engine.metrics import attribute_accuracy, judge_features, load_judge, tcc
from engine.metrics.alignment import frechet_distance
from engine.pipelines.load import keyframe_pipeline
from engine.training.cost import measure_in_subprocess
from engine.tuning import MODES
from engine.world import prompt_to_spec, render, sample_split_spec
from engine.world.vocab import ATTRIBUTES


@torch.no_grad()
def quality(mode: str, folder: Path | None, split: str, n: int, steps: int, guidance: float, judge) -> dict:
    pipe, _ = keyframe_pipeline(mode, "dpm++", tuned=folder)
    prompts = [sample_split_spec(split, i, 99)[1] for i in range(n)]
    videos = []
    for start in range(0, n, 16):
        g = torch.Generator().manual_seed(start)
        frames = pipe(prompts[start:start + 16], num_frames=8, num_inference_steps=steps, guidance_scale=guidance,
                      generator=g).frames
        videos.append(frames.permute(0, 2, 1, 3, 4))  # b f c h w -> b c f h w
    videos = torch.cat(videos)
    truth = torch.stack([render(prompt_to_spec(p, i), 32, 2.0, 8).permute(1, 0, 2, 3) for i, p in enumerate(prompts)])
    acc = attribute_accuracy(judge, videos, prompts)
    return {**{k: acc.get(k, float("nan")) for k in ATTRIBUTES}, "all": acc["all"],
            "fd": frechet_distance(judge_features(judge, videos), judge_features(judge, truth)),
            "tcc": tcc(videos, truth).mean().item()}


def cost_table(modes, real_size) -> list[str]:
    rows = ["| mode | config | tunable params | share | s / step | steps / s | peak MB | time vs full | memory vs full |",
            "|---|---|---|---|---|---|---|---|---|"]
    for config, names, kw in (("embedded", modes, {"batch": 4, "frames": 8}),
                              ("sd15", real_size, {"batch": 1, "frames": 8, "steps": 2})):
        results = {m: measure_in_subprocess(m, config, **kw) for m in names}
        full = results.get("full")
        for m, r in results.items():
            share = r["params_trainable"] / r["params_total"]
            ratio_t = f"{r['step_s'] / full['step_s']:.2f}" if full else "–"
            ratio_m = f"{r['peak_mb'] / full['peak_mb']:.2f}" if full else "–"
            rows.append(f"| {m} | {config} | {r['params_trainable'] / 1e6:.3f} M | {share:.1%} | {r['step_s']:.3f} | "
                        f"{1 / r['step_s']:.2f} | {r['peak_mb']:.0f} | {ratio_t} | {ratio_m} |")
    return rows


def tuned_folders(root: Path) -> dict[str, tuple[str, Path | None, str]]:
    """Row name -> (mode, folder, training budget) for zero-shot and every tuned folder under root."""
    rows = {"zero-shot": ("zero-shot", None, "none")}
    for folder in sorted(root.glob("*/mode.json")):
        record = json.loads(folder.read_text())
        rows[folder.parent.name] = (record["mode"], folder.parent,
                                    f"{record.get('steps', '?')} × {record.get('batch_size', '?')} clips")
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--prompts", type=int, default=32)
    p.add_argument("--tuned", default="runs/compare", help="folder of tuned modes trained with one budget")
    p.add_argument("--skip-cost", action="store_true")
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--guidance", type=float, default=4.0)
    p.add_argument("--real-size", default="full,temporal,simda", help="modes to cost on the SD-1.5-sized UNet")
    p.add_argument("--out", default="bench/results")
    a = p.parse_args()
    torch.set_num_threads(2)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    if not a.skip_cost:
        lines += ["## Cost of each mode", ""] + cost_table(list(MODES), [m for m in a.real_size.split(",") if m]) + [""]
    judge = load_judge()
    lines += [f"## Quality after each mode's training budget ({a.prompts} prompts a split, {a.steps} DPM-Solver++ "
              f"steps, guidance {a.guidance}, 8 keyframes at 2 fps)", "",
              "| mode | budget | split | " + " | ".join(ATTRIBUTES) + " | all | Fréchet ↓ | TCC ↑ |",
              "|---|---|---|" + "---|" * (len(ATTRIBUTES) + 3)]
    scores = {}
    for name, (mode, folder, budget) in tuned_folders(Path(a.tuned)).items():
        for split in ("val", "heldout"):
            q = quality(mode, folder, split, a.prompts, a.steps, a.guidance, judge)
            scores[(name, split)] = q
            lines.append(f"| {name} | {budget} | {split} | " + " | ".join(f"{q[k]:.2f}" for k in ATTRIBUTES) +
                         f" | {q['all']:.3f} | {q['fd']:.2f} | {q['tcc']:.3f} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    (out / "compare_modes.md").write_text(text + "\n")
    (out / "compare_modes.json").write_text(json.dumps({f"{m}/{s}": v for (m, s), v in scores.items()}, indent=1))
    plot(scores, out / "compare_modes.png")


def plot(scores: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = sorted({m for m, _ in scores})
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for ax, key, title in zip(axes, ("motion", "all", "fd"), ("motion accuracy", "attribute accuracy", "Fréchet distance")):
        for i, split in enumerate(("val", "heldout")):
            ax.bar(np.arange(len(modes)) + 0.4 * i, [scores[(m, split)][key] for m in modes], 0.4, label=split)
        ax.set_xticks(np.arange(len(modes)) + 0.2, modes, rotation=45, ha="right", fontsize=7)
        ax.set_title(title)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
