"""`flipbook eval`, `train-judge` and `judge-report`: scoring clips with the judge (engine.evaluate,
engine.metrics.judge, engine.training.judge).
(Engine imports are inside the handlers: diffusers and the models load only when a command runs, not for --help.)"""
from __future__ import annotations

from pathlib import Path

from engine.files import atomic_path
from engine.validate import check_output

from .options import HelpFormatter, add_training, positive_int, use_threads


def add_commands(sub):
    e = sub.add_parser("eval", help="score a folder of clips against their prompts", formatter_class=HelpFormatter)
    e.add_argument("--videos", required=True, help="folder of .mp4/.gif/.webm clips")
    e.add_argument("--prompts", required=True,
                   help="JSON {file: prompt}, or lines 'file<TAB>prompt', or one prompt a line in file-name order")
    e.add_argument("--judge", default=None, help="judge folder (default: the embedded one)")
    e.add_argument("--out", default=None, help="also write the table to this Markdown file")
    e.set_defaults(run=evaluate)


def add_trainers(sub):
    j = add_training(sub.add_parser("train-judge", help="train the judge on ground-truth clips (rebuilds assets/judge)",
                                    formatter_class=HelpFormatter), steps=2500, batch_size=48, name="judge")
    j.add_argument("--report-clips", type=positive_int, default=1000, help="clips per row of the accuracy report")
    j.set_defaults(run=train_judge)

    jr = sub.add_parser("judge-report", help="measure the judge's per-attribute accuracy (writes report.md)",
                        formatter_class=HelpFormatter)
    jr.add_argument("--judge", default=None, help="judge folder (default: the embedded one)")
    jr.add_argument("--clips", type=positive_int, default=1000, help="clips per row of the report")
    jr.set_defaults(run=judge_report)


def evaluate(args) -> int:
    use_threads()
    # heavy: the judge (diffusers, scipy) loads only when the command runs, not for --help
    from engine.evaluate import evaluate_folder

    if args.out:
        check_output(args.out, suffixes=())
    table = evaluate_folder(args.videos, args.prompts, args.judge)
    print(table)
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(table + "\n")
    return 0


def train_judge(args) -> int:
    use_threads()
    # heavy: the judge (diffusers, scipy) loads only when the command runs, not for --help
    from engine.metrics.judge import load_judge
    from engine.training.judge import train_judge as train

    train(args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed, work_dir=args.work_dir)
    _write_report(load_judge(args.out), Path(args.out), args.report_clips)
    return 0


def judge_report(args) -> int:
    use_threads()
    # heavy: the judge (diffusers, scipy) loads only when the command runs, not for --help
    from engine.metrics.judge import ASSET, load_judge

    path = Path(args.judge or ASSET)
    _write_report(load_judge(path), path, args.clips)
    return 0


def _write_report(judge, folder: Path, clips: int):
    # heavy: the judge (diffusers, scipy) loads only when the command runs, not for --help
    from engine.training.judge import report

    table = report(judge, clips)
    text = (f"# Judge accuracy per attribute\n\n{clips} clips a row, rendered from each split's own stream.\n"
            "Training saw only train-split clips, mildly degraded (blur σ≤0.8, down-up ≤2×, noise σ≤0.05);\n"
            "the σ=1.5, σ=0.15 and ×4 rows are beyond what it trained on.\n\n" + table + "\n")
    with atomic_path(folder / "report.md") as tmp:
        tmp.write_text(text)
    print(text)
