"""Compare: one prompt and seed through two to four tuning modes (or a pyramid model with and without its
pyramid), played side by side in one clip so they stay in step, with the ground truth beside them and a
table of attribute accuracy (the judge), TCC against the ground truth and time. Or, chosen at the top of the tab,
interpolation methods side by side on one set of keyframes (studio/tabs/compare_interp.py)."""
from __future__ import annotations

import gradio as gr

from engine.io import write_video
from engine.pipelines.load import SCHEDULERS
from engine.sidecar import write_sidecar

from ..context import Studio, session_of
from ..examples import EXAMPLES
from ..fields import Number, Slider
from ..media import side_by_side
from ..scores import ground_truth, score
from ..work import (LIMITS, check_prompt, check_seed, check_settings, generate_one, history_entry,
                    in_background, user_errors)
from . import compare_interp

HEADERS = ["model", "attributes right", "judged wrong", "TCC", "seconds"]
PLANS = {"on": (True,), "off": (False,), "on and off": (True, False)}  # the motion plan, per model
MODELS, METHODS = "models", "interpolation methods"  # what the tab compares


def compare(studio: Studio, prompt, negative_prompt, seed, frames, steps, guidance, scheduler, models, history,
            request=None, progress=None, plans="on"):
    """Generator: yields {preview} while the models run, then (side by side, table, files, record, preview, history).
    `plans`: each model with the prompt's motion plan, without it (the words alone), or both side by side."""
    with user_errors():
        prompt = check_prompt(prompt)
        seed = check_seed(seed)
        frames, steps, guidance = check_settings(frames, steps, guidance)
        models = [models] if isinstance(models, str) else list(dict.fromkeys(models or []))
        if plans not in PLANS:
            raise ValueError(f"the motion plan must be one of: {', '.join(PLANS)}")
        low = 1 if len(PLANS[plans]) > 1 else 2
        if not low <= len(models) <= 4:
            have = len(studio.choices(pyramid=True, owner=studio.owner(request)))
            raise ValueError(f"choose {'one' if low == 1 else 'two'} to four models to compare (you chose "
                             f"{len(models)})" + ("; only zero-shot has weights now: tune a mode in the Tune tab "
                                                  "first, or compare plan on and off" if have < 2 else ""))
        runs = [(studio.resolve(m, owner=studio.owner(request)), on) for m in models for on in PLANS[plans]]
        variants = [v for v, _ in runs]
        stop = studio.stop_flag(session_of(request))
        stop.clear()
        results, image = [], None
        for n, (v, on) in enumerate(runs):
            args = (studio, v, prompt, negative_prompt, seed, frames, steps, guidance, scheduler)
            moves = {"motion_plan": on}
            for item in in_background(lambda emit: generate_one(*args, emit=emit, stop=stop, kind="compare",
                                                                motion=moves)):
                if item[0] == "step":
                    _, i, total, image = item
                    if progress is not None:
                        progress((n + i / total) / len(variants), desc=f"{v.label}: step {i} of {total}")
                    yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), image, gr.skip()
                else:
                    results.append(item[1])
        clips = [video for _, video, _ in results]
        truth = ground_truth(prompt, seed, clips[0], variants[0].fps)
        rows = score(studio, prompt, clips, truth)
    unplanned = lambda on: "" if on else " — no plan"  # noqa: E731
    labels = [v.label + (" — pyramid" if v.pyramid else "") + unplanned(on) for v, on in runs]
    table = [[label, r["attributes right"], r["judged wrong"], r["TCC"],
              round(record["seconds"]["keyframes"], 2)] for label, r, (_, _, record) in zip(labels, rows, results)]
    tiles = ([truth] if truth is not None else []) + clips
    names = (["ground truth"] if truth is not None else []) + [v.short + (" pyramid" if v.pyramid else "")
                                                               + ("" if on else " no plan") for v, on in runs]
    native = studio.outputs.new("compare", model="-vs-".join(dict.fromkeys(v.short for v in variants)))
    write_video(native, side_by_side(tiles, names), variants[0].fps)
    record = {"kind": "compare", "prompt": prompt, "negative_prompt": negative_prompt or None, "seed": seed,
              "frames": frames, "steps": steps, "guidance": guidance, "scheduler": scheduler, "variants": models,
              "plans": plans, "labels": labels, "ground_truth": truth is not None,
              "metrics": [dict(zip(HEADERS, row)) for row in table],
              "clips": [path.name for path, _, _ in results]}
    sidecar = write_sidecar(native, record)
    files = [str(native), str(sidecar)] + [str(p) for path, _, _ in results for p in (path, path.with_suffix(".json"))]
    history = (history or []) + [history_entry("compare", record, files, str(native))]
    yield str(native), {"headers": HEADERS, "data": table}, files, record, image, history


# Over 60 lines: the tab's layout, top to bottom as the page shows it, then the events that wire it.
def build(studio: Studio, history: gr.State) -> dict:
    choices = studio.choices(pyramid=True)
    default = [k for _, k in choices][:2]
    with gr.Tab("Compare", id="compare", elem_id="tab-compare"):
        gr.Markdown("One prompt and seed through two to four models, side by side and in step in one clip, with "
                    "the world's ground truth first when the prompt is a world prompt. *Attributes right*: what the "
                    "judge sees, against what the prompt names; *TCC*: how alike the frame-to-frame changes are to "
                    "the ground truth's (1 is identical); *seconds*: sampling time. Or one model's keyframes through "
                    "the interpolation methods, beside each keyframe held, blending and tweening, with PSNR and SSIM "
                    "of the frames between the keyframes.")
        with gr.Row():
            with gr.Column(scale=1):
                what = gr.Radio([MODELS, METHODS], value=MODELS, label="Compare", elem_id="cmp-what")
                prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0], lines=2)
                negative = gr.Textbox(label="Negative prompt", value="", placeholder="optional")
                seed = Number(label="Seed (−1: random)", value=0, precision=0, minimum=-1)
                models = gr.Dropdown(choices, value=default, multiselect=True, max_choices=4, allow_custom_value=True,
                                     label="Models to compare (2–4; one is enough with the plan on and off)",
                                     info="tuned modes here, zero-shot, the Tune tab's results; a pyramid-trained "
                                          "model also as its pyramid run")
                plans = gr.Radio(list(PLANS), value="on", label="Motion plan", elem_id="cmp-plans",
                                 info="the prompt's motion words as a plan every frame follows; off: the words "
                                      "alone; on and off: each model both ways, side by side")
                interp_ui = compare_interp.controls(studio)
                with gr.Group():
                    frames = Slider(*LIMITS["frames"], value=8, step=1, label="Frames")
                    steps = Slider(*LIMITS["steps"], value=25, step=1, label="Steps", elem_id="cmp-steps")
                    guidance = Slider(*LIMITS["guidance"], value=4, step=0.5, label="Guidance")
                    scheduler = gr.Dropdown(list(SCHEDULERS), value="dpm++", label="Scheduler")
                with gr.Row():
                    go = gr.Button("Compare", variant="primary", scale=3)
                    go_methods = gr.Button("Compare methods", variant="primary", scale=3, visible=False)
                    stop = gr.Button("Stop", variant="stop", scale=1)
                preview = gr.Image(label="Step preview", height=96, interactive=False, buttons=[])
            with gr.Column(scale=2):
                video = gr.Video(label="Side by side", autoplay=True, loop=True, height=260, interactive=False,
                                 elem_id="cmp-video")
                table = gr.Dataframe(headers=HEADERS, label="Metrics", interactive=False, wrap=True, elem_id="cmp-table",
                                     column_widths=["32%", "12%", "32%", "12%", "12%"])
                methods_table = gr.Dataframe(headers=compare_interp.HEADERS, label="Metrics", interactive=False,
                                             wrap=True, visible=False, elem_id="cmp-interp-table")
                methods_summary = gr.Markdown(visible=False, elem_id="cmp-interp-summary")
                files = gr.File(label="Download (side by side, each clip, and their JSON sidecars)",
                                file_count="multiple", interactive=False)
                record = gr.JSON(label="Comparison (the sidecar)", max_height=240)

        def run(prompt, negative_prompt, seed, frames, steps, guidance, scheduler, models, plans, history,
                request: gr.Request, progress=gr.Progress()):
            yield from compare(studio, prompt, negative_prompt, seed, frames, steps, guidance, scheduler, models,
                               history, request, progress, plans)

        def run_methods(prompt, negative_prompt, seed, frames, steps, guidance, scheduler, mode, methods,
                        interp_steps, history, request: gr.Request, progress=gr.Progress()):
            yield from compare_interp.compare_interpolation(studio, prompt, negative_prompt, seed, frames, steps,
                                                            guidance, scheduler, mode, methods, interp_steps, history,
                                                            request, progress)

        def halt(request: gr.Request):
            studio.stop(session_of(request))

        def chosen(what):
            m = what != METHODS
            return (gr.Dropdown(visible=m), gr.Radio(visible=m), gr.Group(visible=not m), gr.Button(visible=m), gr.Button(visible=not m),
                    gr.Dataframe(visible=m), gr.Dataframe(visible=not m), gr.Markdown(visible=not m))

        inputs = [prompt, negative, seed, frames, steps, guidance, scheduler, models]
        go.click(run, inputs + [plans, history], [video, table, files, record, preview, history], api_name="compare",
                 concurrency_limit=1, concurrency_id="pipeline", show_progress_on=preview)
        methods_inputs = inputs[:-1] + [interp_ui["mode"], interp_ui["methods"], interp_ui["steps"]]
        go_methods.click(run_methods, methods_inputs + [history],
                         [video, methods_table, methods_summary, files, record, preview, history],
                         api_name="compare_interpolation", concurrency_limit=1, concurrency_id="pipeline",
                         show_progress_on=preview)
        stop.click(halt, None, None, api_visibility="private", queue=False)
        what.change(chosen, what, [models, plans, interp_ui["group"], go, go_methods, table, methods_table,
                                   methods_summary], api_visibility="private", queue=False)
    return {"inputs": inputs, "plans": plans, "models": models, "keyframes_mode": interp_ui["mode"],
            "interp_inputs": [what, interp_ui["mode"], interp_ui["methods"], interp_ui["steps"]],
            "refresh": (lambda: compare_interp.refresh(studio), [interp_ui["methods"], interp_ui["note"]])}
