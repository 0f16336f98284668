"""`flipbook render` and `words`: the procedurally rendered world (engine.world) on the command line.

Engine imports are inside the handlers (here and in every command module): they load diffusers and the models,
which `--help` and a refused argument do not need."""
from __future__ import annotations

import time

from engine.io import write_video
from engine.sidecar import write_sidecar
from engine.validate import check_output, check_prompt
from engine.world import known_words, prompt_to_spec, render as render_clip

from .options import HelpFormatter, add_out, add_seed, finite_float, positive_float, positive_int


def add_commands(sub):
    r = sub.add_parser("render", help="render a world prompt's ground-truth clip", formatter_class=HelpFormatter)
    r.add_argument("--prompt", required=True, help="a world prompt, e.g. 'a red circle moving left on black' "
                                                   "(`flipbook words` lists the words)")
    r.add_argument("--size", type=positive_int, default=64, help="frame side in pixels")
    r.add_argument("--fps", type=positive_float, default=8.0, help="frames per second")
    r.add_argument("--frames", type=positive_int, default=16, help="number of frames")
    add_seed(r, "chooses the start position, speed phase and other free choices the prompt leaves open")
    r.add_argument("--t0", type=finite_float, default=0.0, help="start time in seconds")
    add_out(r)
    r.set_defaults(run=render)

    w = sub.add_parser("words", help="list the words the world's prompts may use", formatter_class=HelpFormatter)
    w.set_defaults(run=words)


def render(args) -> int:
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


def words(args) -> int:
    for attr, ws in known_words().items():
        print(f"{attr}: {', '.join(ws)}")
    return 0
