"""Faults: `flipbook tune` killed with SIGKILL at random moments, ten times, resumes every time and ends with the
weights of an uninterrupted run; videos, sidecars and checkpoints are whole or absent whenever a writer dies.

Each run is `studio.cli.main([...])` in a child process forked from a multiprocessing fork server that has
imported the engine once, so a start costs milliseconds instead of the seconds a fresh interpreter spends on
imports (tests/test_tune_cli.py kills a real `python -m studio.cli tune` once).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import signal
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from test_tune_cli import _tune_cmd, clips  # noqa: F401 - the clips fixture

STEPS, EVERY = 20, 2
PRELOAD = ["studio.cli", "studio.cli.tune", "engine.tune", "engine.training.loop", "engine.io", "engine.sidecar",
           "accelerate", "matplotlib.pyplot", "test_kill_resume"]


def run_cli(argv: list[str], log: str):
    """A child's whole life: the `flipbook` command line (its output to `log`), its return code as the exit status."""
    torch.set_num_threads(1)
    from studio.cli import main

    with open(log, "a") as out:
        sys.stdout, sys.stderr = out, out
        sys.exit(main(argv))


def _run(forks, argv, log: Path, kill: tuple[str, float, int] | None = None) -> tuple[int, float | None]:
    """Run one child. `kill`: None (to the end), or (phase, seconds, steps): SIGKILL `seconds` after the start
    ('setup'), or after the training loop has taken `steps` more steps ('train'). Returns the exit code and when the
    loop began (seconds after the start; None: not seen)."""
    log.touch()
    offset = log.stat().st_size
    start = time.perf_counter()
    p = forks.Process(target=run_cli, args=(argv, str(log)))
    p.start()
    loop, first = None, None
    if kill is None or kill[0] == "train":
        while p.is_alive() and time.perf_counter() - start < 300:
            with open(log, "rb") as f:
                f.seek(offset)
                bars = [int(n) for n in re.findall(rb"mode simda:[^\r\n]*? (\d+)/%d \[" % STEPS, f.read())]
            if bars and first is None:
                loop, first = time.perf_counter() - start, bars[0]
            if first is not None and (kill is None or max(bars) >= min(first + kill[2], STEPS)):
                break
            time.sleep(0.01)
    if kill is not None:
        time.sleep(kill[1])
        p.kill()  # SIGKILL
    p.join(300)
    if kill is None:
        assert p.exitcode == 0, log.read_text()[-1500:]
    return p.exitcode, loop


def write_forever(kind: str, path: str):
    """Rewrite one output again and again (until killed), each time with different content."""
    from engine.io import write_video
    from engine.sidecar import write_sidecar
    from engine.training.checkpoint import save_checkpoint

    model = torch.nn.Linear(64, 64)
    for i in range(10_000):
        if kind == "video":
            write_video(path, torch.rand(24, 3, 64, 64), 8.0)
        elif kind == "sidecar":
            write_sidecar(path, {"kind": "render", "i": i, "pad": "x" * 200_000})
        else:
            with torch.no_grad():
                model.weight.fill_(i)
            save_checkpoint(path, {"model": model}, torch.optim.AdamW(model.parameters()), {"step": i})


@pytest.fixture(scope="module")
def forks():
    """A fork server that has imported the engine (with one thread, as the tests run)."""
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # the fork server (and so every child) reads it when it starts
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    warm = ctx.Process(target=os.getpid)  # starts the server and its imports now, not inside a timed run
    warm.start()
    warm.join(300)
    if before is None:
        os.environ.pop("OMP_NUM_THREADS")
    else:
        os.environ["OMP_NUM_THREADS"] = before
    return ctx


def _saved_step(work: Path) -> int:
    """The step of the whole checkpoint a resume would load (0: none)."""
    for d in (work / "checkpoint", work / "checkpoint.old"):
        if (d / "state.json").exists():
            return json.loads((d / "state.json").read_text())["step"]
    return 0


@pytest.mark.slow
def test_tune_killed_ten_times_at_random_resumes_to_the_uninterrupted_weights(forks, base_dir, clips, tmp_path):
    def args(out, *extra):
        return _tune_cmd(base_dir, clips, out, "--steps", str(STEPS), "--checkpoint-every", str(EVERY), *extra)[3:]

    whole, log = tmp_path / "whole", tmp_path / "log.txt"
    start = time.perf_counter()
    _, setup = _run(forks, args(whole), log)
    full = time.perf_counter() - start  # one uninterrupted run, start to finish
    step = (full - setup) / STEPS

    rng = random.Random(int(os.environ.get("FLIPBOOK_KILL_SEED", 0)) or None)
    killed, saved, moments = tmp_path / "killed", [], []
    work = killed.with_name("killed-work")
    for i in range(10):
        # a fifth of the kills while the run loads, the rest 0-3 steps into training (saves included)
        kill = ("setup", rng.uniform(0, setup), 0) if rng.random() < 0.2 else \
            ("train", rng.uniform(0, step), rng.randrange(2 * EVERY))  # 0-3 more steps, then within a step
        code, _ = _run(forks, args(killed, *(["--resume"] if i else [])), log, kill)
        moments.append(f"{kill[0]}+{kill[2]} steps+{kill[1]:.2f}s" if kill[0] == "train" else f"setup+{kill[1]:.2f}s")
        assert code in (-signal.SIGKILL, 0), log.read_text()[-1500:]
        saved.append(_saved_step(work))
        assert saved[-1] % EVERY == 0 and saved == sorted(saved), saved  # a whole checkpoint, never an older one
        assert saved[-1] == STEPS or not (killed / "tuned.safetensors").exists()
    _run(forks, args(killed, "--resume"), log)
    print(f"killed at {', '.join(moments)} (uninterrupted: {setup:.1f} s loading, {step:.2f} s a step); "
          f"whole checkpoints after each kill: steps {saved}")
    assert saved[-1] > 0, "no kill came after a checkpoint: the runs never progressed"

    a, b = load_file(str(killed / "tuned.safetensors")), load_file(str(whole / "tuned.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k].float(), b[k].float(), atol=2e-3, rtol=1e-2)  # fp16 storage
    losses = [json.loads(p.with_suffix(".json").read_text())["losses"] for p in (killed, whole)]
    assert len(losses[0]) == STEPS and losses[0] == pytest.approx(losses[1], rel=1e-3, abs=1e-4)


@pytest.mark.parametrize("kind", ["video", "sidecar", "checkpoint"])
def test_an_output_is_whole_or_absent_whenever_its_writer_dies(forks, kind, tmp_path):
    from engine.io import read_video
    from engine.training.checkpoint import load_checkpoint

    target = tmp_path / {"video": "out.mp4", "sidecar": "out.mp4", "checkpoint": "checkpoint"}[kind]
    rng = random.Random(1)
    for _ in range(6):
        p = forks.Process(target=write_forever, args=(kind, str(target)))
        p.start()
        time.sleep(rng.uniform(0.1, 1.5))
        p.kill()
        p.join(60)
        if kind == "video" and target.exists():
            assert read_video(target)[0].shape == (24, 3, 64, 64)  # a whole clip, never a torn one
        elif kind == "sidecar" and target.with_suffix(".json").exists():
            assert json.loads(target.with_suffix(".json").read_text())["kind"] == "render"
        elif kind == "checkpoint":
            model = torch.nn.Linear(64, 64)
            state = load_checkpoint(target, {"model": model}, torch.optim.AdamW(model.parameters()))
            if state is not None:
                assert torch.all(model.weight == state["step"])  # weights and state of one step
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert all(n.startswith((".out.", ".checkpoint")) for n in leftovers), leftovers  # temporaries, never the name
