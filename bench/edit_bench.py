"""One-shot video editing on the world (issue 6, item 3): single-attribute edits of ground-truth validation clips.

Each edit takes a val clip (8 frames at 32², 2 fps), its full source prompt, and the same prompt with one attribute
(colour, shape or background) changed. The judge checks that the changed attribute took and that the others
(size and motion included) stayed; TCC compares the edit's frame changes with the source clip's. Rows: SimDA
one-shot tuning, Tune-A-Video-style temporal attention (`temporal`) one-shot, and no tuning (zero-shot). Also the
train-step time of SimDA vs full tuning (batch 1, 8 frames, each in its own process). Writes bench/results/edit.md.

    python bench/edit_bench.py                       # the full measurement (≥ 20 edits)
    python bench/edit_bench.py --strength 0.6,1.0 --real-size   # each row at two strengths; SD-1.5-sized step too
    python bench/edit_bench.py --edits 2 --tune-steps 4 --steps 10   # a quick check that it runs
    python bench/edit_bench.py --sweep --split train [--sweep-mode simda] [--strength 0.6,0.8 --guidance 3,5]
                                                     # choose strength and guidance on train clips
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.edit import edit_pipeline, one_shot_tune  # noqa: E402
from engine.metrics import load_judge, tcc  # noqa: E402
from engine.motion import motion_plan_for  # noqa: E402
from engine.models.base import load_base  # noqa: E402
from engine.sidecar import model_hash  # noqa: E402
from engine.files import atomic_path  # noqa: E402
from engine.world import render, sample_split_spec  # noqa: E402
from engine.world.spec import ClipSpec, ObjectSpec  # noqa: E402
from engine.world.splits import spec_is_held_out  # noqa: E402
from engine.world.vocab import BACKGROUNDS, COLOURS, MOTIONS, SHAPES  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "edit.md"
EDITED = {"colour": tuple(COLOURS), "shape": SHAPES, "background": BACKGROUNDS, "motion": MOTIONS}
ATTRIBUTES = "colour,shape,background"  # the edits cycled by default; motion edits need a plan (--plan on)
SWEEP_STRENGTHS = "0.5,0.6,0.7,0.8,0.9,1.0"
ROWS = {"simda one-shot": "simda", "temporal one-shot (Tune-A-Video-style)": "temporal", "zero-shot (no tuning)": None}


def prompt_of(spec: ClipSpec) -> str:
    """The full canonical prompt: every attribute named, so the judge can check each one."""
    o = spec.objects[0]
    from engine.world.vocab import MOTION_WORDS

    text = f"a {o.size} {o.colour} {o.shape} {MOTION_WORDS[o.motion][0]} on a {spec.background} background"
    return re.sub(r"\ba ([aeiou])", r"an \1", text)


def single_attribute_edits(n: int, seed: int = 0, split: str = "val", attributes: str = ATTRIBUTES) -> list[dict]:
    """n edits of `split` clips, cycling `attributes` (colour, shape, background by default; motion too); each new
    value keeps the clip valid (visible, not a held-out combination). Settings are chosen on train clips
    (`--split train`) and measured on val ones."""
    rng, edits, index, cycle = np.random.default_rng(seed), [], 0, attributes.split(",")
    while len(edits) < n:
        spec, _ = sample_split_spec(split, index, seed)
        index += 1
        attr = cycle[len(edits) % len(cycle)]
        o = spec.objects[0]
        for value in rng.permutation(EDITED[attr]):
            if value == spec.attributes()[attr]:
                continue
            try:
                new = (ClipSpec((ObjectSpec(**{**o.__dict__, attr: str(value)}),), spec.background) if attr != "background"
                       else ClipSpec(spec.objects, str(value)))
            except ValueError:
                continue
            if not spec_is_held_out(new):
                edits.append({"index": index - 1, "attr": attr, "spec": spec, "edited": new,
                              "source": prompt_of(spec), "prompt": prompt_of(new)})
                break
    return edits


def judge_edit(judge, edited: torch.Tensor, source: torch.Tensor, case: dict) -> dict:
    """edited, source: (3, F, H, W) in [0, 1]."""
    got = judge.predict(edited[None])[0]
    want = case["edited"].attributes()
    kept = {k: got[k] == v for k, v in want.items() if k != case["attr"]}
    return {"took": got[case["attr"]] == want[case["attr"]], "kept": kept, "judged": got,
            "tcc": float(tcc(edited[None], source[None])[0])}


def run_row(mode: str | None, cases: list[dict], judge, args, cache_dir: Path, strength: float, guidance: float,
            plan: bool = False) -> dict:
    """One row; `plan`: the edit follows the edited prompt's motion plan (the frame method, engine.motion)."""
    base_hash = model_hash(load_base().unet)
    results, tune_s, edit_s = [], [], []
    for case in cases:
        clip = render(case["spec"], 32, 2.0, 8).permute(1, 0, 2, 3)  # f c h w -> c f h w
        start = time.perf_counter()
        tuned = one_shot_tune(clip, case["source"], mode, args.tune_steps, None, base_hash, cache_dir, seed=args.seed) \
            if mode else None
        tune_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        pipe, _ = edit_pipeline(mode or "zero-shot", tuned)
        motion = motion_plan_for(case["prompt"], 8, 2.0, case["index"]) if plan else None
        out = pipe(clip[None], case["source"], case["prompt"], None, args.steps, strength, guidance,
                   torch.Generator().manual_seed(args.seed), motion_plan=motion,
                   motion_strength=args.motion_strength).frames[0].permute(1, 0, 2, 3)
        edit_s.append(time.perf_counter() - start)
        results.append(judge_edit(judge, out, clip, case))
    kept = [ok for r in results for ok in r["kept"].values()]
    by_attr = {a: float(np.mean([r["took"] for r, c in zip(results, cases) if c["attr"] == a] or [np.nan]))
               for a in EDITED}
    motion_kept = [r["kept"]["motion"] for r in results if "motion" in r["kept"]]  # edits that keep the motion
    return {"took": float(np.mean([r["took"] for r in results])), "kept": float(np.mean(kept)),
            "motion_kept": float(np.mean(motion_kept or [np.nan])), "took_by_attr": by_attr,
            "tcc": float(np.mean([r["tcc"] for r in results])), "tune_s": float(np.mean(tune_s)),
            "edit_s": float(np.mean(edit_s)), "per_edit": [{k: v for k, v in r.items()} for r in results]}


def step_ratio(threads: int, config: str = "embedded") -> dict:
    """SimDA vs full train step, batch 1 × 8 frames, each mode in its own process; `config` "sd15" measures an
    SD-1.5-sized UNet with random weights (8² latents), where parameters, not activations, set the cost."""
    from engine.training.cost import measure_in_subprocess

    steps = 5 if config == "embedded" else 2
    cost = {m: measure_in_subprocess(m, config, frames=8, batch=1, steps=steps, threads=threads) for m in ("simda", "full")}
    return {"config": config, "simda_s": cost["simda"]["step_s"], "full_s": cost["full"]["step_s"],
            "ratio": cost["full"]["step_s"] / cost["simda"]["step_s"],
            "simda_mb": cost["simda"].get("peak_mb"), "full_mb": cost["full"].get("peak_mb")}


def table(rows: dict) -> str:
    lines = ["| row | change took | kept (all) | motion kept | colour / shape / background / motion took | TCC vs "
             "source | tune s | edit s |", "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        a = r["took_by_attr"]
        took = " / ".join(f"{a.get(k, float('nan')):.2f}" for k in EDITED)
        lines.append(f"| {name} | {r['took']:.3f} | {r['kept']:.3f} | {r['motion_kept']:.3f} | {took} | "
                     f"{r['tcc']:.3f} | {r['tune_s']:.1f} | {r['edit_s']:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--edits", type=int, default=21)
    p.add_argument("--tune-steps", type=int, default=None, help="default: engine.edit.DEFAULT_TUNE_STEPS")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the pipeline's)")
    p.add_argument("--strength", default=None, help="inversion strength, or a comma list: each row at each one "
                                                    "(default: the pipeline's; with --sweep 0.5,0.6,…,1.0)")
    p.add_argument("--guidance", default=None, help="guidance, or a comma list (default: the pipeline's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sweep", action="store_true", help="one row per inversion strength and guidance")
    p.add_argument("--split", default="val", choices=["train", "val"],
                   help="the clips edited: choose settings on train (--sweep --split train), measure on val")
    p.add_argument("--sweep-mode", default=None, help="with --sweep: one-shot tune this mode first (default zero-shot; "
                                                      "each clip is tuned once, the cache keeps it across rows)")
    p.add_argument("--rows", default=",".join(m or "zero-shot" for m in ROWS.values()),
                   help="which rows, by mode: simda, temporal, zero-shot")
    p.add_argument("--plan", default="off", help="off, on, or off,on: rows without and with the edited prompt's "
                                                 "motion plan (the frame method)")
    p.add_argument("--attributes", default=ATTRIBUTES, help="the attributes the edits change, in turn "
                                                            "(colour, shape, background, motion)")
    p.add_argument("--motion-strength", type=float, default=None,
                   help="with --plan on: where the plan's second sampling starts (default the pipeline's 0.7)")
    p.add_argument("--real-size", action="store_true", help="also time the steps on an SD-1.5-sized UNet (≈ 2 min)")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    if args.sweep and args.out == str(OUT):
        args.out = str(OUT.with_name("edit_sweep.md"))
    from engine.edit import DEFAULT_TUNE_STEPS
    from engine.pipelines.edit import DEFAULT_GUIDANCE, DEFAULT_STEPS, DEFAULT_STRENGTH

    torch.set_num_threads(args.threads)
    args.tune_steps = args.tune_steps or DEFAULT_TUNE_STEPS
    args.steps = args.steps or DEFAULT_STEPS
    strengths = [float(s) for s in (args.strength or (SWEEP_STRENGTHS if args.sweep else str(DEFAULT_STRENGTH))).split(",")]
    guidances = [float(g) for g in (args.guidance or str(DEFAULT_GUIDANCE)).split(",")]
    grid = [(s, g) for g in guidances for s in strengths]
    judge, cases = load_judge(), single_attribute_edits(args.edits, args.seed, args.split, args.attributes)
    rows, started = {}, time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        if args.sweep:
            for s, g in grid:
                name = f"{args.sweep_mode or 'zero-shot'}, strength {s}, guidance {g}"
                rows[name] = run_row(args.sweep_mode, cases, judge, args, Path(cache), s, g)
                print(table({k: rows[k] for k in list(rows)[-1:]}).splitlines()[-1], flush=True)
        else:
            for s, g in grid:  # the one-shot tuning is cached, so a second setting only inverts and samples
                for name, mode in ROWS.items():
                    if (mode or "zero-shot") not in args.rows.split(","):
                        continue
                    name = name if len(grid) == 1 else f"{name}, strength {s}, guidance {g}"
                    for plan in args.plan.split(","):
                        row = name + (", motion plan" if plan == "on" else "")
                        rows[row] = run_row(mode, cases, judge, args, Path(cache), s, g, plan == "on")
                        print(table({row: rows[row]}).splitlines()[-1], flush=True)
    ratios = [] if args.sweep else [step_ratio(args.threads, c) for c in ("embedded", "sd15")[:1 + args.real_size]]
    text = (f"# One-shot video editing on the world\n\n{len(cases)} single-attribute edits of {args.split} clips (8 frames, "
            f"32², 2 fps; colour, shape, background in turn); {args.tune_steps} one-shot tuning steps (batch 1), "
            f"{args.steps} DDIM steps, inversion strength {', '.join(map(str, strengths))}, guidance "
            f"{', '.join(map(str, guidances))}; {args.threads} threads. 'kept' counts every unchanged attribute "
            f"(size and motion included) the judge still sees; TCC compares frame changes with the source clip.\n\n"
            + table(rows) + "\n")
    for ratio in ratios:
        text += (f"\nTrain step, batch 1 × 8 frames (own process), {ratio['config']} UNet: SimDA "
                 f"{ratio['simda_s'] * 1000:.0f} ms, full {ratio['full_s'] * 1000:.0f} ms: full / SimDA = "
                 f"{ratio['ratio']:.2f}×.\n")
    text += f"\nTotal {time.perf_counter() - started:.0f} s. Command: `python bench/edit_bench.py {' '.join(argv or sys.argv[1:])}`\n"
    with atomic_path(args.out) as tmp:
        tmp.write_text(text)
    with atomic_path(Path(args.out).with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps({"args": vars(args), "rows": rows, "step": ratios,
                                   "cases": [{k: c[k] for k in ("index", "attr", "source", "prompt")} for c in cases]},
                                  indent=1, default=str))
    print(text)


if __name__ == "__main__":
    main()
