"""Upscale: video super-resolution ×4 with the inflated SR model (Inflation §3.1) in one of its modes: zero-shot
(the image SR model frame by frame), full or temporal (tuned on world clips). The clip runs in segments of 8 frames
that share one frame (MPL-Video §3.5). Bicubic upsampling plays beside the result and, for a world clip, the world
rendered at the high resolution, which the table scores both against (PSNR, SSIM, TCC).

The models run through engine.upscale (the task behind `flipbook upscale`): the image SR model in assets/sr/image,
the tuned video modes in assets/sr/video-MODE (or under the studio's `sr_dir`); a mode whose folder is missing is
not offered.
"""
from __future__ import annotations

import json
import time

import gradio as gr
import torch

from engine.models.sr import upsample
from engine.pipelines.upscale import segments
from engine.registry import TRAINS
from engine.upscale import upscale_clip

from ..clip_input import UPLOADED, clip_picker, load_clip, scale_down, upload_roots, world_truth
from ..context import Stopped, Studio, session_of
from ..fields import Number, Slider, open_choices, result_column, run_buttons
from ..media import Previews
from ..scores import HEADERS, best, score_rows, table
from ..stages import root, upscale_modes
from ..work import check_seed, number, save_outputs, user_errors, with_progress

MODES = ("zero-shot", "full", "temporal")
WORLD_CLIP = {"size": 32, "fps": 8.0, "frames": 15}  # two segments of 8 frames sharing one
MAX_FRAMES, MAX_SIDE = 32, 64  # an uploaded clip: its first 32 frames, scaled down to 64 pixels a side
STEPS, SEGMENT = 20, 8  # SEGMENT: engine.pipelines.upscale.SEGMENT, repeated to keep this import light
TILE = 256  # 128² results shown at 2×


def model_scale(studio: Studio) -> int:
    """The image SR model's factor (4 for the embedded one; 4 when there is none yet)."""
    record = root(studio, "sr") / "image" / "sr.json"
    return int(json.loads(record.read_text()).get("scale", 4)) if record.is_file() else 4


def models_note(studio: Studio) -> str:
    have = upscale_modes(studio)
    if not have:
        return f"**No super-resolution model is here yet**: `{TRAINS['sr/image']}` trains the image model (then reload " \
               "the page)."
    missing = [m for m in MODES if m not in have]
    if not missing:
        return "Every mode is tuned: *zero-shot*, *full* and *temporal*."
    commands = "; ".join(f"`flipbook train-sr-video --mode {m}`" for m in missing)
    return f"Not tuned yet: *{', '.join(missing)}* ({commands}; then reload the page). *zero-shot* runs the image " \
           "model frame by frame."


def check_mode(studio: Studio, mode) -> str:
    have = upscale_modes(studio)
    if not have:
        raise ValueError(f"no super-resolution model is here yet; train one with `{TRAINS['sr/image']}`")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(have)}")
    if mode not in have:
        raise ValueError(f"mode {mode} is not tuned yet: `flipbook train-sr-video --mode {mode}` makes it (then "
                         f"reload the page); or choose {' or '.join(have)}")
    return mode


def load_low(source, world_prompt, world_seed, upload, roots=None) -> tuple[torch.Tensor, float, dict]:
    """The clip to upscale (F, 3, h, w) in [0, 1], its fps, and what it is (with notes on what was done)."""
    video, fps, what = load_clip(source, world_prompt, world_seed, upload, roots, WORLD_CLIP)
    if source == UPLOADED:
        notes = []
        if video.shape[0] > MAX_FRAMES:
            notes.append(f"the first {MAX_FRAMES} frames of {video.shape[0]} upscaled (this tab's limit)")
            video = video[:MAX_FRAMES]
        video, scaled = scale_down(video, MAX_SIDE)
        what = {**what, "notes": notes + scaled}
    return video, float(fps), what


def bicubic(low: torch.Tensor, scale: int) -> torch.Tensor:
    """(F, 3, h, w) in [0, 1] -> (F, 3, s·h, s·w): the baseline (and what a residual model adds to)."""
    return (upsample(low * 2 - 1, (low.shape[-2] * scale, low.shape[-1] * scale), "bicubic") / 2 + 0.5).clamp(0, 1)


def run_mode(studio: Studio, mode: str, low: torch.Tensor, prompt: str, steps: int, seed: int, emit, stop,
             total: int, previews: Previews) -> tuple[torch.Tensor, dict]:
    """The upscaler on the clip (edge-padded to the UNet's multiple, cropped back): (frames, what to record)."""
    m, folder, done = studio.model, root(studio, "sr"), [0]

    def on_step(_, i, t, kw):
        if stop.is_set():
            raise Stopped(done[0] + 1, total)
        done[0] += 1
        emit("step", f"segment {(done[0] - 1) // steps + 1}: step {i + 1} of {steps}", done[0],
             previews(kw["frames"], final=i + 1 == steps))

    frames, notes, record = upscale_clip(low, prompt, mode=mode, steps=steps, segment_frames=SEGMENT, seed=seed,
                                         max_side=MAX_SIDE, model=folder / "image",
                                         tuned=None if mode == "zero-shot" else folder / f"video-{mode}",
                                         device=m.get("device") or "cpu", dtype=m.get("dtype") or "fp32",
                                         callback=on_step)
    return frames, {"hashes": record["model_hashes"], "notes": notes, "scale": record["model_scale"],
                    "noise_level": record["noise_level"], "residual": record["residual"],
                    "load": record["seconds"]["load"], "seconds": record["seconds"]["upscale"]}


def _summary(low, high, fps, mode, done, rows, truth, notes) -> str:
    text = (f"**×{done['scale']}: {low.shape[-1]}×{low.shape[-2]} → {high.shape[-1]}×{high.shape[-2]}**, "
            f"{low.shape[0]} frames at {fps:g} fps in {len(segments(low.shape[0], SEGMENT))} segments · {mode}: "
            f"{done['seconds']:.1f} s")
    top = best(rows) if truth is not None else None
    if top is not None:
        text += f" · closest to the ground truth: **{top['clip']}** ({top['PSNR (dB)']} dB)"
    return text + "".join(f"\n\n*Note: {n}.*" for n in notes)


def upscale(studio: Studio, source, world_prompt, world_seed, upload, mode, steps, seed, history, request=None,
            progress=None, roots=None):
    """Generator: yields {preview} while it samples, then (side by side, summary, table, files, record, preview,
    history)."""
    with user_errors():
        mode = check_mode(studio, mode)
        steps = number(steps, "steps", int, 1, 100)
        seed = check_seed(seed)
        start = time.perf_counter()
        low, fps, what = load_low(source, world_prompt, world_seed, upload, roots)
        read = time.perf_counter() - start
        prompt = what.get("world", {}).get("prompt", "")
        stop = studio.stop_flag(session_of(request) + ":upscale")
        stop.clear()
        previews = Previews(studio.outputs.new("upscale-preview", ".png"))
        spans = segments(low.shape[0], SEGMENT)
        total = steps * len(spans)

        def work(emit):
            return run_mode(studio, mode, low, prompt, steps, seed, emit, stop, total, previews)

        (high, done), image = yield from with_progress(work, total, progress, outputs=7, preview=5)
    t0 = time.perf_counter()
    base = bicubic(low, done["scale"])
    clips = [("bicubic", base, time.perf_counter() - t0), (mode, high, done["seconds"])]
    truth = world_truth(what, tuple(high.shape[-2:]), fps, low.shape[0])
    rows = score_rows(clips, truth)
    tiles, names = [base, high], ["bicubic", mode]
    if truth is not None:
        tiles, names = tiles + [truth], names + ["ground truth"]
    notes = what.get("notes", []) + done["notes"]
    record = {"kind": "upscale", **{k: v for k, v in what.items() if k != "notes"}, "notes": notes, "prompt": prompt,
              "mode": mode, "steps": steps, "seed": seed, "scale": done["scale"], "noise_level": done["noise_level"],
              "segment_frames": SEGMENT, "segments": spans, "guidance": 1.0, "scheduler": "dpm++", "noise_share": 1.0,
              "consistency": 3, "frames": low.shape[0], "fps": fps, "input_size": list(low.shape[-2:]),
              "size": list(high.shape[-2:]), "ground_truth": truth is not None, "sr": str(root(studio, "sr")),
              "model_hashes": done["hashes"], "metrics": rows,
              "seconds": {"read": round(read, 3), "load": round(done["load"], 3), "upscale": round(done["seconds"], 3)}}
    shown, files, history = save_outputs(studio, "upscale", high, fps, tiles, names, record, history,
                                         tile_size=TILE, extra={"bicubic": base}, model=mode)
    yield shown, _summary(low, high, fps, mode, done, rows, truth, notes), table(rows), files, record, image, history


def build(studio: Studio, history: gr.State) -> dict:
    roots = upload_roots(studio)
    have, scale = upscale_modes(studio), model_scale(studio)
    high = WORLD_CLIP["size"] * scale
    with gr.Tab("Upscale", id="upscale", elem_id="tab-upscale"):
        gr.Markdown(f"Video super-resolution ×{scale} (a world clip: {WORLD_CLIP['frames']} frames of "
                    f"{WORLD_CLIP['size']}² at {WORLD_CLIP['fps']:g} fps → {high}²), in segments of {SEGMENT} "
                    "frames that share one. *zero-shot* is the image SR model on every frame; *full* and "
                    "*temporal* are tuned on world clips (every weight, or a temporal adapter only). Bicubic "
                    f"upsampling plays beside the result and, for a world clip, the world rendered at {high}². Any "
                    f"clip goes: larger ones are scaled down to {MAX_SIDE} pixels a side first, odd sizes are padded "
                    "and cropped back.")
        note = gr.Markdown(models_note(studio), elem_id="sr-models")
        with gr.Row():
            with gr.Column(scale=1):
                picker = clip_picker(studio, "upscale", lambda *a: load_low(*a)[:2], "The clip as it will be upscaled",
                                     roots, f"its first {MAX_FRAMES} frames are used")
                mode = open_choices(gr.Radio(have, value=have[0] if have else None, label="Mode", elem_id="sr-mode"))
                with gr.Row():
                    steps = Slider(1, 100, value=STEPS, step=1, label="Steps (per segment)", elem_id="sr-steps")
                    seed = Number(label="Seed (−1: random)", value=0, precision=0, minimum=-1)
                go, stop = run_buttons("Upscale")
            with gr.Column(scale=2):
                preview, video, summary, scores, files, record = result_column(
                    "sr", "Bicubic, the result and the ground truth, side by side",
                    "the result, its JSON sidecar, the side-by-side clip, bicubic", HEADERS,
                    "Against the ground truth (world clips) and time", preview="Step preview (the current segment)",
                    height=300)

        def run(source, world_prompt, world_seed, upload, mode, steps, seed, history, request: gr.Request,
                progress=gr.Progress()):
            yield from upscale(studio, source, world_prompt, world_seed, upload, mode, steps, seed, history, request,
                               progress, roots)

        def halt(request: gr.Request):
            studio.stop(session_of(request) + ":upscale")

        def refresh():
            """Modes tuned since the studio started become choices."""
            now = upscale_modes(studio)
            return gr.Radio(choices=now, value=now[0] if now else None), models_note(studio)

        inputs = picker.inputs + [mode, steps, seed]
        go.click(run, inputs + [history], [video, summary, scores, files, record, preview, history],
                 api_name="upscale", concurrency_limit=1, concurrency_id="upscale", show_progress_on=preview)
        stop.click(halt, None, None, api_visibility="private", queue=False)
    return {"inputs": inputs, "refresh": (refresh, [mode, note])}
