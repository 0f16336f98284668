"""Motion that follows the prompt, side by side in one run (engine/motion/README.md): for each keyframe mode, sampled
without a plan (the words alone), with a plan from the prompt by the frame method (the default of
`flipbook generate`) and by the noise method: the judge's accuracy per attribute, motion accuracy per motion
family, Fréchet distance to ground truth, TCC and judder, and how far the object follows the plan its prompt asks
for (path px: its displacement's error in pixels; scale err: its size's; engine.metrics.track_error, without the
judge), on validation and held-out prompts.

Every clip is sampled as `flipbook generate` samples it (25 DPM-Solver++ steps, guidance 4, 8 keyframes at
2 fps, the plan from `engine.generate.motion_plan_for`). Rows are saved as they finish and a rerun resumes.

    python bench/motion_bench.py [--val 48] [--heldout 24] [--modes DEFAULT,zero-shot] [--methods off,frame,noise]
    python bench/motion_bench.py --methods frame+xf,off+xf   # with Text2Video-Zero's cross-frame attention
    python bench/motion_bench.py --modes "" --pyramid assets/modes/pyramid-ddim --methods off,frame --steps 24
    python bench/motion_bench.py --background checkerboard --methods frame,frame+rows --modes DEFAULT
        # prompts on one background; +rows: objects found by row medians alone (the region finder before stop 44)
"""
from __future__ import annotations

import argparse
import json
import math
import re
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from engine.generate import default_mode, motion_plan_for
from engine.metrics import attribute_accuracy, judder, judge_features, load_judge, tcc, track_error
from engine.metrics.alignment import frechet_distance
from engine.motion import region
from engine.pipelines.load import keyframe_pipeline
from engine.world import parse_prompt, prompt_to_spec, render, sample_split_spec
from engine.world.render import render_background
from engine.world.vocab import ATTRIBUTES, COLOURS

FAMILIES = {"translate": ("left", "right", "up", "down", "up-left", "up-right", "down-left", "down-right"),
            "bounce/orbit": ("bounce", "orbit"), "rotate/grow/shrink": ("rotate", "grow", "shrink"),
            "still": ("still",)}
FRAMES, FPS, BATCH = 8, 2.0, 8


def prompts_of(split: str, n: int, background: str | None = None) -> list[str]:
    """The split's first `n` prompts (of those on `background`, where given)."""
    found = []
    for i in range(10**6):
        if len(found) >= n:
            break
        spec, prompt = sample_split_spec(split, i, 99)
        if background in (None, spec.background):
            found.append(prompt)
    return found


@contextmanager
def row_medians_only(on: bool):
    """Objects found by row medians alone while `on` (no two-coloured backgrounds: the region finder before stop
    44), for the ablation rows METHOD+rows."""
    saved = region.PIECES
    region.PIECES = math.inf if on else saved
    try:
        yield
    finally:
        region.PIECES = saved


@torch.no_grad()
def sample(pipe, prompts: list[str], method: str, steps: int, guidance: float, pyramid: int | None = None) -> torch.Tensor:
    """Clips (N, 3, F, H, W): batches of BATCH, seed = the batch's first index, each clip's own plan."""
    videos = []
    for start in range(0, len(prompts), BATCH):
        batch = prompts[start:start + BATCH]
        plans = None
        if not method.startswith("off"):
            plans = [motion_plan_for(p, FRAMES, FPS, start + i) for i, p in enumerate(batch)]
        plan_method, _, extra = method.partition("+")  # "frame+xf": with cross-frame attention
        with row_medians_only(extra == "rows"):
            out = pipe(batch, num_frames=FRAMES, num_inference_steps=steps, guidance_scale=guidance,
                       generator=torch.Generator().manual_seed(start), motion_plan=plans,
                       motion_method="frame" if plan_method == "off" else plan_method, pyramid=pyramid,
                       cross_frame=extra == "xf")
        videos.append(out.frames.permute(0, 2, 1, 3, 4))  # b f c h w -> b c f h w
    return torch.cat(videos)


def score(videos: torch.Tensor, prompts: list[str], judge) -> dict:
    truth = torch.stack([render(prompt_to_spec(p, i), videos.shape[-1], FPS, FRAMES).permute(1, 0, 2, 3)
                         for i, p in enumerate(prompts)])
    acc = attribute_accuracy(judge, videos, prompts)
    result = {**{k: acc.get(k, float("nan")) for k in ATTRIBUTES}, "all": acc["all"],
              "fd": frechet_distance(judge_features(judge, videos), judge_features(judge, truth)),
              "tcc": tcc(videos, truth).mean().item(), "judder": judder(videos).mean().item()}
    motions = [parse_prompt(p).objects[0].get("motion") for p in prompts]
    result.update(tracks(videos, prompts))
    for family, members in FAMILIES.items():
        hits = [c["correct"]["motion"] for c, m in zip(acc["per_clip"], motions) if m in members]
        result[f"motion:{family}"] = float(np.mean(hits)) if hits else float("nan")
        result[f"n:{family}"] = len(hits)
    return result


def tracks(videos: torch.Tensor, prompts: list[str]) -> dict:
    """How far each clip's object follows the plan its prompt asks for (engine.metrics.track_error, seeds as in
    `sample`), averaged over the clips whose object is found in frame 0: "path" px, "scale" error."""
    errors = []
    for i, (video, prompt) in enumerate(zip(videos, prompts)):
        spec = prompt_to_spec(prompt, i)
        plan = motion_plan_for(prompt, FRAMES, FPS, i)
        shift = torch.tensor(plan.shift) if plan else torch.zeros(FRAMES, 2)
        scale = torch.tensor(plan.scale) if plan else torch.ones(FRAMES)
        errors.append(track_error(video.permute(1, 0, 2, 3), COLOURS[spec.objects[0].colour],
                                  render_background(spec.background, *video.shape[-2:]), shift, scale))
    return {k: float(np.nanmean([e[k] for e in errors])) for k in ("path", "scale")}


def table(results: dict, n: dict) -> list[str]:
    fams = list(FAMILIES)
    lines = ["| mode | plan | split | " + " | ".join(ATTRIBUTES) + " | " + " | ".join(f"motion: {f}" for f in fams)
             + " | all | Fréchet ↓ | TCC ↑ | judder ↓ | path px ↓ | scale err ↓ | s / clip |",
             "|---|---|---|" + "---|" * (len(ATTRIBUTES) + len(fams) + 7)]
    for key, q in results.items():
        mode, method, split = key.split("/")
        lines.append(f"| {mode} | {method} | {split} ({n[split]}) | " + " | ".join(f"{q[k]:.2f}" for k in ATTRIBUTES)
                     + " | " + " | ".join(f"{q['motion:' + f]:.2f} ({q['n:' + f]})" for f in fams)
                     + f" | {q['all']:.3f} | {q['fd']:.1f} | {q['tcc']:.3f} | {q['judder']:.2f} | "
                     + f"{q.get('path', math.nan):.2f} | {q.get('scale', math.nan):.3f} | {q['s_clip']:.1f} |")
    return lines


def plain_vs_warped(results: dict, methods: list[str]) -> list[str]:
    """Tuned folders named MODE-plain-STEPS and MODE-warped-STEPS side by side, one line a mode; the untuned rows
    (the embedded mode, zero-shot) above them: motion accuracy val / held-out; all attributes val / held-out."""
    def cell(name, method):
        rows = [results.get(f"{name}/{method}/{split}") for split in ("val", "heldout")]
        if not all(rows):
            return ""
        return f"{rows[0]['motion']:.2f} / {rows[1]['motion']:.2f}; {rows[0]['all']:.3f} / {rows[1]['all']:.3f}"

    names = list(dict.fromkeys(k.split("/")[0] for k in results))
    paired = {}
    for name in names:
        mode, noise, steps = (name.rsplit("-", 2) + ["", ""])[:3] if name.count("-") >= 2 else (name, "", "")
        if noise in ("plain", "warped") and steps.isdigit():
            paired.setdefault(mode, {})[noise] = name
    row = lambda label, cells: f"| {label} | " + " | ".join(cells) + " |"  # noqa: E731
    lines = [row("mode", [f"{m}: {noise}" for m in methods for noise in ("plain", "warped")]),
             "|---|" + "---|---|" * len(methods)]
    for name in (n for n in names if not any(n in pair.values() for pair in paired.values())):
        lines.append(row(f"{name} (not trained by this comparison)", [c for m in methods for c in (cell(name, m), "")]))
    for mode, pair in paired.items():
        lines.append(row(mode, [cell(pair.get(noise, ""), m) for m in methods for noise in ("plain", "warped")]))
    return lines


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--val", type=int, default=48)
    p.add_argument("--heldout", type=int, default=24)
    p.add_argument("--modes", default="DEFAULT,zero-shot", help="DEFAULT is generate's default mode")
    p.add_argument("--methods", default="off,frame,noise")
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--guidance", type=float, default=4.0)
    p.add_argument("--tuned", default="", metavar="FOLDER,...",
                   help="tuned folders (e.g. the same mode trained with plain and with warped noise), rows by name")
    p.add_argument("--pyramid", default=None, metavar="FOLDER",
                   help="a pyramid-trained folder (DDIM): its rows sampled vanilla and through its pyramid")
    p.add_argument("--background", default=None, help="only prompts on this world background (e.g. checkerboard)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="bench/results/motion")
    p.add_argument("--merge", default="", metavar="JSON,...",
                   help="rows of other runs (their .json) to add to this one's, e.g. a second pass run beside it")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = out.with_suffix(".json")
    results = json.loads(saved.read_text()) if saved.exists() else {}
    merged = {k: v for f in a.merge.split(",") if f for k, v in json.loads(Path(f).read_text()).items()}
    if set(merged) - set(results):
        save({**merged, **results}, saved)
        results = json.loads(saved.read_text())
    judge = load_judge()
    n = {"val": a.val, "heldout": a.heldout}
    for name, mode, tuned, pyramid, scheduler in runs_of(a):
        pipe, _ = keyframe_pipeline(mode, scheduler, tuned=tuned)
        for method in (m for m in a.methods.split(",") if m):
            for split in ("val", "heldout"):
                key = f"{name}/{method}/{split}"
                if key in results or not n[split]:
                    continue
                prompts = prompts_of(split, n[split], a.background)
                start = time.perf_counter()
                videos = sample(pipe, prompts, method, a.steps, a.guidance, pyramid)
                seconds = time.perf_counter() - start
                results[key] = {**score(videos, prompts, judge), "s_clip": seconds / len(prompts)}
                save(results, saved)
                print(table({key: results[key]}, n)[-1], flush=True)
    report(results, a, n, out)


def runs_of(a) -> list[tuple]:
    """(row name, mode, tuned folder, pyramid stages, scheduler) for each mode, tuned folder and pyramid asked for."""
    runs = [(mode, mode, None, None, "dpm++") for mode in
            (default_mode() if m == "DEFAULT" else m for m in a.modes.split(",") if m)]
    for folder in (f for f in a.tuned.split(",") if f):
        runs.append((Path(folder).name, json.loads((Path(folder) / "mode.json").read_text())["mode"], folder, None,
                     "dpm++"))
    if a.pyramid:
        record = json.loads((Path(a.pyramid) / "mode.json").read_text())
        name = Path(a.pyramid).name
        runs += [(f"{name} vanilla", record["mode"], a.pyramid, None, "ddim"),
                 (f"{name} pyramid", record["mode"], a.pyramid, record["pyramid"], "ddim")]
    return runs


def save(results: dict, saved: Path):
    """The rows so far, written whole under a temporary name first (a killed run leaves the last full file)."""
    tmp = saved.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(saved)


def report(results: dict, a, n: dict, out: Path):
    """The table (.md, printed) and the figure (.png); tuned folders named MODE-plain-N / MODE-warped-N also side
    by side."""
    solver = "DPM-Solver++; the pyramid folder's rows DDIM" if a.pyramid else "DPM-Solver++"
    on = f" on the {a.background} background" if a.background else ""
    lines = [f"## Motion with and without a plan ({a.steps} steps ({solver}), guidance {a.guidance}, "
             f"{FRAMES} keyframes at {FPS:g} fps; {a.val} validation and {a.heldout} held-out prompts{on})", ""]
    if any(re.search(r"-(plain|warped)-\d+/", k) for k in results):
        lines += ["### Plain against warped noise in tuning, side by side (motion accuracy val / held-out; all "
                  "attributes val / held-out)", "",
                  *plain_vs_warped(results, list(dict.fromkeys(k.split("/")[1] for k in results))), "",
                  "### Every row", ""]
    lines += table(results, n)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(results, out.with_suffix(".png"))


def plot(results: dict, path: Path):
    """One row a mode (tuned folder), one column a plan method and split: motion accuracy, all attributes and Fréchet
    distance as annotated heat maps, so that tens of rows stay readable; cells not measured yet are blank."""
    import matplotlib

    matplotlib.use("Agg")  # imported here: matplotlib is only needed for the figure
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(k.split("/")[0] for k in results))
    columns = [(m, s) for m in dict.fromkeys(k.split("/")[1] for k in results) for s in ("val", "heldout")]
    panels = [("motion", "motion accuracy ↑", "viridis", (0, 1)), ("all", "all attributes ↑", "viridis", (0.7, 1)),
              ("fd", "Fréchet distance ↓", "viridis_r", None)]
    fig, axes = plt.subplots(1, 3, figsize=(4 + 1.1 * len(columns) * 3, 1.2 + 0.32 * len(names)))
    for ax, (key, title, cmap, limits) in zip(axes, panels):
        grid = np.array([[results.get(f"{n}/{m}/{s}", {}).get(key, np.nan) for m, s in columns] for n in names])
        ax.imshow(grid, cmap=cmap, aspect="auto", **(dict(zip(("vmin", "vmax"), limits)) if limits else {}))
        for (r, c), v in np.ndenumerate(grid):
            if not np.isnan(v):
                ax.text(c, r, f"{v:.2f}" if key != "fd" else f"{v:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if (v < 0.5 if key == "motion" else v < 0.85 if key == "all" else v > 60)
                        else "black")
        ax.set_xticks(range(len(columns)), [f"{m}\n{s}" for m, s in columns], fontsize=7)
        ax.set_yticks(range(len(names)), names if ax is axes[0] else [""] * len(names), fontsize=7)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
