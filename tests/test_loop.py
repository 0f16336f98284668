"""The one denoising loop (engine.diffusion.loop): its order of work, its callbacks and Stop, and every pipeline
running it: each ends after the step in which `stop()` was asked, on the embedded models."""
import pytest
import torch

from engine.diffusion.loop import denoise_loop, pipeline_callback
from engine.pipelines.edit import EditPipeline
from engine.pipelines.interpolate import interpolation_pipeline
from engine.pipelines.load import keyframe_pipeline
from engine.pipelines.translate import translation_pipeline
from engine.pipelines.upscale import upscale_pipeline
from engine.registry import ASSETS
from engine.world import prompt_to_spec, render

PROMPT = "a red circle moving right on a black background"


def test_the_loop_predicts_steps_and_calls_back_in_order():
    seen = []
    predict = lambda x, t: seen.append(("predict", t)) or x * 0 + t
    step = lambda i, t, x, pred: seen.append(("step", i, t)) or x + pred
    on_step = lambda i, t, x: seen.append(("back", i)) or (x * 10 if i == 6 else None)  # None keeps the latents
    x = denoise_loop(torch.zeros(1), [1.0, 2.0], predict, step, on_step, first=5)
    assert seen == [("predict", 1.0), ("step", 5, 1.0), ("back", 5), ("predict", 2.0), ("step", 6, 2.0), ("back", 6)]
    assert x.item() == 30.0


def test_stop_is_asked_before_every_step():
    asked = iter([False, False, True])
    out = denoise_loop(torch.zeros(1), range(5), lambda x, t: x, lambda i, t, x, p: x + 1, stop=lambda: next(asked))
    assert out.item() == 2.0  # two steps, then stopped


def test_diffusers_callbacks_see_the_latents_and_what_else_is_given():
    got = []
    callback = lambda pipe, i, t, kw: got.append((pipe, sorted(kw))) or {"latents": kw["latents"] + 1}
    on_step = pipeline_callback("PIPE", callback, lambda x: {"frames": x})
    assert on_step(0, 1, torch.zeros(1)).item() == 1.0 and got == [("PIPE", ["frames", "latents"])]
    assert pipeline_callback("PIPE", None) is None


def _stopping_after(step: int, calls: list):
    """A diffusers callback that counts its calls and asks the pipeline to stop at step `step`."""
    def callback(pipe, i, t, kw):
        calls.append(i)
        if len(calls) == step + 1:
            pipe.stop()
        return kw
    return callback


def _world(size: int, frames: int) -> torch.Tensor:
    return render(prompt_to_spec(PROMPT, seed=0), size=size, fps=2.0, frames=frames)  # (F, 3, H, W)


@pytest.mark.parametrize("kind", ["keyframes", "pyramid", "group", "masked", "upscale", "translate"])
def test_every_pipeline_stops_after_the_step_stop_was_asked_in(kind):
    calls = []
    callback = _stopping_after(1, calls)
    if kind in ("keyframes", "pyramid"):
        tuned = ASSETS / "modes" / "pyramid-ddim" if kind == "pyramid" else None
        pipe, _ = keyframe_pipeline("ff-conv1d-attn1d-blocks", "ddim", tuned=tuned)
        pipe(PROMPT, num_frames=8, num_inference_steps=6, callback_on_step_end=callback,
             pyramid=3 if kind == "pyramid" else None, generator=torch.Generator().manual_seed(0))
    elif kind in ("group", "masked"):
        pipe, _ = interpolation_pipeline(kind)
        pipe(_world(32, 4), num_inference_steps=6, callback_on_step_end=callback)
    elif kind == "upscale":
        pipe, _ = upscale_pipeline()
        pipe(_world(32, 12)[None], PROMPT, num_inference_steps=6, segment_frames=4, callback_on_step_end=callback)
    else:
        pipe, _ = translation_pipeline()
        pipe(_world(128, 12)[None], PROMPT, strength=0.6, num_inference_steps=10, segment_frames=4,
             callback_on_step_end=callback)
    assert calls == [0, 1] and pipe.interrupt  # every later step and segment skipped
    pipe.start_run()  # what the next __call__ does first
    assert not pipe.interrupt


def test_an_edit_stops_in_its_sampling():
    pipe, _ = keyframe_pipeline("ff-conv1d-attn1d-blocks", "ddim")
    edit = EditPipeline(**pipe.components)
    calls = []
    clip = _world(32, 8).permute(1, 0, 2, 3)[None]  # (1, 3, F, H, W)
    edit(clip, PROMPT, PROMPT.replace("red", "blue"), num_inference_steps=8, strength=0.5,
         callback_on_step_end=_stopping_after(1, calls))
    assert calls == [0, 1]
