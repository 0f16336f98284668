"""Progress counts every denoising step a generation runs, known before it starts: a motion plan's own pass of
frame 0, the frame method's part-way start, windows made one after another, a given first frame, the temporal
pyramid entered part-way (engine.generate.generation_steps against the callbacks of a real run)."""
import imageio.v3 as iio
import numpy as np
import pytest

from engine.edit import edit_clip, edit_steps
from engine.generate import generate_video, generation_steps
from engine.motion import motion_plan_for
from engine.world import prompt_to_spec, render

MOVING = "a red circle moving right on a black background"
CASES = {
    "no plan": {"motion_plan": False},
    "plan, frame method": {},
    "plan, noise method": {"motion_method": "noise"},
    "no motion words": {"prompt": "a red circle on a black background"},
    "a camera move": {"prompt": "a red circle on a black background", "motion": "zoom-in"},
    "autoregressive windows along a plan": {"frames": 6, "context_window": 4, "long_method": "autoregressive",
                                            "context_overlap": 2},
    "independent chunks": {"frames": 6, "context_window": 4, "long_method": "chunks", "context_overlap": 2,
                           "motion_plan": False},
    "fused windows along a plan": {"frames": 6, "context_window": 4, "long_method": "windows", "context_overlap": 2},
    "pyramid along a plan": {"pyramid": 0, "steps": 6},
    "pyramid": {"pyramid": 0, "steps": 6, "motion_plan": False},
    "a given first frame": {"image": "first.png"},
}
PIPES: dict = {}  # one load of each pipeline for every case (generate_video's pipe_cache)


@pytest.mark.parametrize("case", list(CASES))
def test_the_steps_counted_ahead_are_the_steps_run(case, tmp_path):
    settings = {"prompt": MOVING, "frames": 4, "steps": 4, "guidance": 1.0, "seed": 0, **CASES[case]}  # no CFG: fast
    if "image" in settings:
        settings["image"] = str(tmp_path / settings["image"])
        iio.imwrite(settings["image"], np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    ran = []
    generate_video(tmp_path / "clip.mp4", callback=lambda pipe, i, t, kw: ran.append(kw["latents"].shape[2]),
                   pipe_cache=PIPES, **settings)
    assert len(ran) == generation_steps(**settings)
    if settings.get("motion_plan", True) and "image" not in settings and case != "no motion words":
        steps = settings["steps"]  # frame 0 alone first, reported with its own latents, then the clip's frames
        assert ran[:steps] == [1] * steps and ran[steps] > 1


@pytest.mark.parametrize("planned", [False, True])
def test_an_edits_steps_counted_ahead_are_the_steps_run(planned, tmp_path):
    """engine.edit.edit_steps (the Edit tab's progress total) against the callbacks of a real zero-shot edit."""
    clip = render(prompt_to_spec(MOVING, 0), 32, 2.0, 4).permute(1, 0, 2, 3)  # (3, F, S, S) in [0, 1]
    plan = motion_plan_for("a blue circle moving right on a black background", 4, 2.0, 0) if planned else None
    inverted, sampled = [], []
    edit_clip(clip, MOVING, "a blue circle moving right on a black background", "zero-shot", steps=6, strength=0.5,
              guidance=1.0, cache_dir=tmp_path, plan=plan, on_invert_step=lambda *a: inverted.append(a[1]),
              callback=lambda *a: sampled.append(a[1]) or {})
    parts = edit_steps(6, 0.5, planned=planned)
    assert parts["tune"] == 0 and len(inverted) == parts["invert"] == 3
    assert len(sampled) == parts["sample"] + parts["plan"] and (parts["plan"] > 0) == planned
