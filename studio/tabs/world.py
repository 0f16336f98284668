"""World: a prompt renders its ground-truth clip at any size, frame rate and length."""
from __future__ import annotations

import time

import gradio as gr

from engine.io import write_video
from engine.sidecar import write_sidecar
from engine.validate import check_number, check_prompt, check_seed
from engine.world import SpecError, UnknownWordsError, prompt_to_spec, render

from ..context import Outputs
from ..examples import EXAMPLES, words_markdown
from ..fields import ERROR_SECONDS, Number, Slider
from ..media import enlarge
from ..work import history_entry


def render_world(prompt: str, seed: float, size: float, fps: float, frames: float, outputs: Outputs):
    """The World tab's action: (display video, [native mp4, sidecar], spec JSON)."""
    try:
        seed, size = check_seed(seed), check_number(size, "size", 8, 256, whole=True)
        frames, fps = check_number(frames, "frames", 2, 64, whole=True), check_number(fps, "fps", 0.5, 30)
        spec = prompt_to_spec(check_prompt(prompt), seed)
    except (SpecError, UnknownWordsError, ValueError, TypeError) as e:
        raise gr.Error(str(e), duration=ERROR_SECONDS, print_exception=False) from None
    start = time.perf_counter()
    video = render(spec, size, float(fps), frames)
    native = outputs.new("world")
    write_video(native, video, float(fps))
    record = {"kind": "render", "prompt": prompt, "seed": seed, "size": size, "fps": float(fps),
              "frames": frames, "t0": 0.0, "spec": spec.to_dict(), "seconds": round(time.perf_counter() - start, 4)}
    sidecar = write_sidecar(native, record)
    display = write_video(native.with_name(native.stem + "-display.mp4"), enlarge(video), float(fps))
    return str(display), [str(native), str(sidecar)], record


def build(outputs: Outputs, history: gr.State):
    with gr.Tab("World", id="world", elem_id="tab-world"):
        gr.Markdown("Every prompt has a ground-truth clip: the world renders it at any size and frame rate.")
        with gr.Row():
            with gr.Column(scale=1):
                prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0], lines=2)
                seed = Number(label="Seed (fills what the prompt leaves open)", value=0, precision=0, minimum=0)
                size = Slider(8, 256, value=64, step=8, label="Size (pixels)")
                fps = Slider(1, 24, value=8, step=1, label="Frames per second")
                frames = Slider(2, 64, value=16, step=1, label="Frames")
                go = gr.Button("Render", variant="primary")
            with gr.Column(scale=1):
                video = gr.Video(label="Ground truth", autoplay=True, loop=True, height=300, interactive=False)
                files = gr.File(label="Download (video and its JSON sidecar)", file_count="multiple",
                                interactive=False)
                spec = gr.JSON(label="Spec")
        gr.Examples([[e, i] for i, e in enumerate(EXAMPLES)], [prompt, seed], label="Example prompts")
        with gr.Accordion("The world's words", open=False):
            gr.Markdown(words_markdown())

        def run(prompt, seed, size, fps, frames, history):
            shown, made, record = render_world(prompt, seed, size, fps, frames, outputs)
            return shown, made, record, (history or []) + [history_entry("render", record, made, shown)]

        go.click(run, [prompt, seed, size, fps, frames, history], [video, files, spec, history], api_name="render",
                 show_progress_on=video)
    return {"inputs": [prompt, seed, size, fps, frames]}
