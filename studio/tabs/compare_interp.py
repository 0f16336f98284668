"""Compare, interpolation methods (`/compare_interpolation`): one prompt and seed's keyframes, generated once with one
tuning mode, interpolated by each chosen interpolation model (group, masked: whichever are trained) beside the ways
with no model (each keyframe held, linear blending, tweening), tiled in step with the world's ground truth at the
output rate first;
a table of the attributes the judge finds right, PSNR and SSIM of the frames between the keyframes and TCC against
the ground truth, and time. The interpolation itself is the Interpolate tab's (studio/tabs/interpolate.py)."""
from __future__ import annotations

import gradio as gr

from engine.models.interpolation import FACTOR
from engine.registry import INTERP_TWEEN

from ..context import Studio, session_of
from ..fields import Slider, open_choices
from ..media import Previews
from ..scores import ground_truth, score, score_rows, table
from ..stages import interp_methods
from ..work import (check_prompt, check_seed, check_settings, generate_one, number, save_outputs, user_errors,
                    with_progress)
from . import interpolate as interp

HEADERS = ["clip", "attributes right", "judged wrong", "PSNR (dB)", "SSIM", "TCC", "seconds"]
NOTE = "PSNR and SSIM on the frames between the keyframes, TCC on the whole clip, against the world's ground truth"


def sample(studio: Studio, variant, prompt, negative, seed, frames, steps, guidance, scheduler, methods,
           interp_steps, emit, stop, previews):
    """The keyframes once, then each method on them: ((mp4, frames (T, 3, H, W), sidecar), {method: result})."""
    def keyframe_step(_, i, n, shown):
        emit("step", f"keyframes ({variant.short}): step {i} of {n}", i, shown)

    keys = generate_one(studio, variant, prompt, negative, seed, frames, steps, guidance, scheduler,
                        emit=keyframe_step, stop=stop, kind="compare")
    total = steps + interp_steps * len(methods)
    return keys, interp.interpolate_methods(studio, methods, keys[1], variant.fps, interp_steps, seed, emit, stop,
                                            previews, done=steps, total=total)


def rows_of(studio: Studio, prompt: str, clips: list, truth) -> list[dict]:
    """Per (name, clip (4T − 3, 3, H, W), seconds): the attributes the judge finds right (one-object prompts), the
    scores against the ground truth (none without one), and the time."""
    judged = score(studio, prompt, [clip for _, clip, _ in clips], None)
    scored = score_rows(clips, truth, interp.between_keyframes(clips[0][1].shape[0]))
    return [{**row, "attributes right": j["attributes right"], "judged wrong": j["judged wrong"]}
            for row, j in zip(scored, judged)]


def compare_interpolation(studio: Studio, prompt, negative_prompt, seed, frames, steps, guidance, scheduler, mode,
                          methods, interp_steps, history, request=None, progress=None):
    """Generator: yields {preview} while the keyframes and the models sample, then
    (side by side, table, summary, files, record, preview, history)."""
    with user_errors():
        # 1. check the settings
        prompt, seed = check_prompt(prompt), check_seed(seed)
        frames, steps, guidance = check_settings(frames, steps, guidance)
        variant = studio.resolve(mode, owner=studio.owner(request))
        methods = interp.check_methods(studio, methods)
        interp_steps = number(interp_steps, "interpolation steps", int, 1, 100)
        stop = studio.stop_flag(session_of(request))  # Compare's Stop
        stop.clear()
        previews = Previews(studio.outputs.new("compare-preview", ".png"))

        # 2. the keyframes, then each method on them, in the background with progress
        def work(emit):
            return sample(studio, variant, prompt, negative_prompt, seed, frames, steps, guidance, scheduler, methods,
                          interp_steps, emit, stop, previews)

        total = steps + interp_steps * len(methods)
        ((native, keys, key_record), results), image = yield from with_progress(work, total, progress, outputs=7,
                                                                                preview=5)
    # 3. the baselines, the ground truth at the output rate, the scores
    fps, out_fps = variant.fps, variant.fps * FACTOR
    clips = interp.method_clips(keys, methods, results)
    truth = ground_truth(prompt, seed, clips[0][1], out_fps)
    rows = rows_of(studio, prompt, clips, truth)
    tiles = ([truth] if truth is not None else []) + [clip for _, clip, _ in clips]
    names = (["ground truth"] if truth is not None else []) + [name for name, _, _ in clips]
    record = {"kind": "compare-interpolation", "prompt": prompt, "negative_prompt": negative_prompt or None,
              "seed": seed, "frames": frames, "steps": steps, "guidance": guidance,
              "scheduler": key_record["scheduler"], "variant": mode, "mode": variant.mode,
              "keyframes_by": variant.label, "methods": methods, "labels": [name for name, _, _ in clips], "interp_steps": interp_steps,
              "interp_guidance": interp.GUIDANCE, "fps_in": fps, "fps": out_fps, "output_frames": clips[0][1].shape[0],
              "size": list(keys.shape[-2:]), "ground_truth": truth is not None, "metrics": rows, "metrics_note": NOTE,
              "model_hashes": {"keyframes": key_record["model_hashes"],
                               **{m: results[m][1]["hashes"] for m in methods}},
              "keyframes_clip": native.name,
              "seconds": {"keyframes": key_record["seconds"]["keyframes"],
                          **{m: round(results[m][1]["seconds"], 3) for m in methods}}}
    video = results[methods[0]][0] if methods else dict((n, c) for n, c, _ in clips)[INTERP_TWEEN]  # else tween
    shown, files, history = save_outputs(studio, "compare-interpolation", video, out_fps, tiles, names, record,
                                         history, extra={m: results[m][0] for m in methods[1:]},
                                         also=[native, native.with_suffix(".json")], model="-vs-".join(methods))
    text = f"Keyframes by **{variant.label}** ({key_record['seconds']['keyframes']:.1f} s). " + interp.describe(
        keys, fps, video, out_fps, methods, results, rows, truth, [])
    yield shown, table(rows, HEADERS), text, files, record, image, history


def controls(studio: Studio) -> dict:
    """The interpolation comparison's own inputs (inside the current column, hidden until it is chosen)."""
    have = interp_methods(studio)
    with gr.Group(visible=False) as group:
        mode = gr.Dropdown(studio.choices(), value=studio.default_key(), label="Keyframes by (tuning mode)",
                           allow_custom_value=True, elem_id="cmp-keyframes-mode")
        methods = open_choices(gr.CheckboxGroup(have, value=have, visible=bool(have), elem_id="cmp-interp-methods",
                                                label="Interpolation models (beside each keyframe held, blend and tween)"))
        note = gr.Markdown(interp.models_note(studio))
        steps = Slider(1, 100, value=interp.STEPS, step=1, label="Interpolation steps", elem_id="cmp-interp-steps")
    return {"group": group, "mode": mode, "methods": methods, "note": note, "steps": steps}


def refresh(studio: Studio):
    """Interpolation models trained since the studio started become choices."""
    now = interp_methods(studio)
    return gr.CheckboxGroup(choices=now, value=now, visible=bool(now)), interp.models_note(studio)
