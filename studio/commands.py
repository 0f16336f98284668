"""What each `flipbook` subcommand does (imports are local so that each command starts fast)."""
from __future__ import annotations

import json
import time
from pathlib import Path


def _threads():
    import torch

    torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))


def render(args) -> int:
    from engine.io import write_video
    from engine.sidecar import write_sidecar
    from engine.validate import check_output, check_prompt
    from engine.world import prompt_to_spec
    from engine.world import render as render_clip

    out = check_output(args.out)
    check_prompt(args.prompt)
    if not 0 < args.fps <= 120:
        raise ValueError(f"fps must be in (0, 120], got {args.fps}")
    start = time.perf_counter()
    spec = prompt_to_spec(args.prompt, args.seed)
    video = render_clip(spec, args.size, args.fps, args.frames, args.t0)
    write_video(out, video, args.fps)
    write_sidecar(out, {"kind": "render", "prompt": args.prompt, "seed": args.seed, "size": args.size,
                        "fps": args.fps, "frames": args.frames, "t0": args.t0, "spec": spec.to_dict(),
                        "seconds": round(time.perf_counter() - start, 4)})
    print(out)
    return 0


GENERATE_KEYS = ("prompt", "negative_prompt", "seed", "frames", "steps", "guidance", "mode", "scheduler", "fps",
                 "model", "tuned", "pyramid", "renoise", "dtype", "device", "memory", "motion", "speed", "path",
                 "motion_plan", "motion_method", "motion_strength", "plan", "cross_frame")
# keys older sidecars lack (they sampled without a motion plan, and replay so)
SIDECAR_DEFAULTS = {"renoise": True, "dtype": "fp32", "device": "cpu", "speed": 1.0, "motion_plan": False,
                    "cross_frame": False}


def memory_options(args) -> dict:
    """The memory flags as MemoryOptions' fields."""
    return {"attention": args.attention, "vae_slicing": args.vae_slicing, "vae_tiling": args.vae_tiling,
            "cpu_offload": args.cpu_offload, "frame_chunk": args.frame_chunk}


def generate(args) -> int:
    _threads()
    from engine.generate import generate_video
    from engine.sidecar import read_sidecar

    replays_cascade = args.from_json and (read_sidecar(args.from_json) or {}).get("kind") == "cascade"
    if getattr(args, "cascade", False) or replays_cascade:
        from .expert_commands import generate_cascade

        return generate_cascade(args)

    params = {k: getattr(args, k, None) for k in GENERATE_KEYS if k != "memory"}
    params["memory"] = memory_options(args)
    if args.from_json:
        if not Path(args.from_json).is_file():
            raise FileNotFoundError(f"no sidecar at {args.from_json}; give --from the .json written beside a "
                                    "generated clip")
        record = read_sidecar(args.from_json)
        if not isinstance(record, dict) or record.get("kind") != "generate":
            raise ValueError(f"{args.from_json} is not a generate sidecar")
        params = {k: record.get(k, SIDECAR_DEFAULTS.get(k)) for k in GENERATE_KEYS}
    if not params["prompt"]:
        raise ValueError("give --prompt (or --from a sidecar)")
    path, _ = generate_video(out=args.out, **params)
    print(path)
    return 0


def evaluate(args) -> int:
    _threads()
    from engine.evaluate import evaluate_folder
    from engine.validate import check_output

    if args.out:
        check_output(args.out, suffixes=())
    table = evaluate_folder(args.videos, args.prompts, args.judge)
    print(table)
    if args.out:
        from engine.training.checkpoint import atomic_path

        with atomic_path(args.out) as tmp:
            tmp.write_text(table + "\n")
    return 0


def train_judge(args) -> int:
    _threads()
    from engine.metrics.judge import load_judge
    from engine.training.judge import train_judge as train

    train(args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed, work_dir=args.work_dir)
    _write_report(load_judge(args.out), Path(args.out), args.report_clips)
    return 0


def train_base(args) -> int:
    _threads()
    from engine.training.base import train_base as train

    from engine.training.base import base_report, evaluate_base
    from engine.training.checkpoint import atomic_path

    train(args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed, work_dir=args.work_dir,
          snr_gamma=args.snr_gamma, prediction=args.prediction, init=args.init, lr=args.lr)
    text = base_report(evaluate_base(args.out), 200, 25, 4.0)
    with atomic_path(Path(args.out) / "report.md") as tmp:
        tmp.write_text(text)
    print(text)
    print(f"base model written to {args.out}")
    return 0


def train_mode(args) -> int:
    _threads()
    from engine.training.video import train_mode as train
    from engine.tuning import MODES

    if args.mode not in MODES or args.mode == "zero-shot":
        raise ValueError(f"choose a mode to train from: {', '.join(m for m in MODES if m != 'zero-shot')}")
    ablate = [a for a in args.ablate.split(",") if a]
    if args.model and not args.out:
        raise ValueError("with --model, give --out: a folder for modes tuned on that model (assets/modes holds the "
                         "embedded base's)")
    out = args.out or f"assets/modes/{args.mode}"
    work_dir = args.work_dir or (f"runs/modes/{Path(out).resolve().parent.name}-{Path(out).name}" if args.model else None)
    train(args.mode, out, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
          work_dir=work_dir, ablate=ablate, snr_gamma=args.snr_gamma, base=args.model,
          motion_weight=args.motion_weight, noise_share=args.noise_share, tune_text=args.tune_text,
          warped_noise=args.warped_noise, init=args.init)
    from engine.distributed import process_state

    if process_state().is_main_process:
        print(f"{args.mode} written to {out}")
    return 0


def train_pyramid(args) -> int:
    _threads()
    from engine.training.pyramid import train_pyramid as train
    from engine.tuning import MODES

    if args.mode not in MODES or args.mode == "zero-shot":
        raise ValueError(f"choose a mode to train from: {', '.join(m for m in MODES if m != 'zero-shot')}")
    train(args.form, args.out, count=args.stages, align=args.align, mode=args.mode, steps=args.steps,
          batch_size=args.batch_size, lr=args.lr, seed=args.seed, base=args.model, work_dir=args.work_dir)
    from engine.distributed import process_state

    if process_state().is_main_process:
        print(f"{args.form} {'pyramid' if args.stages > 1 else 'vanilla'} model written to {args.out}")
    return 0


def edit(args) -> int:
    _threads()
    from engine.edit import edit_video
    from engine.edit_settings import GUIDANCE, STEPS, STRENGTH, TUNE_STEPS
    from engine.training.clips import LR

    if args.strength is not None and not 0 < args.strength <= 1:
        raise ValueError(f"--strength must be in (0, 1], got {args.strength}")
    path, _ = edit_video(args.input, args.source_prompt, args.prompt, args.out, mode=args.mode,
                         tune_steps=TUNE_STEPS if args.tune_steps is None else args.tune_steps, tuned=args.tuned,
                         strength=args.strength or STRENGTH, steps=args.steps or STEPS,
                         guidance=GUIDANCE if args.guidance is None else args.guidance,
                         negative_prompt=args.negative_prompt, frames=args.frames, seed=args.seed, fps=args.fps,
                         model=args.model, cache_dir=args.cache_dir, lr=args.lr or LR, device=args.device,
                         dtype=args.dtype, motion=args.motion, speed=args.speed, path=args.path,
                         motion_plan=args.motion_plan, motion_strength=args.motion_strength)
    print(path)
    return 0


def tune(args) -> int:
    _threads()
    from engine.finetune import finetune
    from engine.training.clips import LR

    finetune(args.data, args.mode, args.steps, args.out, caption=args.caption, checkpoint_every=args.checkpoint_every,
             resume=args.resume, batch_size=args.batch_size, lr=args.lr or LR, seed=args.seed, model=args.model,
             frames=args.frames, work_dir=args.work_dir)
    print(f"{args.mode} tuned on your clips, written to {args.out} (use it with --tuned {args.out})")
    return 0


def judge_report(args) -> int:
    _threads()
    from engine.metrics.judge import ASSET, load_judge

    path = Path(args.judge or ASSET)
    _write_report(load_judge(path), path, args.clips)
    return 0


def _write_report(judge, folder: Path, clips: int):
    from engine.training.checkpoint import atomic_path
    from engine.training.judge import report

    table = report(judge, clips)
    text = (f"# Judge accuracy per attribute\n\n{clips} clips a row, rendered from each split's own stream.\n"
            "Training saw only train-split clips, mildly degraded (blur σ≤0.8, down-up ≤2×, noise σ≤0.05);\n"
            "the σ=1.5, σ=0.15 and ×4 rows are beyond what it trained on.\n\n" + table + "\n")
    with atomic_path(folder / "report.md") as tmp:
        tmp.write_text(text)
    print(text)


def words(args) -> int:
    from engine.world import known_words

    for attr, ws in known_words().items():
        print(f"{attr}: {', '.join(ws)}")
    return 0


def studio(args) -> int:
    from .app import launch

    model = {"model": args.model, "modes": args.modes, "dtype": args.dtype, "device": args.device,
             "memory": memory_options(args)}
    launch(host=args.host, port=args.port, share=args.share, auth=args.auth, model=model, queue_size=args.queue_size,
           max_sessions=args.max_sessions, max_upload_mb=args.max_upload_mb)
    return 0
