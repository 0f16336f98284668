"""The cascade as the Generate tab runs it (engine.cascade.run_cascade, `flipbook generate --cascade`): where each
stage's models are looked up, what the page says about them, and one run down to a depth with progress by stage and
step, and Stop.

The folders are the studio's `interp_dir`, `sr_dir`, `expert_dir` and `decoder_dir` when it has them, else the
loaders' own defaults (engine.models.interpolation.ASSET, engine.models.sr.ASSET, engine.models.expert.EXPERT_ASSET,
engine.models.decoder.ASSET: assets/interp, assets/sr, assets/expert, assets/decoder). Every depth is offered; one
whose model is missing answers with the command that trains it (run_cascade loads every stage's model before any
stage runs, so that comes at once).
"""
from __future__ import annotations

import re
import threading

from engine.cascade import STAGES, run_cascade, steps_by_stage
from engine.pipelines.translate import DETAIL_SIGMA

from engine.registry import DEFAULT_INTERP, INTERP_METHODS, MEASURED_WHY, MODEL_FREE_INTERP, STAGE_STEPS, TRAINS
from engine.sidecar import read_sidecar

from .context import Stopped, Studio, Variant
from .media import Previews, noisy_frames
from .stages import EXPERT, decoders, has_expert, interp_methods, root, upscale_modes
from .work import LIMITS, keyframe_total, number

DEPTHS = STAGES  # how far down the cascade a run goes: the last stage it runs
TOPS = (0, 256, 512)  # translation's output side: 0 keeps the upscaled clip's size; more goes up (MPL-Video's use)


def interp_method(studio: Studio) -> str:
    """The cascade's interpolation method here: the measured default (engine.registry.DEFAULT_INTERP), or the best
    model here when the default is a model (a missing one fails with the command that trains it)."""
    if DEFAULT_INTERP in MODEL_FREE_INTERP:
        return DEFAULT_INTERP
    return (interp_methods(studio) or [DEFAULT_INTERP])[0]


def stages_note(studio: Studio) -> str:
    """Which cascade stages have trained models now (and the model each runs), the command that trains each
    missing one, and why the defaults are what they are."""
    interp, sr, dec, expert = interp_methods(studio), upscale_modes(studio), decoders(studio), has_expert(studio)
    method = interp_method(studio)
    parts = ["**keyframes** ✓ (the tuning mode above)",
             f"**interpolate** ✓ ({method})" if method in MODEL_FREE_INTERP or method in interp else
             f"**interpolate** ✗ (`{TRAINS['interp/' + method]}`)",
             f"**upscale** ✓ ({sr[0]})" if sr else f"**upscale** ✗ (`{TRAINS['sr/image']}`)",
             f"**translate** ✓ (expert {EXPERT}, {dec[0] if dec else 'image'} decoder)" if expert else
             f"**translate** ✗ (`{TRAINS['expert']}`)"]
    more = [f"`{TRAINS['interp/' + m]}`" for m in INTERP_METHODS if m not in interp and m != method] + (
        [f"`{TRAINS['decoder']}` (a temporal decoder)"] if expert and not dec else [])
    return ("Cascade stages with trained models here: " + " · ".join(parts) + ". A depth whose model is missing "
            "answers with the command that trains it." + (f" Not trained yet: {'; '.join(more)}." if more else "")
            + f" Measured defaults: the cascade interpolates by {method}, since {MEASURED_WHY['interpolate']} (the "
            f"Interpolate tab compares them); it translates only when the depth translate is chosen, since "
            f"{MEASURED_WHY['translate']}.")


def stage_models(studio: Studio) -> dict:
    """run_cascade's model arguments: the studio's folders, the cascade's interpolation method and the best SR mode
    here."""
    m, sr, method = studio.model, upscale_modes(studio), interp_method(studio)
    mode = (sr or ["zero-shot"])[0]  # a missing model fails with its command
    chosen = {"model": m.get("model"), "device": m.get("device") or "cpu", "dtype": m.get("dtype") or "fp32",
              "interp": None if method in MODEL_FREE_INTERP else str(root(studio, "interp") / method),
              "interp_method": method,
              "sr": str(root(studio, "sr") / "image"), "sr_mode": mode,
              "sr_tuned": None if mode == "zero-shot" else str(root(studio, "sr") / f"video-{mode}"),
              "expert": str(root(studio, "expert") / EXPERT)}
    if m.get("decoder_dir"):  # else the engine takes the best embedded decoder made from the expert's VAE
        chosen["decoder"] = str(root(studio, "decoder") / decoders(studio)[0]) if decoders(studio) else "image"
    return chosen


def stage_plan(studio: Studio, depth: str, frames: int, steps: int, stage_steps: int,
               keyframes: int | None = None) -> dict[str, int]:
    """Each stage's denoising steps down to `depth` with this studio's models (what progress counts)."""
    return steps_by_stage(depth, frames, steps, stage_steps, interp_method=interp_method(studio), keyframes=keyframes)


def check_cascade(depth, stage_steps, pyramid: bool) -> tuple[str, int]:
    """The depth and the later stages' steps, or a ValueError that says what to change."""
    if depth not in DEPTHS:
        raise ValueError(f"unknown cascade depth {depth!r}; choose one of: {', '.join(DEPTHS)}")
    stage_steps = number(stage_steps, "steps of the later stages", int, *LIMITS["steps"])
    if depth != "keyframes" and pyramid:
        raise ValueError(f"the cascade samples its keyframes without the temporal pyramid: untick it to go down to "
                         f"{depth}, or choose the depth keyframes")
    if depth == "translate" and stage_steps < 2:  # SDEdit runs the last half of the steps: of 1, the whole schedule
        raise ValueError("translation runs the last half of the later stages' steps, from below the expert's t ≤ 900: "
                         "give the later stages at least 2 steps, or choose the depth upscale")
    return depth, stage_steps


def check_translate(depth: str, top, detail_sigma) -> dict:
    """run_cascade's `top` and `detail_sigma` from the page's two fields (0: the upscaled clip's size; 0: off), or a
    ValueError that says what to change; none before the translate stage, which alone uses them."""
    top = number(top or 0, "translate up to", int, 0, max(TOPS))
    detail_sigma = number(detail_sigma or 0, "detail σ", float, 0, DETAIL_SIGMA[1])
    if top not in TOPS:
        raise ValueError(f"translate up to one of {', '.join(map(str, TOPS[1:]))} pixels, or 0 for the upscaled "
                         f"clip's size; got {top}")
    if 0 < detail_sigma < DETAIL_SIGMA[0]:
        raise ValueError(f"detail σ is 0 (off) or from {DETAIL_SIGMA[0]:g} to {DETAIL_SIGMA[1]:g} pixels; got "
                         f"{detail_sigma:g}")
    if depth != "translate":
        return {}
    return {"top": top or None, "detail_sigma": detail_sigma or None}


def studio_message(error: FileNotFoundError) -> str:
    """The engine's missing-model message (it names the training command) with the page's way to stop earlier, not
    the command line's."""
    text = re.sub(r" \(or pass --\w+ FOLDER\)", "", str(error))
    return re.sub(r"or stop before it with --cascade-depth (\w+)$", r"or choose the depth \1", text)


def run(studio: Studio, variant: Variant, prompt: str, negative: str | None, seed: int, frames: int, steps: int,
        guidance: float, scheduler: str, depth: str, stage_steps: int, emit, stop: threading.Event,
        motion: dict | None = None, translate: dict | None = None):
    """The cascade down to `depth` from `variant`'s keyframes: (its mp4, frames (F, 3, H, W), its sidecar).
    `emit("step", desc, done, preview)` after every denoising step of every stage. Stop ends it at the next step
    of whichever stage runs (each stage's pipeline takes the step callback); the loading of the models, a VAE's
    encoding and decoding and SR's back-projection cannot be interrupted, so Stop pressed then takes effect at the
    next step or at the start of the next stage."""
    plan = stage_plan(studio, depth, frames, steps, stage_steps,
                      keyframe_total(studio, variant, prompt, seed, frames, steps, motion))
    total, names = sum(plan.values()), list(plan)
    done, current = [0, 0], ["keyframes"]  # steps done in all, steps done before this stage
    preview = Previews(studio.outputs.new("cascade-preview", ".png"))

    def on_stage(stage):
        if stop.is_set():
            raise Stopped(done[0] + 1, total)
        current[0], done[1] = stage, done[0]
        emit("step", f"{stage} (stage {names.index(stage) + 1} of {len(names)})", done[0], None)

    def on_step(_, i, t, kw):
        if stop.is_set():
            raise Stopped(done[0] + 1, total)
        done[0] += 1
        stage = current[0]
        desc = f"{stage} (stage {names.index(stage) + 1} of {len(names)}): step {done[0] - done[1]} of {plan[stage]}"
        final = done[0] - done[1] == plan[stage]
        emit("step", desc, done[0], preview(noisy_frames(kw.get("frames", kw["latents"])), final=final))

    try:
        path, video, _ = run_cascade(studio.outputs.new("cascade", model=variant.short), prompt, depth=depth, seed=seed,
                                     frames=frames, steps=steps, guidance=guidance, mode=variant.mode, tuned=variant.tuned,
                                     scheduler=scheduler, fps=variant.fps, negative_prompt=negative or None,
                                     stage_steps=stage_steps, on_stage=on_stage, callback_on_step_end=on_step,
                                     **stage_models(studio), **(motion or {}), **(translate or {}))
    except FileNotFoundError as e:
        raise FileNotFoundError(studio_message(e)) from None
    return path, video, read_sidecar(path)  # the record as written (as Generate's keyframes give it)
