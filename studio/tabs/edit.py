"""Edit: one-shot video editing (Tune-A-Video, SimDA §3.4) of an uploaded clip or a world clip. The mode is tuned
on the clip with its source prompt, the clip is DDIM-inverted part-way into the noise, then the target prompt is
sampled from there. The input and the edit play side by side in one clip; for a world clip the judge says whether
the change took and the other attributes stayed, and the world's rendering of the ideal edit plays beside them.

The steps are engine.edit's (`flipbook edit`); the tuned folders and nothing else are cached, under this studio's
output folder, so editing one clip with several prompts tunes it once."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import gradio as gr
import torch

from ..context import Stopped, Studio, session_of
from ..fields import Number, Slider
from ..media import enlarge, preview_strip, save_preview, side_by_side
from ..work import check_seed, history_entry, in_background, number, user_errors
from .generate import EXAMPLES
from .tune import base_clip, check_caption

WORLD = "a world clip"
UPLOADED = "my clip"
UPLOAD_TYPES = (".mp4", ".gif", ".webm", ".mov")
UPLOAD_MAX_MB = 32
UPLOAD_MAX_FRAMES, UPLOAD_MAX_PIXELS = 96, 854 * 480  # read whole as float32: at most ~0.5 GB
TARGET = "a blue circle moving left on a black background"
HEADERS = ["attribute", "clip", "asked", "judged", "verdict"]


def checked_upload(file, roots: tuple[Path, ...] | None = None) -> Path:
    """An uploaded clip's path: a video type, at most UPLOAD_MAX_MB, and (for the page) inside `roots`."""
    path = Path(getattr(file, "name", file) or "")
    if not file or not path.is_file():
        raise ValueError(f"upload a clip ({', '.join(t[1:] for t in UPLOAD_TYPES)}), or choose a world clip")
    if path.suffix.lower() not in UPLOAD_TYPES:
        raise ValueError(f"{path.name} is not a clip this tab takes; upload one of {', '.join(UPLOAD_TYPES)}")
    if path.stat().st_size > UPLOAD_MAX_MB * 2**20:
        raise ValueError(f"{path.name} is {path.stat().st_size / 2**20:.0f} MB; the limit is {UPLOAD_MAX_MB} MB: "
                         "trim or compress it first")
    if roots is not None and not any(path.resolve().is_relative_to(r.resolve()) for r in roots):
        raise ValueError(f"{path.name} was not uploaded to this studio; upload it again")
    return path


def load_input(studio: Studio, source, world_prompt, world_seed, upload, roots=None) -> tuple:
    """The clip to edit at the model's size: ((3, F, S, S) in [0, 1], fps, what it is for the sidecar)."""
    from engine.io import read_video
    from engine.training.clips import fit_clip
    from engine.validate import check_prompt
    from engine.world import prompt_to_spec, render

    clip = base_clip(studio)
    if source == WORLD:
        prompt = check_prompt(world_prompt)
        seed = number(world_seed, "world seed", int, 0, 2**31 - 1)
        spec = prompt_to_spec(prompt, seed)
        video = render(spec, clip["size"], clip["fps"], clip["frames"])
        return video.permute(1, 0, 2, 3), clip["fps"], {"input": f"world: {prompt} (seed {seed})", "world": {
            "prompt": prompt, "seed": seed, "spec": spec.to_dict()}}
    if source == UPLOADED:
        path = checked_upload(upload, roots)
        video, fps = read_video(path, UPLOAD_MAX_FRAMES, UPLOAD_MAX_PIXELS, UPLOAD_MAX_MB * 2**20)
        fitted = fit_clip(video, clip["size"], clip["frames"])  # evenly spaced frames over the whole clip:
        fps = min(30.0, max(0.5, clip["frames"] * fps / video.shape[0]))  # its duration is kept
        return fitted, round(fps, 3), {"input": path.name}
    raise ValueError(f"choose the clip: {WORLD!r} or {UPLOADED!r}")


def show_clip(studio: Studio, source, world_prompt, world_seed, upload, roots=None) -> str | None:
    """The chosen clip as it will be edited, enlarged for the page; None while no clip is uploaded yet."""
    from engine.io import write_video

    if source == UPLOADED and not upload:
        return None
    with user_errors():
        clip, fps, _ = load_input(studio, source, world_prompt, world_seed, upload, roots)
    return str(write_video(studio.outputs.new("edit-input"), enlarge(clip.permute(1, 0, 2, 3)), fps))


def verdict(studio: Studio, world: dict, prompt: str, edited: torch.Tensor, clip: torch.Tensor, fps: float):
    """For a world clip: (rows per attribute, summary, the world's ideal edit (F, 3, H, W) or None, record)."""
    from engine.metrics import tcc
    from engine.world import ClipSpec, SpecError, parse_prompt, render

    spec = ClipSpec.from_dict(world["spec"])
    try:
        asked = parse_prompt(prompt)
    except ValueError as e:  # words the model knows that make no world clip ("a red blue circle")
        return [], f"Not judged: the target prompt is not a world prompt ({e}).", None, None
    if len(spec.objects) != 1 or len(asked.objects) != 1:
        return [], "Not judged: the judge looks at one object, and this edit has two.", None, None
    source = spec.attributes()
    want = {**source, **asked.attributes()}
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


def edit(studio: Studio, source, world_prompt, world_seed, upload, source_prompt, prompt, mode, tune_steps, strength,
         guidance, steps, seed, history, request=None, progress=None, roots=None):
    """Generator: yields {preview} while it tunes, inverts and samples, then
    (side by side, verdict, table, files, record, preview, history)."""
    from engine.diffusion.inversion import inversion_steps
    from engine.edit import edit_pipeline, one_shot_tune
    from engine.io import write_video
    from engine.pipelines.edit import tensor_hash
    from engine.sidecar import write_sidecar
    from engine.training.clips import LR
    from engine.tuning import MODES
    from engine.validate import check_prompt

    with user_errors():
        source_prompt = check_caption(studio, check_prompt(source_prompt, "the source prompt"))
        prompt = check_caption(studio, check_prompt(prompt, "the target prompt"))
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        tune_steps = number(tune_steps, "tune steps", int, 0, 500)
        strength = number(strength, "strength", float, 0.02, 1.0)
        guidance = number(guidance, "guidance", float, 0.0, 20.0)
        steps = number(steps, "steps", int, 1, 100)
        seed = check_seed(seed)
        k = inversion_steps(steps, strength)  # inverting and sampling back each take k of the steps
        start = time.perf_counter()
        clip, fps, what = load_input(studio, source, world_prompt, world_seed, upload, roots)
        seconds = {"read": time.perf_counter() - start}
        tuning = mode != "zero-shot" and tune_steps > 0
        total = (tune_steps if tuning else 0) + 2 * k
        stop = studio.stop_flag(session_of(request) + ":edit")
        stop.clear()
        preview_path = studio.outputs.new("edit-preview", ".png")
        m = studio.model

        def work(emit):
            t0, tuned, first = time.perf_counter(), None, total - 2 * k  # progress: tuning, inverting, sampling

            def on_tune_step(step, loss):
                if stop.is_set():
                    raise Stopped(step, total)
                emit("step", f"tuning {mode} on the clip: step {step} of {tune_steps}", step, None)

            if tuning:
                tuned = one_shot_tune(clip, source_prompt, mode, tune_steps, model=m.get("model"), lr=LR, seed=seed,
                                      cache_dir=studio.outputs.root / "edit-cache", on_step=on_tune_step)
            seconds["tune"], t0 = time.perf_counter() - t0, time.perf_counter()
            pipe, hashes = edit_pipeline(mode if tuning else "zero-shot", tuned, m.get("model"),
                                         m.get("device") or "cpu", m.get("dtype") or "fp32")
            done = [first]  # EditPipeline reports no inversion steps: its first k UNet predictions are the inversion

            def counted(*args):
                if stop.is_set():
                    raise Stopped(done[0] + 1, total)
                if done[0] < first + k:
                    done[0] += 1
                    emit("step", f"inverting the clip: step {done[0] - first} of {k}", done[0], None)
                return predict(*args)

            def on_sample(_, i, t, kw):
                done[0] = first + k + i + 1
                emit("step", f"sampling the edit: step {i + 1} of {k}", done[0],
                     save_preview(preview_strip(kw["latents"]), preview_path))

            predict, pipe.predict = pipe.predict, counted
            edited = pipe(clip[None], source_prompt, prompt, None, steps, strength, guidance,
                          torch.Generator().manual_seed(seed), callback_on_step_end=on_sample).frames[0]
            seconds["edit"] = time.perf_counter() - t0
            return edited, tuned, hashes

        image = None
        for item in in_background(work):
            if item[0] == "step":
                _, desc, i, shown = item
                image = shown or image
                if progress is not None:
                    progress(i / total, desc=desc)
                yield (*[gr.skip()] * 5, shown or gr.skip(), gr.skip())
            else:
                edited, tuned, hashes = item[1]
        rows, summary, ideal, judged = [], "Not judged: the verdict needs a world clip, whose attributes are known.", \
            None, None
        if "world" in what:
            rows, summary, ideal, judged = verdict(studio, what["world"], prompt, edited, clip, fps)
    native = studio.outputs.new("edit")
    write_video(native, edited, fps)
    shown_in = write_video(native.with_name(native.stem + "-input.mp4"), clip.permute(1, 0, 2, 3), fps)
    tiles = [clip.permute(1, 0, 2, 3), edited] + ([ideal] if ideal is not None else [])
    names = ["input", "edited"] + (["asked (world)"] if ideal is not None else [])
    shown = write_video(native.with_name(native.stem + "-side-by-side.mp4"), side_by_side(tiles, names), fps)
    size = list(clip.shape[-2:])
    record = {"kind": "edit", **what, "input_hash": tensor_hash(clip), "source_prompt": source_prompt,
              "prompt": prompt, "negative_prompt": None, "mode": mode if tuning else "zero-shot",
              "tune_steps": tune_steps if tuning else 0, "tuned": str(tuned) if tuned else None, "lr": LR,
              "strength": strength, "steps": steps, "guidance": guidance, "frames": clip.shape[1], "seed": seed,
              "fps": fps, "model": m.get("model"), "size": size, "verdict": judged,
              "note": "the edit is at the model's resolution (the clip is centre-cropped to a square and resized)",
              "model_hashes": hashes, "seconds": {k_: round(v, 3) for k_, v in seconds.items()}}
    sidecar = write_sidecar(native, record)
    files = [str(native), str(sidecar), str(shown), str(shown_in)]
    history = (history or []) + [history_entry("edit", record, files, str(shown))]
    table = {"headers": HEADERS, "data": rows}
    yield str(shown), summary, table, files, record, image, history


def build(studio: Studio, history: gr.State) -> dict:
    from gradio.utils import get_upload_folder

    from engine.edit_settings import GUIDANCE, MODE, STEPS, STRENGTH, TUNE_STEPS
    from engine.tuning import MODES

    clip = base_clip(studio)
    roots = (Path(get_upload_folder()), studio.outputs.root)  # where the page's uploads may come from
    try:
        initial = show_clip(studio, WORLD, EXAMPLES[0], 0, None)
    except gr.Error:
        initial = None  # a model of one's own whose size the world cannot render: the page starts without it
    with gr.Tab("Edit", id="edit", elem_id="tab-edit"):
        gr.Markdown(f"One-shot editing: a mode is tuned on the clip with its source prompt, the clip is inverted "
                    f"part-way into the noise (*strength*), and the target prompt is sampled back from there. The edit "
                    f"is {clip['frames']} frames at {clip['size']}×{clip['size']} (the clip centre-cropped and "
                    f"resized). On this CPU a tuning step takes about a second; *zero-shot* or 0 tune steps skips it.")
        with gr.Row():
            with gr.Column(scale=1):
                source = gr.Radio([WORLD, UPLOADED], value=WORLD, label="Clip")
                with gr.Row():
                    world_prompt = gr.Dropdown(EXAMPLES, value=EXAMPLES[0], allow_custom_value=True, scale=4,
                                               label="World clip (a world prompt)", elem_id="edit-world")
                    world_seed = Number(label="World seed", value=0, precision=0, minimum=0, scale=1, min_width=90)
                upload = gr.File(label=f"Your clip ({', '.join(UPLOAD_TYPES)}; up to {UPLOAD_MAX_MB} MB, "
                                       f"{UPLOAD_MAX_FRAMES} frames, 480p)",
                                 file_types=list(UPLOAD_TYPES), type="filepath", visible=False)
                picked = gr.Video(initial, label="The clip as it will be edited", autoplay=True, loop=True, height=160,
                                  interactive=False)
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
                with gr.Row():
                    go = gr.Button("Edit", variant="primary", scale=3)
                    stop = gr.Button("Stop", variant="stop", scale=1)
            with gr.Column(scale=2):
                preview = gr.Image(label="Step preview", height=96, interactive=False, buttons=[])
                video = gr.Video(label="Input and edit, side by side", autoplay=True, loop=True, height=260,
                                 interactive=False, elem_id="edit-video")
                summary = gr.Markdown(elem_id="edit-verdict")
                table = gr.Dataframe(headers=HEADERS, label="The judge's verdict", interactive=False,
                                     elem_id="edit-table")
                files = gr.File(label="Download (the edit, its JSON sidecar, the side-by-side clip, the input as "
                                      "edited)", file_count="multiple", interactive=False)
                record = gr.JSON(label="Parameters (the sidecar)", max_height=240)

        def run(source, world_prompt, world_seed, upload, source_prompt, prompt, mode, tune_steps, strength, guidance,
                steps, seed, history, request: gr.Request, progress=gr.Progress()):
            yield from edit(studio, source, world_prompt, world_seed, upload, source_prompt, prompt, mode, tune_steps,
                            strength, guidance, steps, seed, history, request, progress, roots)

        def show(source, world_prompt, world_seed, upload):
            return show_clip(studio, source, world_prompt, world_seed, upload, roots)

        def chosen(source):
            return gr.Dropdown(visible=source == WORLD), gr.Number(visible=source == WORLD), \
                gr.File(visible=source == UPLOADED)

        clip_inputs = [source, world_prompt, world_seed, upload]
        source.change(chosen, source, [world_prompt, world_seed, upload], api_visibility="private", queue=False)
        for trigger in (source.change, world_prompt.change, world_seed.change, upload.change):
            trigger(show, clip_inputs, picked, api_visibility="private", concurrency_id="edit-show")
        world_prompt.change(lambda p: p, world_prompt, source_prompt, api_visibility="private", queue=False)
        inputs = clip_inputs + [source_prompt, prompt, mode, tune_steps, strength, guidance, steps, seed]
        go.click(run, inputs + [history], [video, summary, table, files, record, preview, history], api_name="edit",
                 concurrency_limit=1, concurrency_id="edit")

        def halt(request: gr.Request):
            studio.stop(session_of(request) + ":edit")

        stop.click(halt, None, None, api_visibility="private", queue=False)
    return {"inputs": inputs}
