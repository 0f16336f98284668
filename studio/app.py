"""The Flipbook studio: a gradio Blocks app, bound to 127.0.0.1 unless told otherwise.

Until text-to-video lands, the studio shows the world: a prompt renders its ground-truth clip.
Every output lives in this app's own temporary folder under names the app makes, never a user's string.
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import itertools
import json
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
import torch
import torch.nn.functional as F

from engine.io import write_video
from engine.sidecar import write_sidecar
from engine.world import SpecError, UnknownWordsError, prompt_to_spec, render

EXAMPLES = [
    ["a red circle moving left on a black background", 0],
    ["a big yellow star spinning against a sunset backdrop", 1],
    ["a small cyan triangle bouncing on a checkerboard background", 2],
    ["a purple ring orbiting over an ocean background", 3],
    ["a large green diamond shrinking on a gray background", 4],
]
DISPLAY_SIZE = 256


class Outputs:
    """This app's output folder: fresh names from a counter, so no user string becomes a path."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or tempfile.mkdtemp(prefix="flipbook-studio-"))
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def new(self, kind: str, suffix: str = ".mp4") -> Path:
        with self._lock:
            n = next(self._count)
        return self.root / f"{kind}-{n:05d}-{int(time.time())}{suffix}"


def _display(video: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour enlargement so tiny clips stay crisp in the browser's player."""
    scale = max(1, DISPLAY_SIZE // max(video.shape[-2:]))
    return F.interpolate(video, scale_factor=scale, mode="nearest") if scale > 1 else video


def render_world(prompt: str, seed: float, size: float, fps: float, frames: float, outputs: Outputs):
    """The World tab's action: (display video, [native mp4, sidecar], spec JSON)."""
    try:
        seed, size, frames = int(seed), int(size), int(frames)
        if not 8 <= size <= 256:
            raise ValueError(f"size must be between 8 and 256 pixels, got {size}")
        if not 2 <= frames <= 64:
            raise ValueError(f"frames must be between 2 and 64, got {frames}")
        if not 0.5 <= float(fps) <= 30:
            raise ValueError(f"fps must be between 0.5 and 30, got {fps}")
        spec = prompt_to_spec(prompt, seed)
    except (SpecError, UnknownWordsError, ValueError, TypeError) as e:
        raise gr.Error(str(e), duration=None)
    start = time.perf_counter()
    video = render(spec, size, float(fps), frames)
    native = outputs.new("world")
    write_video(native, video, float(fps))
    record = {"kind": "render", "prompt": prompt, "seed": seed, "size": size, "fps": float(fps),
              "frames": frames, "t0": 0.0, "spec": spec.to_dict(), "seconds": round(time.perf_counter() - start, 4)}
    sidecar = write_sidecar(native, record)
    display = write_video(native.with_name(native.stem + "-display.mp4"), _display(video), float(fps))
    return str(display), [str(native), str(sidecar)], record


def generate_clip(prompt, negative, seed, frames, steps, guidance, scheduler, mode, outputs: Outputs, cache: dict,
                  progress=None, model: dict | None = None):
    """The Generate tab's action: (display video, [mp4, sidecar], sidecar record). `model`: the studio's
    --model, --modes, --dtype, --device and memory options (default: the embedded base on the CPU)."""
    from engine.generate import generate_video
    from engine.sidecar import read_sidecar

    try:
        seed, frames, steps, guidance = int(seed), int(frames), int(steps), float(guidance)
        if not 0 <= seed < 2**63:
            raise ValueError(f"seed must be a whole number ≥ 0, got {seed}")
        native = outputs.new("generate")
        callback = None
        if progress is not None:
            callback = lambda pipe, i, t, kw: progress((i + 1) / steps, desc=f"step {i + 1}/{steps}") and None
        model = model or {}
        tuned = str(Path(model["modes"]) / mode) if model.get("modes") and mode != "zero-shot" else None
        _, video = generate_video(native, prompt, negative or None, seed, frames, steps, guidance, mode, scheduler,
                                  fps=2.0, callback=callback, pipe_cache=cache, model=model.get("model"),
                                  tuned=tuned, dtype=model.get("dtype"), device=model.get("device"),
                                  memory=model.get("memory"))
    except (SpecError, UnknownWordsError, ValueError, TypeError, FileNotFoundError) as e:
        raise gr.Error(str(e), duration=None)
    display = write_video(native.with_name(native.stem + "-display.mp4"), _display(video), 2.0)
    return str(display), [str(native), str(native.with_suffix(".json"))], read_sidecar(native)


def _words_markdown() -> str:
    from engine.world.vocab import BACKGROUND_WORDS, COLOUR_WORDS, MOTION_WORDS, SHAPE_WORDS, SIZE_WORDS

    tables = {"shape": SHAPE_WORDS, "colour": COLOUR_WORDS, "size": SIZE_WORDS, "motion": MOTION_WORDS,
              "background": BACKGROUND_WORDS}
    rows = [f"- **{attr}**: " + "; ".join(" / ".join(ws) for ws in t.values()) for attr, t in tables.items()]
    return ("**The world's words** (synonyms joined by /; an unknown word is answered with the closest known "
            "one):\n\n" + "\n".join(rows))


def _generate_tab(outputs: Outputs, model: dict | None = None):
    from engine.generate import DEFAULT_MODE_ORDER
    from engine.pipelines.load import SCHEDULERS, available_modes
    from engine.tuning import MODES

    model = model or {}
    own = model.get("model") is not None
    if own and not model.get("modes"):
        modes = ["zero-shot"]  # the embedded modes were tuned on the embedded base
    else:
        modes = available_modes(model.get("modes"))
    cache: dict = {}
    with gr.Tab("Generate"):
        what = f"the model `{model['model']}`" if own else "the embedded keyframe model (8 keyframes at 2 fps, 32×32)"
        gr.Markdown(f"Text to video with {what}. "
                    "Modes: " + "; ".join(f"**{m}**: {MODES[m].summary}" for m in modes))
        with gr.Row():
            with gr.Column(scale=1):
                prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0][0], lines=2)
                negative = gr.Textbox(label="Negative prompt", value="")
                seed = gr.Number(label="Seed", value=0, precision=0)
                frames = gr.Slider(2, 16, value=8, step=1, label="Frames")
                steps = gr.Slider(2, 50, value=25, step=1, label="Steps")
                guidance = gr.Slider(0, 12, value=4, step=0.5, label="Guidance")
                scheduler = gr.Dropdown(list(SCHEDULERS), value="dpm++", label="Scheduler")
                mode = gr.Dropdown(modes, value=next((m for m in DEFAULT_MODE_ORDER if m in modes), "zero-shot"),
                                   label="Tuning mode")
                go = gr.Button("Generate", variant="primary")
            with gr.Column(scale=1):
                video = gr.Video(label="Generated", autoplay=True, loop=True, height=300)
                files = gr.File(label="Download (video and its JSON sidecar)", file_count="multiple")
                record = gr.JSON(label="Parameters")

        def run(p, n, s, f, st, g, sc, m, progress=gr.Progress()):
            return generate_clip(p, n, s, f, st, g, sc, m, outputs, cache, progress, model)

        # one generation at a time: cached pipelines keep per-call scheduler state, and 2 cores gain nothing
        go.click(run, [prompt, negative, seed, frames, steps, guidance, scheduler, mode], [video, files, record],
                 api_name="generate", concurrency_limit=1)


def build_app(outputs: Outputs | None = None, model: dict | None = None) -> gr.Blocks:
    outputs = outputs or Outputs()
    with gr.Blocks(title="Flipbook", analytics_enabled=False) as app:
        gr.Markdown("# Flipbook\nImage diffusion models made into video models, on a synthetic world.")
        with gr.Tab("World"):
            gr.Markdown("Every prompt has a ground-truth clip: the world renders it at any size and frame rate.")
            with gr.Row():
                with gr.Column(scale=1):
                    prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0][0], lines=2)
                    seed = gr.Number(label="Seed (fills what the prompt leaves open)", value=0, precision=0)
                    size = gr.Slider(8, 256, value=64, step=8, label="Size (pixels)")
                    fps = gr.Slider(1, 24, value=8, step=1, label="Frames per second")
                    frames = gr.Slider(2, 64, value=16, step=1, label="Frames")
                    go = gr.Button("Render", variant="primary")
                with gr.Column(scale=1):
                    video = gr.Video(label="Ground truth", autoplay=True, loop=True, height=300)
                    files = gr.File(label="Download (video and its JSON sidecar)", file_count="multiple")
                    spec = gr.JSON(label="Spec")
            gr.Examples(EXAMPLES, [prompt, seed])
            gr.Markdown(_words_markdown())
            go.click(lambda p, s, z, f, n: render_world(p, s, z, f, n, outputs), [prompt, seed, size, fps, frames],
                     [video, files, spec], api_name="render")
        _generate_tab(outputs, model)
    app.queue(default_concurrency_limit=2, max_size=32)
    return app


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, auth: str | None = None,
           model: dict | None = None):
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))
    credentials = None
    if auth:
        if ":" not in auth:
            raise ValueError("--auth takes USER:PASSWORD")
        credentials = tuple(auth.split(":", 1))
    if model:  # a wrong device or dtype fails here, before the server starts
        from engine.models.base import resolve_device, resolve_dtype

        resolve_device(model.get("device"))
        resolve_dtype(model.get("dtype"))
    app = build_app(model=model)
    print(f"Flipbook studio on http://{host}:{port} (outputs in a private temp folder)")
    app.launch(server_name=host, server_port=port, share=share, auth=credentials, show_error=True)
