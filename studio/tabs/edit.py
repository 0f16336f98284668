"""Edit: one-shot video editing (Tune-A-Video, SimDA §3.4) of an uploaded clip or a world clip. The mode is tuned
on the clip with its source prompt, the clip is DDIM-inverted part-way into the noise, then the target prompt is
sampled from there. The input and the edit play side by side in one clip; for a world clip the judge says whether
the change took and the other attributes stayed, and the world's rendering of the ideal edit plays beside them.

The steps are engine.edit's (`flipbook edit`); the tuned folders and nothing else are cached, under this studio's
output folder, so editing one clip with several prompts tunes it once."""
from __future__ import annotations

import dataclasses
import time

import gradio as gr
import torch

from engine.edit import edit_clip, edit_steps
from engine.edit_settings import GUIDANCE, MODE, MOTION_PLAN, STEPS, STRENGTH, TUNE_STEPS
from engine.metrics import tcc
from engine.motion import motion_plan_for
from engine.pipelines.edit import tensor_hash
from engine.training.clips import LR, fit_clip
from engine.tuning import MODES
from engine.validate import check_prompt
from engine.world import ClipSpec, SpecError, parse_prompt, render
from engine.world.vocab import MOTIONS

from ..clip_input import WORLD, clip_picker, load_clip, upload_roots
from ..context import Stopped, Studio, session_of
from ..fields import Number, Slider, result_column, run_buttons
from ..media import Previews
from ..work import MOTION_FROM_PROMPT, MOTION_OFF, check_seed, motion_settings, number, save_outputs, user_errors, \
    with_progress
from .generate import EXAMPLES, motion_controls
from .tune import base_clip, check_caption

TARGET = "a blue circle moving left on a black background"
HEADERS = ["attribute", "clip", "asked", "judged", "verdict"]


def load_input(studio: Studio, source, world_prompt, world_seed, upload, roots=None) -> tuple:
    """The clip to edit at the model's size: ((3, F, S, S) in [0, 1], fps, what it is for the sidecar)."""
    clip = base_clip(studio)
    video, fps, what = load_clip(source, world_prompt, world_seed, upload, roots, clip)
    if source == WORLD:
        return video.permute(1, 0, 2, 3), fps, what
    fitted = fit_clip(video, clip["size"], clip["frames"])  # evenly spaced frames over the whole clip:
    fps = min(30.0, max(0.5, clip["frames"] * fps / video.shape[0]))  # its duration is kept
    return fitted, round(fps, 3), what


def verdict(studio: Studio, world: dict, prompt: str, edited: torch.Tensor, clip: torch.Tensor, fps: float,
            motion: str | None = None):
    """For a world clip: (rows per attribute, summary, the world's ideal edit (F, 3, H, W) or None, record).
    `motion`: a world motion chosen in the Motion controls, asked for in place of the prompt's."""
    spec = ClipSpec.from_dict(world["spec"])
    try:
        asked = parse_prompt(prompt)
    except ValueError as e:  # words the model knows that make no world clip ("a red blue circle")
        return [], f"Not judged: the target prompt is not a world prompt ({e}).", None, None
    if len(spec.objects) != 1 or len(asked.objects) != 1:
        return [], "Not judged: the judge looks at one object, and this edit has two.", None, None
    source = spec.attributes()
    want = {**source, **asked.attributes(), **({"motion": motion} if motion in MOTIONS else {})}
    changed = [k for k in want if want[k] != source[k]]
    judged = studio.judge().predict(edited.permute(1, 0, 2, 3)[None])[0]  # f c h w -> 1 c f h w
    ok = {k: judged[k] == want[k] for k in want}
    rows = [[k, source[k], want[k], judged[k], ("changed ✓" if ok[k] else "change missed ✗") if k in changed
             else ("kept ✓" if ok[k] else "lost ✗")] for k in want]
    kept = [k for k in want if k not in changed]
    tc = float(tcc(edited.permute(1, 0, 2, 3)[None], clip[None])[0])
    took = all(ok[k] for k in changed) if changed else None
    summary = (f"**Change {'took' if took else 'did not take'}** ({', '.join(f'{k} → {want[k]}' for k in changed)})"
               if changed else "**The target prompt asks for no change** from the clip")
    summary += f" · **kept {sum(ok[k] for k in kept)} of {len(kept)}** other attributes · TCC against the input " \
               f"{tc:.3f}"
    ideal = None
    try:
        obj = dataclasses.replace(spec.objects[0], **{k: v for k, v in want.items() if k != "background"})
        ideal = render(ClipSpec((obj,), want["background"]), edited.shape[-1], fps, edited.shape[0])
    except (SpecError, ValueError):
        pass  # the asked attributes make no world clip (an invisible colour on that background)
    record = {"changed": changed, "took": took, "kept": {k: ok[k] for k in kept}, "judged": judged,
              "tcc_vs_input": round(tc, 4)}
    return rows, summary, ideal, record


@dataclasses.dataclass(frozen=True)
class EditRequest:
    """The Edit tab's settings, checked (`check_request`): what one edit runs with."""
    source_prompt: str
    prompt: str
    mode: str
    tune_steps: int
    strength: float
    guidance: float
    steps: int
    seed: int

    @property
    def tuning(self) -> bool:
        """Whether the mode is tuned on the clip first (zero-shot, or 0 tune steps, skips it)."""
        return self.mode != "zero-shot" and self.tune_steps > 0


def check_request(studio: Studio, source_prompt, prompt, mode, tune_steps, strength, guidance, steps,
                  seed) -> EditRequest:
    """The settings as the page sent them, checked in the page's order (a ValueError says what is wrong)."""
    source_prompt = check_caption(studio, check_prompt(source_prompt, "the source prompt"))
    prompt = check_caption(studio, check_prompt(prompt, "the target prompt"))
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    return EditRequest(source_prompt, prompt, mode, number(tune_steps, "tune steps", int, 0, 500),
                       number(strength, "strength", float, 0.02, 1.0), number(guidance, "guidance", float, 0.0, 20.0),
                       number(steps, "steps", int, 1, 100), check_seed(seed))


def edit_work(studio: Studio, asked: EditRequest, clip: torch.Tensor, plan, stop, previews: Previews):
    """The edit as `with_progress` runs it, and its steps in all: work(emit) returns edit_clip's (edited, done),
    emitting each tuning, inversion and sampling step with its preview, and stops (Stopped) once `stop` is set."""
    parts = edit_steps(asked.steps, asked.strength, asked.tune_steps if asked.tuning else 0, plan is not None)
    first, k, again, total = parts["tune"], parts["invert"], parts["plan"], sum(parts.values())
    m = studio.model

    def work(emit):
        def on_tune_step(step, loss):
            if stop.is_set():
                raise Stopped(step, total)
            emit("step", f"tuning {asked.mode} on the clip: step {step} of {asked.tune_steps}", step, None)

        def on_invert(_, i, t, kw):
            if stop.is_set():
                raise Stopped(first + i + 1, total)
            emit("step", f"inverting the clip: step {i + 1} of {k}", first + i + 1, None)

        def on_sample(_, i, t, kw):
            if stop.is_set():
                raise Stopped(first + k + i + 1, total)
            label = f"sampling the edit: step {i + 1} of {k}" if i < k else \
                f"following the motion plan: step {i + 1 - k} of {again}"
            emit("step", label, first + k + i + 1, previews(kw["latents"], final=i + 1 == k + again))

        return edit_clip(clip, asked.source_prompt, asked.prompt, asked.mode, first, None, asked.strength, asked.steps,
                         asked.guidance, None, asked.seed, m.get("model"), studio.outputs.root / "edit-cache", LR,
                         m.get("device") or "cpu", m.get("dtype") or "fp32", plan, None, studio.base_hash(),
                         on_tune_step, on_invert, on_sample)

    return work, total


def edit(studio: Studio, source, world_prompt, world_seed, upload, source_prompt, prompt, mode, tune_steps, strength,
         guidance, steps, seed, history, request=None, progress=None, roots=None, motion=None):
    """Generator: yields {preview} while it tunes, inverts and samples, then
    (side by side, verdict, table, files, record, preview, history). `motion`: the Motion controls (motion, speed,
    path; work.motion_settings): with a plan, the edited frame 0 is carried along it and sampled again."""
    with user_errors():
        asked = check_request(studio, source_prompt, prompt, mode, tune_steps, strength, guidance, steps, seed)
        start = time.perf_counter()
        clip, fps, what = load_input(studio, source, world_prompt, world_seed, upload, roots)
        moves = motion_settings(*(motion or (MOTION_FROM_PROMPT if MOTION_PLAN else MOTION_OFF, 1.0, "")))
        plan = motion_plan_for(asked.prompt, clip.shape[1], fps, asked.seed, moves["motion"], moves["speed"],
                               moves["path"], moves["motion_plan"])
        read = time.perf_counter() - start
        stop = studio.stop_flag(session_of(request) + ":edit")
        stop.clear()
        previews = Previews(studio.outputs.new("edit-preview", ".png"))
        work, total = edit_work(studio, asked, clip, plan, stop, previews)
        (edited, done), image = yield from with_progress(work, total, progress, outputs=7, preview=5)
        rows, summary, ideal, judged = [], "Not judged: the verdict needs a world clip, whose attributes are known.", \
            None, None
        if "world" in what:
            rows, summary, ideal, judged = verdict(studio, what["world"], asked.prompt, edited, clip, fps,
                                                   moves["motion"])
    tiles = [clip.permute(1, 0, 2, 3), edited] + ([ideal] if ideal is not None else [])
    names = ["input", "edited"] + (["asked (world)"] if ideal is not None else [])
    seconds = {"read": read, **done.pop("seconds")}
    record = {"kind": "edit", **what, "input_hash": tensor_hash(clip), "source_prompt": asked.source_prompt,
              "prompt": asked.prompt, "negative_prompt": None, **done, "frames": clip.shape[1], "fps": fps,
              "motion": moves["motion"], "speed": moves["speed"], "path": moves["path"],
              "motion_plan": moves["motion_plan"], "plan": plan.to_dict() if plan else None,
              "model": studio.model.get("model"), "size": list(clip.shape[-2:]), "verdict": judged,
              "note": "the edit is at the model's resolution (the clip is centre-cropped to a square and resized)",
              "seconds": {k: round(v, 3) for k, v in seconds.items()}}
    shown, files, history = save_outputs(studio, "edit", edited, fps, tiles, names, record, history,
                                         extra={"input": clip.permute(1, 0, 2, 3)}, model=record["mode"])
    yield shown, summary, {"headers": HEADERS, "data": rows}, files, record, image, history


def _frames(studio: Studio, *clip_input) -> tuple[torch.Tensor, float]:
    """The clip as it will be edited, as frames (F, 3, S, S), and its fps: what the page shows."""
    clip, fps, _ = load_input(studio, *clip_input)
    return clip.permute(1, 0, 2, 3), fps


def build(studio: Studio, history: gr.State) -> dict:
    clip = base_clip(studio)
    roots = upload_roots(studio)
    with gr.Tab("Edit", id="edit", elem_id="tab-edit"):
        gr.Markdown(f"One-shot editing: a mode is tuned on the clip with its source prompt, the clip is inverted "
                    f"part-way into the noise (*strength*), and the target prompt is sampled back from there. The edit "
                    f"is {clip['frames']} frames at {clip['size']}×{clip['size']} (the clip centre-cropped and "
                    f"resized). On this CPU a SimDA tuning step takes about 0.27 s (the default {TUNE_STEPS}: about "
                    f"{TUNE_STEPS * 0.27:.0f} s, bench/results/edit.md); *zero-shot* or 0 tune steps skips it.")
        with gr.Row():
            with gr.Column(scale=1):
                picker = clip_picker(studio, "edit", lambda *a: _frames(studio, *a),
                                     "The clip as it will be edited", roots)
                source_prompt = gr.Textbox(label="Source prompt (what the clip shows)", value=EXAMPLES[0])
                prompt = gr.Textbox(label="Target prompt (what it should show)", value=TARGET)
                mode = gr.Dropdown([(f"{k}: {v.summary}", k) for k, v in MODES.items()], value=MODE,
                                   label="Mode tuned on the clip")
                with gr.Row():
                    tune_steps = Number(label="Tune steps", value=TUNE_STEPS, precision=0, minimum=0, maximum=500,
                                        elem_id="edit-tune-steps")
                    seed = Number(label="Seed (−1: random)", value=0, precision=0, minimum=-1)
                strength = Slider(0.02, 1.0, value=STRENGTH, step=0.02, label="Strength (how far it is inverted)")
                guidance = Slider(0.0, 20.0, value=GUIDANCE, step=0.5, label="Guidance")
                steps = Slider(1, 100, value=STEPS, step=1, label="Steps", elem_id="edit-steps",
                               info="over the whole schedule: inverting and sampling each take strength × steps")
                motion = motion_controls("edit", plan=MOTION_PLAN, methods=False)
                go, stop = run_buttons("Edit")
            with gr.Column(scale=2):
                preview, video, summary, table, files, record = result_column(
                    "edit", "Input and edit, side by side",
                    "the edit, its JSON sidecar, the side-by-side clip, the input as edited", HEADERS,
                    "The judge's verdict", summary_id="edit-verdict")

        def run(source, world_prompt, world_seed, upload, source_prompt, prompt, mode, tune_steps, strength, guidance,
                steps, seed, motion, speed, path, history, request: gr.Request, progress=gr.Progress()):
            yield from edit(studio, source, world_prompt, world_seed, upload, source_prompt, prompt, mode, tune_steps,
                            strength, guidance, steps, seed, history, request, progress, roots, (motion, speed, path))

        clip_inputs = picker.inputs
        picker.world_prompt.change(lambda p: p, picker.world_prompt, source_prompt, api_visibility="private",
                                   queue=False)
        inputs = clip_inputs + [source_prompt, prompt, mode, tune_steps, strength, guidance, steps, seed]
        event = go.click(run, inputs + motion + [history], [video, summary, table, files, record, preview, history],
                         api_name="edit", concurrency_limit=1, concurrency_id="edit", show_progress_on=preview)
        event.success(lambda r: gr.Dataframe(visible=bool(r and r.get("verdict"))), record, table,
                      api_visibility="private", queue=False)  # the table only for a judged edit

        def halt(request: gr.Request):
            studio.stop(session_of(request) + ":edit")

        stop.click(halt, None, None, api_visibility="private", queue=False)
    return {"inputs": inputs, "motion": motion}
