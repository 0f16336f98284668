"""Generate: a prompt to a clip with any available tuning mode, with step previews, Stop and its sidecar."""
from __future__ import annotations

import random

import gradio as gr

from ..context import Studio, session_of
from ..fields import Number, Slider
from ..work import (LIMITS, check_prompt, check_seed, check_settings, display_copy, generate_one, history_entry,
                    in_background, user_errors)

EXAMPLES = [
    "a red circle moving left on a black background",
    "a big yellow star spinning against a sunset backdrop",
    "a small cyan triangle bouncing on a checkerboard background",
    "a purple ring orbiting over an ocean background",
    "a large green diamond shrinking on a gray background",
]


def words_markdown() -> str:
    from engine.world.vocab import BACKGROUND_WORDS, COLOUR_WORDS, MOTION_WORDS, SHAPE_WORDS, SIZE_WORDS

    tables = {"shape": SHAPE_WORDS, "colour": COLOUR_WORDS, "size": SIZE_WORDS, "motion": MOTION_WORDS,
              "background": BACKGROUND_WORDS}
    rows = [f"- **{attr}**: " + "; ".join(" / ".join(ws) for ws in t.values()) for attr, t in tables.items()]
    return ("Synonyms are joined by /; an unknown word is answered with the closest known one. One or two objects "
            "(join them with *and a*), then *on / against / over a … background*.\n\n" + "\n".join(rows))


def summary(record: dict | None) -> str:
    if not record:
        return ""
    secs = record.get("seconds", {})
    pyr = f" · {record['pyramid']}-stage pyramid" if record.get("pyramid") else ""
    size = "×".join(str(s) for s in record.get("size", []))
    return (f"**{record['prompt']}** — seed {record['seed']} · {record['frames']} frames {size} at {record['fps']:g} fps"
            f" · {record['steps']} steps {record['scheduler']} · guidance {record['guidance']:g} · {record['mode']}{pyr}"
            f" · {secs.get('keyframes', 0):.1f} s (+{secs.get('load', 0):.1f} s loading)")


def generate(studio: Studio, prompt, negative_prompt, seed, frames, steps, guidance, scheduler, mode, pyramid,
             history, request=None, progress=None):
    """Generator: yields {preview} while the steps run, then (video, files, record, preview, history)."""
    with user_errors():
        prompt = check_prompt(prompt)
        seed = check_seed(seed)
        frames, steps, guidance = check_settings(frames, steps, guidance)
        variant = studio.resolve(mode, bool(pyramid))
        stop = studio.stop_flag(session_of(request))
        stop.clear()
        args = (studio, variant, prompt, negative_prompt, seed, frames, steps, guidance, scheduler)
        image = None
        for item in in_background(lambda emit: generate_one(*args, emit=emit, stop=stop)):
            if item[0] == "step":
                _, i, total, image = item
                if progress is not None:
                    progress(i / total, desc=f"step {i} of {total}")
                yield gr.skip(), gr.skip(), gr.skip(), image, gr.skip()
            else:
                native, video, record = item[1]
    shown = str(display_copy(native, video, variant.fps))
    files = [str(native), str(native.with_suffix(".json"))]
    history = (history or []) + [history_entry("generate", record, files, shown)]
    yield shown, files, record, image, history


def pyramid_state(studio: Studio, key: str):
    """The pyramid checkbox for the chosen mode: usable only for a pyramid-trained folder."""
    try:
        v = studio.resolve(key)
    except ValueError:
        v = None
    if v is not None and v.stages:
        return gr.Checkbox(label="Temporal pyramid", interactive=True, info=f"{v.label} was trained for a {v.stages}-stage temporal pyramid "
                                                  f"(TPDiff): frames a multiple of {2 ** (v.stages - 1)}")
    return gr.Checkbox(label="Temporal pyramid", value=False, interactive=False,
                       info="needs a pyramid-trained model (engine.training.pyramid); the chosen one is not")


def build(studio: Studio, history: gr.State) -> dict:
    from engine.pipelines.load import SCHEDULERS
    from engine.tuning import MODES

    what = f"the model `{studio.model['model']}`" if studio.own else "the embedded keyframe model (32×32, 2 fps)"
    modes = sorted({v.mode for v in studio.variants()})
    with gr.Tab("Generate", id="generate", elem_id="tab-generate"):
        gr.Markdown(f"Text to video with {what}. Modes with weights here: "
                    + "; ".join(f"**{m}** ({MODES[m].summary})" for m in modes)
                    + ". Train more in the Tune tab.")
        with gr.Row():
            with gr.Column(scale=1):
                prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0], lines=2)
                negative = gr.Textbox(label="Negative prompt", value="", placeholder="optional")
                with gr.Row():
                    seed = Number(label="Seed (−1: random)", value=0, precision=0, minimum=-1, scale=2)
                    dice = gr.Button("Random seed", scale=1, min_width=80)
                    last = gr.Button("Last seed", scale=1, min_width=80)
                frames = Slider(*LIMITS["frames"], value=8, step=1, label="Frames")
                steps = Slider(*LIMITS["steps"], value=25, step=1, label="Steps", elem_id="gen-steps")
                guidance = Slider(*LIMITS["guidance"], value=4, step=0.5, label="Guidance")
                scheduler = gr.Dropdown(list(SCHEDULERS), value="dpm++", label="Scheduler")
                mode = gr.Dropdown(studio.choices(), value=studio.default_key(), label="Tuning mode",
                                   allow_custom_value=True)
                pyramid = pyramid_state(studio, studio.default_key())
                with gr.Row():
                    go = gr.Button("Generate", variant="primary", scale=3)
                    stop = gr.Button("Stop", variant="stop", scale=1)
            with gr.Column(scale=1):
                preview = gr.Image(label="Step preview", height=96, interactive=False, buttons=[])
                video = gr.Video(label="Generated", autoplay=True, loop=True, height=300, interactive=False)
                caption = gr.Markdown()
                files = gr.File(label="Download (video and its JSON sidecar)", file_count="multiple",
                                interactive=False)
                record = gr.JSON(label="Parameters (the sidecar)", max_height=240)
        gr.Examples([[e] for e in EXAMPLES], [prompt], label="Example prompts")
        with gr.Accordion("The words the embedded model knows", open=False):
            gr.Markdown(words_markdown())

        def run(prompt, negative_prompt, seed, frames, steps, guidance, scheduler, mode, pyramid, history,
                request: gr.Request, progress=gr.Progress()):
            yield from generate(studio, prompt, negative_prompt, seed, frames, steps, guidance, scheduler, mode,
                                pyramid, history, request, progress)

        inputs = [prompt, negative, seed, frames, steps, guidance, scheduler, mode, pyramid]
        event = go.click(run, inputs + [history], [video, files, record, preview, history], api_name="generate",
                         concurrency_limit=1, concurrency_id="pipeline")
        event.success(summary, record, caption, api_visibility="private", queue=False)
        def halt(request: gr.Request):
            studio.stop(session_of(request))

        stop.click(halt, None, None, api_name="stop", queue=False)
        dice.click(lambda: random.randrange(2**31), None, seed, api_visibility="private", queue=False)
        last.click(lambda r: r["seed"] if r else gr.skip(), record, seed, api_visibility="private", queue=False)
        mode.change(lambda key: pyramid_state(studio, key), mode, pyramid, api_visibility="private", queue=False)
    return {"inputs": inputs, "mode": mode, "pyramid": pyramid}
