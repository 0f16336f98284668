"""The cascade earns every stage: each stage's clip beside the stage before it and beside a stage with no model, in
one run (the issue's per-stage table).

1. **From the prompt**, as `flipbook generate --cascade` makes it (engine.cascade.run_cascade with its measured
   defaults, run down to translate so that every stage is scored): each stage's clip judged (attribute accuracy over
   every named attribute, and motion alone), its Fréchet distance to the world's ground truth of the same prompts at
   that stage's size and frame rate (judge features), its judder, and the stage's seconds. Beside each model stage,
   the stage with no model run on the same clip before it (blending the keyframes; bicubic upscaling of the
   interpolated clip): a stage may score neither below the stage before it nor below that baseline. The judge sees
   every clip at 32² and 8 evenly spaced frames, which for the 29 interpolated frames are exactly the 8 keyframes
   (0, 4, …, 28): it cannot see interpolation's in-between frames, nor the upscale stage's detail. Both are
   measured in part 2 (and interpolation where content moves well apart by bench/interp_bench.py --keyframe-fps 0.5).
2. **From the ground truth of the stage before** (so that a stage is measured on its own work): interpolation of the
   truth's keyframes (the interpolation models beside blending and tweening), pixel SR of the truth at 8 fps (beside bicubic),
   expert translation of that SR output (beside the SR output itself), each against the truth at its output: PSNR,
   SSIM, TCC.

    python bench/cascade_stages.py                        # 8 validation prompts → bench/results/cascade_stages.md
    python bench/cascade_stages.py --prompts 2 --steps 2  # a quick check that it runs
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cascade import STAGES, run_cascade  # noqa: E402
from engine.files import atomic_path  # noqa: E402
from engine.interpolate import MODEL_FREE, interpolate_clip  # noqa: E402
from engine.metrics import attribute_accuracy, judder, judge_features, load_judge, psnr, ssim, tcc  # noqa: E402
from engine.metrics.ghosting import ghosting  # noqa: E402
from engine.metrics.judge import to_judge_view  # noqa: E402
from engine.metrics.alignment import frechet_distance  # noqa: E402
from engine.models.interpolation import FACTOR, output_frames  # noqa: E402
from engine.models.sr import upsample  # noqa: E402
from engine.pipelines.translate import STRENGTH, translation_pipeline  # noqa: E402
from engine.registry import (CASCADE_DEPTH, DEFAULT_INTERP, INTERP_BLEND, INTERP_METHODS, STAGE_STEPS,  # noqa: E402
                             interp_methods_here)
from engine.upscale import upscale_clip  # noqa: E402
from engine.world import render, sample_split_spec  # noqa: E402
from engine.world.render import render_background  # noqa: E402
from engine.world.vocab import COLOURS  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
KEYFRAMES, KEY_FPS, SR_SCALE = 8, 2.0, 4


def from_prompts(prompts: list[str], args) -> tuple[dict, dict]:
    """Every prompt down the cascade: ({stage: clips (N, 3, F, H, W)}, {stage: mean seconds})."""
    clips, seconds = {s: [] for s in STAGES}, {s: [] for s in STAGES}
    with tempfile.TemporaryDirectory() as tmp:
        for i, prompt in enumerate(prompts):
            _, _, record = run_cascade(Path(tmp) / f"{i}.mp4", prompt, depth="translate", seed=i, steps=args.steps,
                                       stage_steps=args.stage_steps, interp_method=args.interp_method,
                                       on_stage_done=lambda stage, clip: clips[stage].append(clip[0].permute(1, 0, 2, 3)))
            for stage in record["stages"]:
                seconds[stage["stage"]].append(stage["seconds"])
            print(f"prompt {i} ({prompt}): " + ", ".join(f"{s['stage']} {s['seconds']:.1f} s" for s in record["stages"]),
                  flush=True)
    return {s: torch.stack(v) for s, v in clips.items()}, {s: float(np.mean(v)) for s, v in seconds.items()}


def truth_of(specs: list, stage: str) -> torch.Tensor:
    """The world's ground truth at a stage's frames, rate and size: (N, 3, F, H, W)."""
    frames, fps = (KEYFRAMES, KEY_FPS) if stage == "keyframes" else (output_frames(KEYFRAMES), KEY_FPS * FACTOR)
    size = 32 if stage in ("keyframes", "interpolate") else 32 * SR_SCALE
    return torch.stack([render(s, size, fps, frames).permute(1, 0, 2, 3) for s in specs])


def per_clip(fn, videos: torch.Tensor) -> torch.Tensor:
    """`fn` on each clip of (N, 3, F, H, W), taking and giving (F, 3, H, W)."""
    return torch.stack([fn(c.permute(1, 0, 2, 3)).permute(1, 0, 2, 3) for c in videos])


def bicubic(videos: torch.Tensor) -> torch.Tensor:
    """(N, 3, F, h, w) in [0, 1] upscaled SR_SCALE× bicubically (clamped): the upscale stage with no model."""
    return per_clip(lambda c: (upsample(c * 2 - 1, tuple(s * SR_SCALE for s in c.shape[-2:]), "bicubic") / 2
                               + 0.5).clamp(0, 1), videos)


BASELINES = {  # the stage with no model, run on the cascade's own clip before it: (stage, its input, the run)
    f"interpolate · {INTERP_BLEND} (no model)": ("interpolate", "keyframes", lambda v: per_clip(MODEL_FREE[INTERP_BLEND], v)),
    "upscale · bicubic (no model)": ("upscale", "interpolate", bicubic),
}


def between(judge, videos: torch.Tensor, truth: torch.Tensor, specs: list, prompts: list[str]) -> dict:
    """What the judge's keyframe view misses, on the frames between the keyframes (at 32², as the judge sees them):
    the judge's accuracy on those frames alone, and ghosting against the truth's same frames (engine.metrics.ghosting:
    the share of frames with more objects than the truth, the translucent share beyond the truth's)."""
    mid = [i for i in range(videos.shape[2]) if i % FACTOR]
    small = to_judge_view(videos[:, :, mid], len(mid))
    truth = to_judge_view(truth[:, :, mid], len(mid))
    ghosts = [ghosting(o.permute(1, 0, 2, 3), t.permute(1, 0, 2, 3), render_background(s.background, 32, 32),
                       [COLOURS[obj.colour] for obj in s.objects]) for o, t, s in zip(small, truth, specs)]
    return {"mid_all": attribute_accuracy(judge, videos[:, :, mid], prompts)["all"],
            "extra": float(np.mean([g["extra_count"].mean() for g in ghosts])),
            "translucent": float(np.mean([g["translucent"].mean() for g in ghosts]))}


def judged(judge, clips: dict, specs: list, prompts: list[str]) -> dict:
    """Per stage, and per baseline beside it: the judge's accuracy (all, motion), Fréchet distance to the truth of
    the stage's size and rate, judder, and beyond the keyframes what the judge's view misses (`between`). {row:
    scores}, rows in STAGES order with each baseline after its stage."""
    runs = {}
    for stage in STAGES:
        runs[stage] = (stage, clips[stage])
        runs.update({row: (at, make(clips[before])) for row, (at, before, make) in BASELINES.items() if at == stage})
    rows = {}
    for row, (stage, videos) in runs.items():
        acc = attribute_accuracy(judge, videos, prompts)
        truth = truth_of(specs, stage)
        rows[row] = {"all": acc["all"], "motion": acc.get("motion", float("nan")), "judder": judder(videos).mean().item(),
                     "fd": frechet_distance(judge_features(judge, videos), judge_features(judge, truth)),
                     **(between(judge, videos, truth, specs, prompts) if stage != "keyframes" else {})}
    return rows


def scored(out: torch.Tensor, truth: torch.Tensor, frames: list[int] | None = None) -> dict:
    """PSNR and SSIM (over `frames`, default all) and TCC (all) of (N, 3, F, H, W) against the truth."""
    o, t = (out, truth) if frames is None else (out[:, :, frames], truth[:, :, frames])
    return {"psnr": psnr(o, t).clamp(max=60).mean().item(), "ssim": ssim(o, t).mean().item(),
            "tcc": tcc(out, truth).mean().item()}


def teacher_forced(specs: list, prompts: list[str], args) -> dict:
    """Each later stage on the truth of the stage before, beside its baseline: {row: scores}."""
    keys, moving, high = truth_of(specs, "keyframes"), truth_of(specs, "interpolate"), truth_of(specs, "upscale")
    mid = [i for i in range(moving.shape[2]) if i % FACTOR]
    rows = {f"interpolate · {name}": scored(per_clip(make, keys), moving, mid) for name, make in MODEL_FREE.items()}
    for method in interp_methods_here():
        run = lambda c: interpolate_clip(c, KEY_FPS, method, steps=args.stage_steps)[0]  # noqa: E731
        rows[f"interpolate · {method}"] = scored(per_clip(run, keys), moving, mid)
    rows["upscale · bicubic"] = scored(bicubic(moving), high)
    sr = torch.stack([upscale_clip(c.permute(1, 0, 2, 3), p, steps=args.stage_steps, seed=i)[0].permute(1, 0, 2, 3)
                      for i, (c, p) in enumerate(zip(moving, prompts))])
    rows["upscale · pixel SR"] = scored(sr, high)
    rows["translate · none (the SR output)"] = rows["upscale · pixel SR"]
    pipe = translation_pipeline()[0]
    translated = torch.stack([
        pipe(c.permute(1, 0, 2, 3)[None], p, STRENGTH, args.stage_steps, 1.0, *c.shape[-2:],
             generator=torch.Generator().manual_seed(i), decode_chunk_size=1).frames[0].permute(1, 0, 2, 3)
        for i, (c, p) in enumerate(zip(sr, prompts))])
    rows["translate · expert"] = scored(translated, high)
    return rows


def verdicts(rows: dict) -> list[str]:
    """Each stage after the first against the stage before it and against its no-model baseline: below on the judge
    (all attributes) or above on Fréchet? And, where both have frames between the keyframes, below on the judge of
    those or above on their extra objects?"""
    lines = []
    for before, stage in zip(STAGES, STAGES[1:]):
        others = [(before, rows[before])] + [(row, rows[row]) for row, (at, *_) in BASELINES.items() if at == stage]
        for name, other in others:
            judge = "below" if rows[stage]["all"] < other["all"] else "not below"
            fd = "above" if rows[stage]["fd"] > other["fd"] else "not above"
            line = (f"{stage} against {name}: judge {judge} ({rows[stage]['all']:.3f} vs {other['all']:.3f}), "
                    f"Fréchet {fd} ({rows[stage]['fd']:.1f} vs {other['fd']:.1f})")
            if "mid_all" in rows[stage] and "mid_all" in other:
                mid = "below" if rows[stage]["mid_all"] < other["mid_all"] else "not below"
                extra = "above" if rows[stage]["extra"] > other["extra"] else "not above"
                line += (f"; between the keyframes, judge {mid} ({rows[stage]['mid_all']:.3f} vs "
                         f"{other['mid_all']:.3f}), extra objects {extra} ({rows[stage]['extra']:.3f} vs "
                         f"{other['extra']:.3f})")
            lines.append(line)
    return lines


def report(args, judge_rows: dict, seconds: dict, forced: dict) -> str:
    lines = [f"# The cascade, stage by stage ({args.prompts} validation prompts, one run)", "",
             f"`python bench/cascade_stages.py --prompts {args.prompts}`, {torch.get_num_threads()} thread(s); "
             f"keyframes {args.steps} steps, later stages {args.stage_steps}; interpolation: {args.interp_method} "
             f"(the measured default is {DEFAULT_INTERP}; the default depth is {CASCADE_DEPTH}).", "",
             "## From the prompt (`generate --cascade`)", "",
             "Each stage's clip judged (attribute accuracy over every named attribute; motion alone), its Fréchet "
             "distance to the world's ground truth of the same prompts at the stage's size and rate, judder. Rows "
             "marked *no model* run that stage's baseline on the cascade's clip before it. The judge sees 8 evenly "
             "spaced frames at 32²: of 29 interpolated frames, the keyframes alone. So beyond the keyframes the "
             "frames between them are judged alone too (*between*: the judge on those frames; the share of them "
             "showing more objects than the truth's; their translucent share beyond the truth's, a ghost's mark); "
             "the detail is measured below.", "",
             "| stage | judge: all ↑ | judge: motion ↑ | Fréchet ↓ | judder ↓ | between: judge all ↑ | "
             "between: extra objects ↓ | between: translucent ↓ | seconds |", "|---|---|---|---|---|---|---|---|---|"]
    for row, r in judge_rows.items():
        mid = (f"{r['mid_all']:.3f} | {r['extra']:.3f} | {r['translucent']:.3f}" if "mid_all" in r else "– | – | –")
        lines.append(f"| {row} | {r['all']:.3f} | {r['motion']:.2f} | {r['fd']:.1f} | {r['judder']:.2f} | {mid} | "
                     + (f"{seconds[row]:.1f} |" if row in seconds else "– |"))
    default = STAGES[:STAGES.index(CASCADE_DEPTH) + 1]
    lines += ["", f"Seconds down to the default depth ({CASCADE_DEPTH}): {sum(seconds[s] for s in default):.1f}; "
              f"down to translate: {sum(seconds.values()):.1f}.", ""]
    lines += [f"- {line}" for line in verdicts(judge_rows)]
    lines += ["",
              "## From the ground truth of the stage before", "",
              "Interpolation: PSNR and SSIM over the frames between the keyframes; the others over every frame.", "",
              "| stage · method | PSNR ↑ | SSIM ↑ | TCC ↑ |", "|---|---|---|---|"]
    lines += [f"| {row} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['tcc']:.4f} |" for row, r in forced.items()]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--stage-steps", type=int, default=STAGE_STEPS)
    p.add_argument("--interp-method", default=DEFAULT_INTERP, choices=[*MODEL_FREE, *INTERP_METHODS])
    p.add_argument("--out", default=str(RESULTS / "cascade_stages.md"))
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))
    pairs = [sample_split_spec("val", i) for i in range(200)]
    pairs = [(s, c) for s, c in pairs if len(s.objects) == 1][:args.prompts]  # the judge scores one-object clips
    specs, prompts = [s for s, _ in pairs], [c for _, c in pairs]
    clips, seconds = from_prompts(prompts, args)
    judge_rows = judged(load_judge(), clips, specs, prompts)
    forced = teacher_forced(specs, prompts, args)
    text = report(args, judge_rows, seconds, forced)
    with atomic_path(args.out) as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
