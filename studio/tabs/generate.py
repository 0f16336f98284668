"""Generate: a prompt to a clip with any available tuning mode, with step previews, Stop and its sidecar; and how
far down the cascade to go (keyframes, or on through interpolation, super-resolution and expert translation)."""
from __future__ import annotations

import random

import gradio as gr

from engine.io.image import READABLE as IMAGE_FILES
from engine.pipelines.load import SCHEDULERS
from engine.pipelines.translate import DETAIL_SIGMA
from engine.registry import DEFAULT_OVERLAP, LONG_METHODS
from engine.tuning import MODES
from engine.world.vocab import CAMERA_MOVES, MOTIONS

from .. import cascade
from ..context import Studio, session_of
from ..examples import EXAMPLES, words_markdown
from ..fields import Number, Slider, open_choices, run_buttons
from ..work import (LIMITS, MOTION_FROM_PROMPT, MOTION_OFF, OWN_FPS, check_prompt, check_scheduler, check_seed,
                    check_settings, display_copy, generate_one, history_entry, keyframe_total, long_settings,
                    motion_settings, user_errors, with_progress)



# what a newcomer should expect of the clips (bench/results/motion.md: the judge finds the prompted motion in 0.92
# of validation and 0.96 of held-out clips with a plan, 0.17 and 0.00 from the words alone)
EXPECT = ("**What to expect**: 32×32 keyframes of the world's shapes, coloured and placed as the prompt says. The "
          "object moves as the prompt's motion words say because a *motion plan* made from them steers every frame "
          "(the judge finds the prompted motion in about 9 clips of 10); under *Motion*, *none* shows what the model "
          "does from the words alone, which is rarely the prompted motion. Rotation, growing and shrinking are "
          "followed less surely than sliding, bouncing and orbiting.")


def cascade_summary(record: dict) -> str:
    s = record["settings"]
    stages = " → ".join(f"{x['stage']} {x['seconds']:.1f} s" for x in record["stages"])
    size = "×".join(str(v) for v in record["size"])
    return (f"**{record['prompt']}** — seed {s['seed']} · {s['mode']} keyframes down to **{s['depth']}**: "
            f"{record['frames']} frames {size} at {record['fps']:g} fps · {stages} "
            f"(+{record['load']['seconds']:.1f} s loading)")


def summary(record: dict | None) -> str:
    if not record:
        return ""
    if record.get("kind") == "cascade":
        return cascade_summary(record)
    secs = record.get("seconds", {})
    pyr = f" · {record['pyramid']}-stage pyramid" if record.get("pyramid") else ""
    plan = record.get("plan")
    pyr += f" · motion plan {plan['source']} ({record.get('motion_method')})" if plan else " · no motion plan"
    if record.get("context_window") and record["frames"] > record["context_window"]:
        pyr += (f" · windows of {record['context_window']} overlapping by {record['context_overlap']} "
                f"({record['long_method']})")
    pyr += " · from the uploaded first frame" if record.get("image") else ""
    size = "×".join(str(s) for s in record.get("size", []))
    return (f"**{record['prompt']}** — seed {record['seed']} · {record['frames']} frames {size} at {record['fps']:g} fps"
            f" · {record['steps']} steps {record['scheduler']} · guidance {record['guidance']:g} · {record['mode']}{pyr}"
            f" · {secs.get('keyframes', 0):.1f} s (+{secs.get('load', 0):.1f} s loading)")


def generate(studio: Studio, prompt, negative_prompt, seed, frames, steps, guidance, scheduler, mode, pyramid,
             history, request=None, progress=None, depth="keyframes", stage_steps=cascade.STAGE_STEPS,
             motion=(MOTION_FROM_PROMPT, 1.0, "", "frame", False), long=(None, "windows", 4, OWN_FPS),
             translate=(0, 0.0)):
    """Generator: yields {preview} while the steps run, then (video, files, record, preview, history). Beyond the
    keyframes (`depth`), the cascade runs on down to that stage, its later stages `stage_steps` steps each;
    `translate`: the translate stage's output side and detail σ (0, 0: the upscaled clip's size, no split).
    `motion`: the Motion controls (motion, speed, path, method, cross-frame; work.motion_settings); `long`: the Long
    clips controls (first frame, method, overlap, frame rate; work.long_settings), for keyframes alone."""
    with user_errors():
        # 1. check the settings
        prompt = check_prompt(prompt)
        seed = check_seed(seed)
        frames, steps, guidance = check_settings(frames, steps, guidance, "long frames")
        variant = studio.resolve(mode, bool(pyramid), studio.owner(request))
        depth, stage_steps = cascade.check_cascade(depth, stage_steps, bool(pyramid))
        translation = cascade.check_translate(depth, *translate)
        moves, longer = motion_settings(*motion), long_settings(*long)
        if depth != "keyframes" and (longer["image"] or longer["fps"] not in (None, variant.fps)):
            raise ValueError("a first frame and another frame rate are for keyframes alone: set *How far down the "
                             "cascade* to keyframes, or clear the first frame and set the frame rate back to "
                             f"{variant.fps:g}")
        stop = studio.stop_flag(session_of(request))
        stop.clear()
        args = (studio, variant, prompt, negative_prompt, seed, frames, steps, guidance)

        # 2. the keyframes alone, or the cascade down to `depth`, in the background with progress
        def work(emit):
            if depth == "keyframes":
                return generate_one(*args, scheduler, stop=stop, motion=moves, long=longer,
                                    emit=lambda _, i, n, shown: emit("step", f"step {i} of {n}", i, shown))
            return cascade.run(*args, check_scheduler(variant, scheduler), depth, stage_steps, emit, stop, moves,
                               translation)

        keys = keyframe_total(studio, variant, prompt, seed, frames, steps, moves,
                              longer if depth == "keyframes" else None)
        total = keys if depth == "keyframes" else sum(cascade.stage_plan(studio, depth, frames, steps, stage_steps,
                                                                         keys).values())
        (native, video, record), image = yield from with_progress(work, total, progress, outputs=5, preview=3)

    # 3. the clip for the page, its files, and History
    shown = str(display_copy(native, video, record["fps"]))
    files = [str(native), str(native.with_suffix(".json"))]
    kind = "generate" if depth == "keyframes" else "cascade"
    history = (history or []) + [history_entry(kind, record, files, shown)]
    yield shown, files, record, image, history


def pyramid_state(studio: Studio, key: str, owner: str | None = None):
    """The pyramid checkbox for the chosen mode: usable only for a pyramid-trained folder."""
    try:
        v = studio.resolve(key, owner=owner)
    except ValueError:
        v = None
    if v is not None and v.stages:
        return gr.Checkbox(label="Temporal pyramid", interactive=True, info=f"{v.label} was trained for a {v.stages}-stage temporal pyramid "
                                                  f"(TPDiff): frames a multiple of {2 ** (v.stages - 1)}")
    return gr.Checkbox(label="Temporal pyramid", value=False, interactive=False,
                       info="needs a model trained for the pyramid (pyramid-ddim, pyramid-flow, or one made with "
                            "`flipbook train-pyramid`); the chosen one is not")


def _described(variant, modes) -> str:
    pyramid = f", trained for a {variant.stages}-stage temporal pyramid" if variant.stages else ""
    return f"**{variant.short or variant.key}** ({modes[variant.mode].summary}{pyramid})"


# Over 60 lines: the tab's layout, top to bottom as the page shows it, then the events that wire it.
def build(studio: Studio, history: gr.State) -> dict:
    what = f"the model `{studio.model['model']}`" if studio.own else "the embedded keyframe model (32×32, 2 fps)"
    with gr.Tab("Generate", id="generate", elem_id="tab-generate"):
        gr.Markdown(f"Text to video with {what}. Models here (the *Tuning mode* list): "
                    + "; ".join(_described(v, MODES) for v in studio.variants()) + ". Train more in the Tune tab.\n\n"
                    + EXPECT)
        with gr.Row():
            with gr.Column(scale=1):
                prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0], lines=2)
                negative = gr.Textbox(label="Negative prompt", value="", placeholder="optional")
                with gr.Row():
                    seed = Number(label="Seed (−1: random)", value=0, precision=0, minimum=-1, scale=2)
                    dice = gr.Button("Random seed", scale=1, min_width=80)
                    last = gr.Button("Last seed", scale=1, min_width=80)
                frames = Slider(*LIMITS["long frames"], value=8, step=1, label="Frames", elem_id="gen-frames",
                                info="the models were trained on 8; more are made in windows (Long clips below)")
                steps = Slider(*LIMITS["steps"], value=25, step=1, label="Steps", elem_id="gen-steps")
                guidance = Slider(*LIMITS["guidance"], value=4, step=0.5, label="Guidance")
                scheduler = gr.Dropdown(list(SCHEDULERS), value="dpm++", label="Scheduler")
                mode = gr.Dropdown(studio.choices(), value=studio.default_key(), label="Tuning mode",
                                   allow_custom_value=True)
                pyramid = pyramid_state(studio, studio.default_key())
                motion = motion_controls()
                longer = long_controls(studio)
                depth, stage_steps, stages, translate = cascade_controls(studio)
                go, stop = run_buttons("Generate")
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

        def run(prompt, negative_prompt, seed, frames, steps, guidance, scheduler, mode, pyramid, depth, stage_steps,
                motion, speed, path, method, cross, image=None, long_method="windows", overlap=4, fps=OWN_FPS,
                top=0, detail=0.0, history=None, request: gr.Request = None, progress=gr.Progress()):
            # (image=None: the first frame is optional for API callers too)
            yield from generate(studio, prompt, negative_prompt, seed, frames, steps, guidance, scheduler, mode,
                                pyramid, history, request, progress, depth, stage_steps,
                                (motion, speed, path, method, cross), (image, long_method, overlap, fps), (top, detail))

        inputs = [prompt, negative, seed, frames, steps, guidance, scheduler, mode, pyramid]
        # the cascade's two inputs, then the motion's five, the long clips' four and translation's two come last,
        # with defaults: callers that send the first nine get keyframes that move as the prompt says
        event = go.click(run, inputs + [depth, stage_steps] + motion + longer + translate + [history],
                         [video, files, record, preview, history],
                         api_name="generate", concurrency_limit=1, concurrency_id="pipeline", show_progress_on=preview)
        event.success(summary, record, caption, api_visibility="private", queue=False)
        def halt(request: gr.Request):
            studio.stop(session_of(request))

        stop.click(halt, None, None, api_name="stop", queue=False)
        dice.click(lambda: random.randrange(2**31), None, seed, api_visibility="private", queue=False)
        last.click(last_seed, record, seed, api_visibility="private", queue=False)
        def pyramid_for(key, request: gr.Request):
            return pyramid_state(studio, key, studio.owner(request))

        mode.change(pyramid_for, mode, pyramid, api_visibility="private", queue=False)

        depth.change(lambda d: (gr.Slider(visible=d != "keyframes"), *[gr.update(visible=d == "translate")] * 2),
                     depth, [stage_steps, *translate], api_visibility="private", queue=False)
    return {"inputs": inputs, "cascade": [depth, stage_steps], "motion": motion, "long": longer, "mode": mode,
            "translate": translate,
            "pyramid": pyramid,
            "refresh": (lambda: cascade.stages_note(studio), [stages])}


def last_seed(record: dict | None):
    if not record:
        return gr.skip()
    return record["settings"]["seed"] if record.get("kind") == "cascade" else record["seed"]


def motion_controls(prefix: str = "gen", plan: bool = True, methods: bool = True) -> list:
    """How the clip moves (engine/motion/README.md): from the prompt's motion words (by default when `plan`), or a
    world motion or camera move whatever the prompt says, at a speed; or a path of points; with `methods`, the way
    the plan is followed. Returns [motion, speed, path] (+ [method, cross-frame])."""
    off = "none leaves the motion to the model (the ablation)" if methods else \
        "none keeps the clip's own motion (the inversion alone)"
    with gr.Accordion("Motion", open=methods, elem_id=f"{prefix}-motion"):
        motion = gr.Dropdown([MOTION_FROM_PROMPT, MOTION_OFF, *MOTIONS, *CAMERA_MOVES],
                             value=MOTION_FROM_PROMPT if plan else MOTION_OFF, label="Motion",
                             elem_id=f"{prefix}-motion-choice",
                             info="the prompt's motion words make a plan every frame follows; or choose an object "
                                  f"motion or a camera move; {off}")
        with gr.Row():
            speed = Slider(0.25, 4, value=1, step=0.25, label="Speed (× the world's)", elem_id=f"{prefix}-speed")
            if methods:
                method = gr.Radio(["frame", "noise"], value="frame", label="Plan method", elem_id=f"{prefix}-motion-method",
                                  info="frame: the first frame carried along the plan; noise: the noise warped along it")
        path = gr.Textbox(value="", label="Path (optional)", placeholder="0.2,0.5 0.8,0.5", elem_id=f"{prefix}-path",
                          info="points x,y the object follows (0 to 1, 0,0 top left), in place of the motion")
        if not methods:
            return [motion, speed, path]
        cross = gr.Checkbox(value=False, label="Cross-frame attention", elem_id=f"{prefix}-cross-frame",
                            info="every frame attends to the first (Text2Video-Zero): one look for the whole clip")
    return [motion, speed, path, method, cross]


def long_controls(studio: Studio) -> list:
    """Long clips and image-to-video (engine.diffusion.windows): a first frame to start from, how clips longer than
    the model's 8 frames are made, and the frame rate. Returns [image, method, overlap, fps]."""
    with gr.Accordion("Long clips and a first frame", open=False, elem_id="gen-long"):
        gr.Markdown("Past 8 frames (what the models were trained on) the clip is made in windows of 8. The world's "
                    "objects stay in view for about 4 s, so for a long clip raise the frame rate with the frames "
                    "(64 frames at 16 fps is the 4 s of an 8-frame clip, 8× smoother).")
        image = gr.File(label="First frame (optional): a png or jpg, cropped and resized to the clip", type="filepath",
                        file_types=list(IMAGE_FILES), height=90, elem_id="gen-first-frame")
        method = gr.Radio(list(LONG_METHODS), value=LONG_METHODS[0], label="Long-clip method", elem_id="gen-long-method",
                          info="windows: overlapping windows blended at every step (FreeNoise); autoregressive: each "
                               "window starts from the last frames of the one before; chunks: independent windows")
        with gr.Row():
            overlap = Slider(0, 7, value=DEFAULT_OVERLAP, step=1, label="Window overlap (frames)",
                             elem_id="gen-overlap")
            fps = Slider(OWN_FPS, LIMITS["fps"][1], value=OWN_FPS, step=1, label="Frame rate (fps)",
                         elem_id="gen-fps", info="0: the model's own (2 fps; a pyramid-trained model's 4)")
    return [image, method, overlap, fps]


def cascade_controls(studio: Studio) -> tuple[gr.Radio, gr.Slider, gr.Markdown, list]:
    """How far down the cascade to go, the later stages' steps (shown beyond the keyframes), which stages have
    trained models now, and translation's side and detail σ (shown at the depth translate)."""
    depth = open_choices(gr.Radio(list(cascade.DEPTHS), value="keyframes", label="How far down the cascade",
                                  elem_id="gen-depth",
                                  info="keyframes → interpolate (4T − 3 frames at 4× the rate) → upscale (pixel "
                                       "super-resolution) → translate (the latent expert refines detail)"))
    stage_steps = Slider(*LIMITS["steps"], value=cascade.STAGE_STEPS, step=1, label="Steps of the later stages",
                         visible=False, elem_id="gen-stage-steps",
                         info=f"{cascade.STAGE_STEPS} by default: {cascade.MEASURED_WHY['stage_steps']}")
    top = gr.Dropdown([("the upscaled clip's size", 0), *((f"{t}²", t) for t in cascade.TOPS[1:])], value=0,
                      label="Translate up to", visible=False, elem_id="gen-top",
                      info="MPL-Video's use of the latent expert: up from the pixel stage's 128² "
                           "(bench/results/expert_top.md)")
    detail = Slider(0, DETAIL_SIGMA[1], value=0, step=0.1, label="Keep the upscaled clip's colours below σ (pixels)",
                    visible=False, elem_id="gen-detail",
                    info="0: off; the translation then adds only its detail above a Gaussian of σ (0.5 measured best "
                         "at 512²)")
    stages = gr.Markdown(cascade.stages_note(studio), elem_id="gen-stages")
    return depth, stage_steps, stages, [top, detail]
