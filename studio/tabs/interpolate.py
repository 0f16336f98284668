"""Interpolate: T keyframes → 4T−3 frames at 4× the rate, by the trained interpolation models (FusionFrames' group
model, MPL-Video's masked model; any of them, side by side) and three ways with no model: each keyframe held until
the next, linear blending, and tweening (each keyframe's object moved to the in-between time: the cascade's
default, which measures best). For a world clip the world's ground truth at the output rate plays beside them and the table
scores every clip against it (PSNR and SSIM on the frames between the keyframes, TCC on the whole clip).

The models run through engine.interpolate (the task behind `flipbook interpolate`), looked up in
assets/interp/METHOD (or the studio's `interp_dir`); a method whose folder is missing is not offered, and the page
says which command trains it.
"""
from __future__ import annotations

import time

import gradio as gr
import torch

from engine.interpolate import MODEL_FREE, interpolate_clip
from engine.models.interpolation import FACTOR, hold_keyframes, output_frames
from engine.registry import DEFAULT_INTERP, INTERP_METHODS, MEASURED_WHY, TRAINS

from ..clip_input import UPLOADED, clip_picker, load_clip, scale_down, upload_roots, world_truth
from ..context import Stopped, Studio, session_of
from ..fields import Number, Slider, open_choices, result_column, run_buttons
from ..media import Previews
from ..media import noisy_frames
from ..scores import HEADERS, best, score_rows, table
from ..stages import interp_methods, root
from ..work import check_seed, number, save_outputs, user_errors, with_progress

METHODS = INTERP_METHODS
KEYFRAMES = {"size": 32, "fps": 2.0, "frames": 8}  # a world clip: the keyframe model's clips
MAX_KEYFRAMES, MAX_SIDE, MAX_FPS = 16, 64, 120.0  # an uploaded clip: at most 16 keyframes (61 frames) of 64 pixels
STEPS, GUIDANCE = 20, 0.25  # DPM-Solver++ steps; FusionFrames' context guidance


def models_note(studio: Studio) -> str:
    """What the page says about the models: which are here, and the command that trains each missing one."""
    missing = [m for m in METHODS if m not in interp_methods(studio)]
    if not missing:
        return "Both interpolation models are trained: *group* (FusionFrames) and *masked* (MPL-Video)."
    commands = "; ".join(f"`{TRAINS['interp/' + m]}`" for m in missing)
    if len(missing) == len(METHODS):
        return f"**No interpolation model is trained yet**, so this tab shows the baselines only. Train them with " \
               f"{commands} (then reload the page)."
    return f"Not trained yet: *{', '.join(missing)}* ({commands}; then reload the page)."


def fit_keyframes(video: torch.Tensor, fps: float, name: str) -> tuple[torch.Tensor, float, list[str]]:
    """An uploaded clip as keyframes: at most MAX_KEYFRAMES evenly spaced frames (its duration kept) of at most
    MAX_SIDE pixels a side."""
    if video.shape[0] < 2:
        raise ValueError(f"{name} has {video.shape[0]} frame; interpolation needs at least 2 keyframes: upload a "
                         "clip of 2 or more frames")
    notes = []
    if video.shape[0] > MAX_KEYFRAMES:
        idx = torch.linspace(0, video.shape[0] - 1, MAX_KEYFRAMES).round().long()
        fps_kept = fps * (MAX_KEYFRAMES - 1) / (video.shape[0] - 1)
        notes.append(f"{MAX_KEYFRAMES} evenly spaced frames of {video.shape[0]} taken as the keyframes "
                     f"({fps_kept:.3g} fps, the clip's duration kept)")
        video, fps = video[idx], fps_kept
    if 4 * fps > MAX_FPS:
        raise ValueError(f"{name} plays at {fps:.3g} fps, so the result would play at {4 * fps:.3g}; upload a clip of "
                         f"at most {MAX_FPS / 4:g} fps (the keyframes of a smoother clip)")
    video, scaled = scale_down(video, MAX_SIDE)
    return video, round(fps, 3), notes + scaled


def load_keyframes(source, world_prompt, world_seed, upload, roots=None) -> tuple[torch.Tensor, float, dict]:
    """The keyframes (T, 3, H, W) in [0, 1], their fps, and what they are (with notes on what was done)."""
    video, fps, what = load_clip(source, world_prompt, world_seed, upload, roots, KEYFRAMES)
    if source == UPLOADED:
        video, fps, notes = fit_keyframes(video, fps, what["input"])
        what = {**what, "notes": notes}
    return video, fps, what


def check_methods(studio: Studio, methods) -> list[str]:
    methods = [methods] if isinstance(methods, str) else methods if methods is not None else []
    if not isinstance(methods, (list, tuple)) or not all(isinstance(m, str) for m in methods):
        raise ValueError(f"methods must be a list of names from: {', '.join(METHODS)} (or empty, for the baselines)")
    methods, have = list(dict.fromkeys(methods)), interp_methods(studio)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown interpolation method {m!r}; choose from: {', '.join(METHODS)} (or none, for "
                             "the baselines only)")
        if m not in have:
            raise ValueError(f"the {m} model is not trained yet: `{TRAINS['interp/' + m]}` makes it (then reload the page); "
                             "choose no method for the baselines only")
    return methods


def run_method(studio: Studio, method: str, keys: torch.Tensor, fps: float, steps: int, seed: int, emit,
               stop, done: int, total: int, previews: Previews) -> tuple[torch.Tensor, dict]:
    """One model on the keyframes: (frames (4T−3, 3, H, W), what to record). Emits each step; Stop → Stopped."""
    m = studio.model

    def on_step(_, i, t, kw):
        if stop.is_set():
            raise Stopped(done + i + 1, total)
        emit("step", f"{method}: step {i + 1} of {steps}", done + i + 1,
             previews(noisy_frames(kw["frames"]), final=i + 1 == steps))

    # m["model"]: a latent interpolator needs its base's VAE
    frames, record = interpolate_clip(keys, fps, method, root(studio, "interp") / method, steps, seed, GUIDANCE,
                                      device=m.get("device") or "cpu", dtype=m.get("dtype") or "fp32",
                                      model=m.get("model"), callback=on_step)
    options = {"skip": record["skip"]} if "skip" in record else {}
    return frames, {"hashes": record["model_hashes"], "options": options, "load": record["seconds"]["load"],
                    "seconds": record["seconds"]["interpolate"]}


def interpolate_methods(studio: Studio, methods: list[str], keys: torch.Tensor, fps: float, steps: int, seed: int,
                        emit, stop, previews: Previews, done: int = 0, total: int | None = None) -> dict:
    """{method: run_method(...)} for each method in turn, its steps counted on from `done` of `total` (default: these
    methods' steps alone)."""
    total = total or steps * len(methods)
    return {m: run_method(studio, m, keys, fps, steps, seed, emit, stop, done + i * steps, total, previews)
            for i, m in enumerate(methods)}


def method_clips(keys: torch.Tensor, methods: list[str], results: dict) -> list[tuple[str, torch.Tensor, float]]:
    """The ways with no model on keyframes (T, 3, H, W): each keyframe held, blending and tweening (timed here),
    then each method's result: (name, frames (4T−3, 3, H, W), seconds)."""
    baselines = []
    for name, make in (("keyframes held", hold_keyframes), *MODEL_FREE.items()):
        t0 = time.perf_counter()
        baselines.append((name, make(keys), time.perf_counter() - t0))
    return baselines + [(m, results[m][0], results[m][1]["seconds"]) for m in methods]


def between_keyframes(frames: int) -> list[int]:
    """The output frames between the keyframes (what PSNR and SSIM score: the keyframes are given)."""
    return [i for i in range(frames) if i % FACTOR]


def result_of(rows: list[dict], truth) -> tuple[str, str]:
    """The clip the tab gives as its result, and why: the one closest to the ground truth between the keyframes when
    there is a truth (a world clip), else the measured default (engine.registry.DEFAULT_INTERP), whichever models
    were ticked: they play beside it and come as files of their own."""
    top = best(rows) if truth is not None else None
    if top is not None:
        return top["clip"], f"closest to the ground truth between the keyframes ({top['PSNR (dB)']} dB)"
    return DEFAULT_INTERP, f"the measured default: {MEASURED_WHY['interpolate']}"


def describe(keys, fps, clip, out_fps, methods, results, result, why, notes) -> str:
    text = f"**{clip.shape[0]} frames at {out_fps:g} fps** from {keys.shape[0]} keyframes at {fps:g} fps"
    text += "".join(f" · {m}: {results[m][1]['seconds']:.1f} s" for m in methods)
    if not methods:
        text += " · no model chosen: each keyframe held, blend and tween"
    text += f" · the result is **{result}**, {why}"
    return text + "".join(f"\n\n*Note: {n}.*" for n in notes)


def interpolate(studio: Studio, source, world_prompt, world_seed, upload, methods, steps, seed, history,
                request=None, progress=None, roots=None):
    """Generator: yields {preview} while the models sample, then
    (side by side, summary, table, files, record, preview, history)."""
    with user_errors():
        methods = check_methods(studio, methods)
        steps = number(steps, "steps", int, 1, 100)
        seed = check_seed(seed)
        start = time.perf_counter()
        keys, fps, what = load_keyframes(source, world_prompt, world_seed, upload, roots)
        read = time.perf_counter() - start
        stop = studio.stop_flag(session_of(request) + ":interpolate")
        stop.clear()
        previews = Previews(studio.outputs.new("interpolate-preview", ".png"))

        def work(emit):
            return interpolate_methods(studio, methods, keys, fps, steps, seed, emit, stop, previews)

        results, image = yield from with_progress(work, steps * len(methods), progress, outputs=7, preview=5)
    out_fps, n = fps * FACTOR, output_frames(keys.shape[0])
    truth = world_truth(what, tuple(keys.shape[-2:]), out_fps, n)
    clips = method_clips(keys, methods, results)
    rows = score_rows(clips, truth, between_keyframes(n))
    result, why = result_of(rows, truth)
    tiles, names = [c for _, c, _ in clips], [name for name, _, _ in clips]
    if truth is not None:
        tiles, names = tiles + [truth], names + ["ground truth"]
    record = {"kind": "interpolate", **what, "prompt": what.get("world", {}).get("prompt", ""),
              "methods": methods, "labels": methods or ["baselines"], "result": result, "steps": steps, "seed": seed,
              "guidance": GUIDANCE, "scheduler": "dpm++", "keyframes": keys.shape[0], "frames": n, "fps_in": fps,
              "fps": out_fps, "size": list(keys.shape[-2:]), "ground_truth": truth is not None,
              **{f"{m}_options": results[m][1]["options"] for m in methods if results[m][1]["options"]},
              "interp": {m: str(root(studio, "interp") / m) for m in methods},
              "model_hashes": {m: results[m][1]["hashes"] for m in methods}, "metrics": rows,
              "metrics_note": "PSNR and SSIM on the frames between the keyframes, TCC on the whole clip",
              "seconds": {"read": round(read, 3), **{f"load {m}": round(results[m][1]["load"], 3) for m in methods},
                          **{m: round(results[m][1]["seconds"], 3) for m in methods}}}
    video = dict((n, c) for n, c, _ in clips)[result]
    extra = {m: results[m][0] for m in methods if m != result}  # each model's clip, a file of its own
    shown, files, history = save_outputs(studio, "interpolate", video, out_fps, tiles, names, record, history,
                                         extra=extra, model=result)
    summary = describe(keys, fps, video, out_fps, methods, results, result, why, what.get("notes", []))
    yield shown, summary, table(rows), files, record, image, history


def build(studio: Studio, history: gr.State) -> dict:
    roots = upload_roots(studio)
    have = interp_methods(studio)
    with gr.Tab("Interpolate", id="interpolate", elem_id="tab-interpolate"):
        gr.Markdown(f"Frame interpolation: {KEYFRAMES['frames']} keyframes become {4 * KEYFRAMES['frames'] - 3} "
                    f"frames at 4× the rate (a world clip: {KEYFRAMES['size']}² at {KEYFRAMES['fps']:g} fps → "
                    f"{4 * KEYFRAMES['fps']:g} fps). *group* (FusionFrames) predicts the three frames between every "
                    "two keyframes in one pass; *masked* (MPL-Video) denoises the whole clip with the keyframes "
                    "given. Beside them, with no model: each keyframe held, linear blending, and *tween*, each "
                    "keyframe's object moved to the in-between time (the cascade's default: it measures best, and "
                    "does not ghost where blending does); for a world clip, the ground truth at the output rate. "
                    "PSNR and SSIM score the frames between the keyframes.")
        note = gr.Markdown(models_note(studio), elem_id="interp-models")
        with gr.Row():
            with gr.Column(scale=1):
                picker = clip_picker(studio, "interpolate", lambda *a: load_keyframes(*a)[:2],
                                     "The keyframes as they will be interpolated", roots,
                                     f"up to {MAX_KEYFRAMES} frames are used")
                methods = open_choices(gr.CheckboxGroup(have, value=have, visible=bool(have), elem_id="interp-methods",
                                                        label="Methods (each side by side with the baselines)"))
                with gr.Row():
                    steps = Slider(1, 100, value=STEPS, step=1, label="Steps", elem_id="interp-steps")
                    seed = Number(label="Seed (−1: random)", value=0, precision=0, minimum=-1)
                go, stop = run_buttons("Interpolate")
            with gr.Column(scale=2):
                preview, video, summary, scores, files, record = result_column(
                    "interp", "Keyframes held, blend, tween, the models and the ground truth, side by side",
                    "the result, its JSON sidecar, the side-by-side clip, other methods", HEADERS,
                    "Against the ground truth (world clips) and time")

        def run(source, world_prompt, world_seed, upload, methods, steps, seed, history, request: gr.Request,
                progress=gr.Progress()):
            yield from interpolate(studio, source, world_prompt, world_seed, upload, methods, steps, seed, history,
                                   request, progress, roots)

        def halt(request: gr.Request):
            studio.stop(session_of(request) + ":interpolate")

        def refresh():
            """Models trained since the studio started become choices."""
            now = interp_methods(studio)
            return gr.CheckboxGroup(choices=now, value=now, visible=bool(now)), models_note(studio)

        inputs = picker.inputs + [methods, steps, seed]
        go.click(run, inputs + [history], [video, summary, scores, files, record, preview, history],
                 api_name="interpolate", concurrency_limit=1, concurrency_id="interpolate", show_progress_on=preview)
        stop.click(halt, None, None, api_visibility="private", queue=False)
    return {"inputs": inputs, "refresh": (refresh, [methods, note])}

