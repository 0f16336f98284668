"""Running engine work from the UI: user errors as gr.Error, long work in a thread that reports as it goes,
and one generation (with its checks, files and sidecar) that the Generate and Compare tabs share."""
from __future__ import annotations

import contextlib
import queue
import random
import threading
import time
from pathlib import Path
from typing import Callable

import gradio as gr
import torch

from engine.generate import check_pyramid_run, generate_video, generation_steps
from engine.io import VideoReadError, write_video
from engine.registry import LONG_METHODS
from engine.sidecar import read_sidecar, write_sidecar
from engine.validate import check_prompt as check
from engine.world import SpecError, UnknownWordsError

from .context import Stopped, Studio, Variant
from .fields import ERROR_SECONDS
from .media import TILE_SIZE, Previews, enlarge, side_by_side

# Generate makes long clips in context windows (its "long frames"); Compare runs several models, so fewer frames
LIMITS = {"frames": (2, 16), "long frames": (2, 128), "steps": (1, 100), "guidance": (0.0, 20.0), "fps": (1, 32)}
OWN_FPS = 0  # the frame-rate control's "the model's own" (a pyramid-trained model's is 4 fps, the others' 2)


@contextlib.contextmanager
def user_errors():
    """What a user can fix comes back as a gr.Error: one message in the page that leaves after ERROR_SECONDS (the
    outputs keep the last good result: each tab shows progress, and so an error, on its step preview only), never a
    traceback or a broken video."""
    try:
        yield
    except Stopped as e:
        raise gr.Error(str(e).capitalize() + ".", title="Stopped", duration=ERROR_SECONDS,
                       print_exception=False) from None
    except (SpecError, UnknownWordsError, VideoReadError, ValueError, TypeError, FileNotFoundError) as e:
        raise gr.Error(str(e), duration=ERROR_SECONDS, print_exception=False) from None


def number(value, name: str, kind=int, low=None, high=None):
    """A form value as `kind`, checked against [low, high], or a ValueError that names the field."""
    try:
        if value is None or value == "":
            raise ValueError
        x = kind(float(value)) if kind is int else kind(value)
        if kind is int and float(value) != x:
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a {'whole ' if kind is int else ''}number, got {value!r}") from None
    if x != x or (low is not None and x < low) or (high is not None and x > high):
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return x


def check_prompt(prompt) -> str:
    return check(prompt)


def check_seed(seed) -> int:
    """A seed ≥ 0; −1 (or empty) draws a random one."""
    if seed is None or seed == "" or number(seed, "seed", int, -1, 2**63 - 1) == -1:
        return random.randrange(2**31)
    return number(seed, "seed", int, 0, 2**63 - 1)


def check_settings(frames, steps, guidance, frames_limit: str = "frames") -> tuple[int, int, float]:
    return (number(frames, "frames", int, *LIMITS[frames_limit]), number(steps, "steps", int, *LIMITS["steps"]),
            number(guidance, "guidance", float, *LIMITS["guidance"]))


def check_pyramid(variant: Variant, frames: int, steps: int):
    if variant.pyramid:
        check_pyramid_run(variant.stages, frames, steps)


def check_scheduler(variant: Variant, scheduler: str) -> str | None:
    """The scheduler `variant` samples with: a flow-matching model only with the flow scheduler; a pyramid run
    with the pyramid's own steps (None: engine.generate.pyramid_run picks them)."""
    if variant.pyramid:
        return None
    if variant.form == "flow":
        return "flow"
    if scheduler == "flow":
        raise ValueError(f"{variant.label} was trained for DDIM-style noise; sample it with dpm++ or ddim")
    return scheduler


def in_background(work: Callable, *args):
    """Run work(emit, *args) in a thread; yield each emit(...) tuple, then ("done", result). Errors re-raise here."""
    q: queue.Queue = queue.Queue()

    def target():
        try:
            q.put(("done", work(lambda *item: q.put(item), *args)))
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            q.put(("error", e))

    threading.Thread(target=target, daemon=True).start()
    pending = None
    while True:
        item, pending = pending or q.get(), None
        while item[0] == "step":  # skip previews the page had no time to show
            try:
                nxt = q.get_nowait()
            except queue.Empty:
                break
            if nxt[0] != "step":
                pending = nxt
                break
            item = nxt
        if item[0] == "error":
            raise item[1]
        yield item
        if item[0] == "done":
            return


def generate_one(studio: Studio, variant: Variant, prompt: str, negative: str | None, seed: int, frames: int,
                 steps: int, guidance: float, scheduler: str, emit=None, stop: threading.Event | None = None,
                 kind: str = "generate", motion: dict | None = None,
                 long: dict | None = None) -> tuple[Path, torch.Tensor, dict]:
    """One clip with `variant`: (its mp4, frames (F, 3, H, W), its sidecar record). `emit("step", i, total, preview)`
    after each denoising step (every window's, for windows made one after another); `stop` set → Stopped.
    `motion`: generate_video's motion arguments (motion_settings); `long`: its long-clip and first-frame ones and
    the frame rate (long_settings)."""
    check_pyramid(variant, frames, steps)
    scheduler = check_scheduler(variant, scheduler)
    long = dict(long or {})
    fps = long.pop("fps", None) or variant.fps
    total = keyframe_total(studio, variant, prompt, seed, frames, steps, motion, {**long, "fps": fps})
    preview = Previews(studio.outputs.new(f"{kind}-preview", ".png"))  # one file a run, rewritten whole
    done = [0]

    def callback(pipe, i, t, kw):  # every denoising step counts: frame 0's own pass, every window's
        done[0] += 1
        step = done[0]
        if stop is not None and stop.is_set():
            raise Stopped(step, total)
        if emit is not None:
            emit("step", step, total, preview(kw["latents"], final=step == total))

    m = studio.model
    native = studio.outputs.new(kind, model=variant.short + ("-pyramid" if variant.pyramid else ""))
    with studio.lock:
        _, video = generate_video(native, prompt, negative or None, seed, frames, steps, guidance, variant.mode,
                                  scheduler, fps=fps, callback=callback, pipe_cache=studio.cache,
                                  model=m.get("model"), tuned=variant.tuned,
                                  pyramid=variant.stages if variant.pyramid else None, dtype=m.get("dtype"),
                                  device=m.get("device"), memory=m.get("memory"), **(motion or {}), **long)
    return native, video, read_sidecar(native)


def keyframe_total(studio: Studio, variant: Variant, prompt: str, seed: int, frames: int, steps: int,
                   motion: dict | None = None, long: dict | None = None) -> int:
    """The denoising steps a generation with `variant` runs, through the pyramid when it asks for it (its progress
    total; engine.generate.generation_steps): `motion` and `long` as motion_settings and long_settings give them."""
    long = dict(long or {})
    fps = long.pop("fps", None) or variant.fps
    return generation_steps(prompt, frames, steps, fps, seed, **(motion or {}), **long, mode=variant.mode,
                            tuned=variant.tuned, model=studio.model.get("model"),
                            pyramid=variant.stages if variant.pyramid else None)


def warm(studio: Studio):
    """Load the default mode's pipeline (and every engine import) before the first Generate: a one-step,
    two-frame generation whose files are removed. Launch runs it in a background thread."""
    try:
        path, _, _ = generate_one(studio, studio.resolve(studio.default_key()), "a circle", None, 0, 2, 1, 0.0, "dpm++",
                                  kind="warm-up")
        for p in (path, path.with_suffix(".json")):
            p.unlink(missing_ok=True)
    except Exception as e:  # noqa: BLE001 - the first real request will say what is wrong
        print(f"studio: warm-up failed ({type(e).__name__}: {e})")


MOTION_FROM_PROMPT, MOTION_OFF = "as the prompt says", "none (the words alone)"


def motion_settings(motion=MOTION_FROM_PROMPT, speed=1.0, path="", method="frame", cross_frame=False) -> dict:
    """The Motion controls as generate_video's (and run_cascade's) arguments."""
    motion = motion or MOTION_FROM_PROMPT
    speed = number(speed, "speed", float, 0.25, 4)
    explicit = motion not in (MOTION_FROM_PROMPT, MOTION_OFF)
    return {"motion": motion if explicit else None, "speed": speed, "path": (path or "").strip() or None,
            "motion_plan": motion != MOTION_OFF, "motion_method": method or "frame", "cross_frame": bool(cross_frame)}


def long_settings(image=None, method="windows", overlap=4, fps=OWN_FPS) -> dict:
    """The Long clips controls as generate_video's arguments (and the frame rate: OWN_FPS or None keeps the model's
    own): the first frame is the upload's private temporary file."""
    if (method or "windows") not in LONG_METHODS:
        raise ValueError(f"unknown long-clip method {method!r}; choose one of: {', '.join(LONG_METHODS)}")
    return {"image": image or None, "long_method": method or "windows",
            "context_overlap": number(overlap, "window overlap", int, 0, 7),
            "fps": None if fps in (None, "", OWN_FPS) else number(fps, "frame rate", float, *LIMITS["fps"])}


def motion_inputs(record: dict) -> list:
    """A generate (or cascade settings) record's Motion controls, as motion_settings takes them: a sidecar from
    before motion plans sampled without one."""
    path = record.get("path") or ""
    path = path if isinstance(path, str) else " ".join(f"{x:g},{y:g}" for x, y in path)
    motion = record.get("motion") or (MOTION_FROM_PROMPT if record.get("motion_plan") else MOTION_OFF)
    return [motion, record.get("speed") or 1.0, path, record.get("motion_method") or "frame",
            bool(record.get("cross_frame"))]


def display_copy(native: Path, video: torch.Tensor, fps: float) -> Path:
    """An enlarged copy for the page's player (the native file is what downloads)."""
    return write_video(native.with_name(native.stem + "-display.mp4"), enlarge(video), fps)


def history_entry(kind: str, record: dict, files: list[str], shown: str) -> dict:
    what = ", ".join(record.get("labels", [])) or record.get("mode") or ""
    seed = record.get("seed", "")
    if kind == "tune":
        what = f"{record['mode']} on {record.get('data', '')}"
    if kind == "cascade":  # run_cascade's sidecar keeps its arguments under "settings"
        settings = record["settings"]
        what, seed = f"{settings['mode']}, down to {settings['depth']}", settings["seed"]
    return {"kind": kind, "time": time.strftime("%H:%M:%S"), "prompt": record.get("prompt", ""), "what": what,
            "seed": seed, "files": files, "shown": shown, "record": record}


def with_progress(work: Callable, total: int, progress=None, outputs: int = 0, preview: int | None = None):
    """Generator: run work(emit) in the background; for each emit("step", desc, i, preview_path) move the progress
    bar to i / total and yield `outputs` gr.skip()s with the preview (when there is one) at index `preview`.
    Returns (work's result, the last preview)."""
    image = None
    for item in in_background(work):
        if item[0] == "done":
            return item[1], image
        _, desc, i, shown = item
        image = shown or image
        if progress is not None:
            progress(i / max(1, total), desc=desc)
        update = [gr.skip()] * outputs
        if preview is not None and shown:
            update[preview] = shown
        yield tuple(update)


def save_outputs(studio: Studio, kind: str, video: torch.Tensor, fps: float, tiles: list[torch.Tensor],
                 names: list[str], record: dict, history: list | None, tile_size: int | None = None,
                 extra: dict[str, torch.Tensor] | None = None, also: list[Path] = (),
                 model: str | None = None) -> tuple[str, list[str], list]:
    """Write a tab's result (F, 3, H, W), its labelled side-by-side clip, any `extra` clips (a suffix each) and its
    sidecar under names the studio makes: (the side-by-side clip, the files to download (with the files `also`
    names, written already), history with it added). `model`: what made it, for the file names."""
    native = studio.outputs.new(kind, model=model)
    write_video(native, video, fps)
    shown = write_video(native.with_name(native.stem + "-side-by-side.mp4"),
                        side_by_side(tiles, names, tile_size or TILE_SIZE), fps)
    more = [write_video(native.with_name(f"{native.stem}-{suffix}.mp4"), clip, fps)
            for suffix, clip in (extra or {}).items()]
    sidecar = write_sidecar(native, record)
    files = [str(native), str(sidecar), str(shown)] + [str(p) for p in [*more, *also]]
    return str(shown), files, (history or []) + [history_entry(kind, record, files, str(shown))]
