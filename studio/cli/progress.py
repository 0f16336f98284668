"""Progress of a long command on stderr, stage by stage: on a terminal one line a stage that counts its denoising
steps and estimates the time left; elsewhere (a log, a pipe) a line when each stage starts and when it ends."""
from __future__ import annotations

import sys
import time


class StageProgress:
    """`steps`: each stage's denoising steps, in order (engine.cascade.steps_by_stage; None: not known ahead). `stage(name)` when a stage
    starts, `step(...)` as a diffusers `callback_on_step_end` after each step, `close()` at the end."""

    def __init__(self, steps: dict[str, int], stream=None):
        self.steps, self.stream = steps, stream or sys.stderr
        self.live = self.stream.isatty()
        self.name, self.done, self.start, self.begun = None, 0, 0.0, time.perf_counter()

    def _label(self) -> str:
        names = list(self.steps)
        return f"[{names.index(self.name) + 1}/{len(names)}] {self.name}" if len(names) > 1 else self.name

    def stage(self, name: str):
        self.close()
        self.name, self.done, self.start = name, 0, time.perf_counter()
        if not self.live:
            total = self.steps.get(name)
            print(f"{self._label()}: " + (f"{total} steps …" if total else "running …"), file=self.stream, flush=True)

    def step(self, *args):
        """A step done (diffusers' `callback_on_step_end(pipe, i, t, kwargs)`, whose kwargs it hands back, or a
        trainer's `on_step(step, loss)`)."""
        if self.name is None:
            self.stage(next(iter(self.steps)))
        self.done += 1
        if self.live:
            total, spent = self.steps.get(self.name), time.perf_counter() - self.start
            window = getattr(args[0], "window", None) if args else None  # a long clip made window by window
            said = f"step {self.done}, {spent:.0f} s" if total is None else (
                f"step {self.done} of {total}, {spent:.0f} s, about {spent / self.done * max(total - self.done, 0):.0f} "
                "s left")
            if isinstance(window, tuple) and window[1] > 1:
                said = f"window {window[0] + 1} of {window[1]}, {said}"
            print(f"\r{self._label()}: {said}  ", end="", file=self.stream, flush=True)
        return args[3] if len(args) > 3 else None

    def of(self, name: str):
        """A step callback for stage `name`, which starts at its first step (for a task that runs its stages
        inside one call)."""
        def step(*args):
            if self.name != name:
                self.stage(name)
            return self.step(*args)
        return step

    def close(self):
        """End the running stage's line with its time (nothing when no stage runs)."""
        if self.name is None:
            return
        spent = time.perf_counter() - self.start
        line = f"{self._label()}: done in {spent:.1f} s"
        print(f"\r{line:<70}" if self.live else line, file=self.stream, flush=True)
        self.name = None
