"""`flipbook tune`: a quick fine-tune of a mode on the user's own clips (engine.tune).
(Engine imports are inside the handlers: diffusers and the models load only when a command runs, not for --help.)"""
from __future__ import annotations

from engine.registry import KEYFRAME_MODES

from .options import HelpFormatter, add_model, add_seed, positive_float, positive_int, use_threads



def add_commands(sub):
    tu = sub.add_parser("tune", help="fine-tune a mode on your own clips (a folder, or one clip)",
                        description=tune.__doc__, formatter_class=HelpFormatter)
    tu.add_argument("--data", required=True, help="a folder of clips (.mp4, .gif, .webm) or one clip")
    tu.add_argument("--caption", default=None, help="one caption for every clip")
    tu.add_argument("--mode", default="simda", metavar="MODE",
                    help="the mode to tune: " + ", ".join(m for m in KEYFRAME_MODES if m != "zero-shot"))
    tu.add_argument("--steps", type=positive_int, default=300, help="optimiser steps")
    tu.add_argument("--checkpoint-every", type=positive_int, default=100, help="steps between checkpoints")
    tu.add_argument("--resume", action="store_true", help="continue the run in OUT-work from its last checkpoint")
    tu.add_argument("--batch-size", type=positive_int, default=4, help="clips a step")
    tu.add_argument("--lr", type=positive_float, default=None, help="learning rate (default: train-mode's)")
    tu.add_argument("--frames", type=positive_int, default=8, help="frames taken evenly from each clip")
    add_seed(tu)
    tu.add_argument("--work-dir", default=None, help="checkpoints (default OUT-work)")
    add_model(tu, generation=False)
    tu.add_argument("--out", required=True, help="the tuned folder to write")
    tu.set_defaults(run=tune)


def tune(args) -> int:
    """A quick fine-tune on your clips, at the model's resolution. Captions: --caption for every clip, else
    captions.json ({file: caption}) in the folder, else NAME.json beside each clip with a "prompt". Checkpoints
    go to OUT-work every --checkpoint-every steps; a stopped or killed run continues with --resume. Use the
    result with `generate --tuned OUT`, `edit --tuned OUT`, or `studio --modes PARENT_OF_OUT`."""
    use_threads()
    # heavy: diffusers and the engine's models load only when the command runs, not for --help
    from engine.training.clips import LR
    from engine.tune import tune_clips

    tune_clips(args.data, args.mode, args.steps, args.out, caption=args.caption,
               checkpoint_every=args.checkpoint_every, resume=args.resume, batch_size=args.batch_size,
               lr=args.lr or LR, seed=args.seed, model=args.model, frames=args.frames, work_dir=args.work_dir)
    print(f"{args.mode} tuned on your clips, written to {args.out} (use it with --tuned {args.out})")
    return 0
