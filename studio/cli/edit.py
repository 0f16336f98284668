"""`flipbook edit`: one-shot video editing by prompt (engine.edit).
(Engine imports are inside the handlers: diffusers and the models load only when a command runs, not for --help.)"""
from __future__ import annotations

from engine import edit_settings
from engine.edit_settings import GUIDANCE, STEPS, STRENGTH, TUNE_STEPS

from .options import (EDIT_MOTION, HelpFormatter, add_device, add_model, add_motion, add_out, add_seed, finite_float,
                      non_negative_int, positive_float, positive_int, use_threads)
from .progress import StageProgress



def add_commands(sub):
    ed = sub.add_parser("edit", help="edit a clip by prompt: one-shot tune on it, DDIM-invert it, sample the edit",
                        description=edit.__doc__, formatter_class=HelpFormatter)
    ed.add_argument("--input", required=True, help="the clip to edit (.mp4, .gif, .webm)")
    ed.add_argument("--source-prompt", required=True, help="what the clip shows, in the world's words")
    ed.add_argument("--prompt", required=True, help="what it should show: the source prompt with the change made")
    ed.add_argument("--negative-prompt", default=None, help="what the edit should not show")
    ed.add_argument("--mode", default=edit_settings.MODE,
                    help="the mode one-shot tuning tunes (default %s; zero-shot: no tuning)" % edit_settings.MODE)
    ed.add_argument("--tune-steps", type=non_negative_int, default=None,
                    help="one-shot tuning steps (default %d; 0: no tuning)" % edit_settings.TUNE_STEPS)
    ed.add_argument("--tuned", default=None, help="a tuned folder (from `flipbook tune`) instead of one-shot tuning")
    ed.add_argument("--strength", type=positive_float, default=None,
                    help="how far into the noise the clip is inverted, in (0, 1] (default %.2f; less keeps more of "
                         "the clip, more lets the prompt change more)" % edit_settings.STRENGTH)
    ed.add_argument("--steps", type=positive_int, default=None,
                    help="DDIM steps for the whole schedule (default %d)" % edit_settings.STEPS)
    ed.add_argument("--guidance", type=finite_float, default=None,
                    help="classifier-free guidance of the edited prompt (default %.1f)" % edit_settings.GUIDANCE)
    ed.add_argument("--frames", type=positive_int, default=8, help="frames taken evenly from the clip")
    ed.add_argument("--fps", type=positive_float, default=None,
                    help="frame rate of the written file (default: the input's)")
    add_seed(ed)
    ed.add_argument("--lr", type=positive_float, default=None,
                    help="one-shot tuning learning rate (default: the mode's)")
    ed.add_argument("--cache-dir", default=None, help="where tuned weights and inverted latents are cached "
                                                     "(default $FLIPBOOK_CACHE or ~/.cache/flipbook)")
    add_motion(ed, **EDIT_MOTION)
    add_model(ed, generation=False)
    add_device(ed)
    add_out(ed)
    ed.set_defaults(run=edit)


def edit(args) -> int:
    """One-shot video editing (Tune-A-Video, SimDA): tune a mode on the clip with its source prompt, DDIM-invert it,
    and sample the edited prompt from the inverted latents. The edit is at the model's resolution (32×32 for the
    embedded base): the clip is centre-cropped to a square and resized. Tuned weights and inverted latents are
    cached (--cache-dir), so more edits of one clip are quick."""
    use_threads()
    # heavy: diffusers and the engine's models load only when the command runs, not for --help
    from engine.edit import edit_video
    from engine.training.clips import LR

    if args.strength is not None and not 0 < args.strength <= 1:
        raise ValueError(f"--strength must be in (0, 1], got {args.strength}")
    tune_steps = TUNE_STEPS if args.tune_steps is None else args.tune_steps
    progress = StageProgress({"one-shot tuning": tune_steps, "inversion and sampling": None})
    path, _ = edit_video(args.input, args.source_prompt, args.prompt, args.out, mode=args.mode,
                         tune_steps=tune_steps, tuned=args.tuned,
                         strength=args.strength or STRENGTH, steps=args.steps or STEPS,
                         guidance=GUIDANCE if args.guidance is None else args.guidance,
                         negative_prompt=args.negative_prompt, frames=args.frames, seed=args.seed, fps=args.fps,
                         model=args.model, cache_dir=args.cache_dir, lr=args.lr or LR, device=args.device,
                         dtype=args.dtype, motion=args.motion, speed=args.speed, path=args.path,
                         motion_plan=args.motion_plan, motion_strength=args.motion_strength,
                         on_tune_step=progress.of("one-shot tuning"), callback=progress.of("inversion and sampling"))
    progress.close()
    print(path)
    return 0
