"""Metrics on hand-computed cases: exact values where they can be derived, orderings where they cannot."""
import math

import numpy as np
import pytest
import torch

from engine.metrics import (attribute_accuracy, flicker, frechet_distance, judge_features, judder, psnr, ssim,
                            tcc)
from engine.metrics.degrade import blur, noise
from engine.world import prompt_to_spec, render, sample_split_spec


def clip(prompt="a red circle moving left on a black background", seed=0, size=32, frames=8):
    return render(prompt_to_spec(prompt, seed), size, 4, frames).permute(1, 0, 2, 3).unsqueeze(0)  # 1 3 f h w


def test_identical_clips_give_ssim_one_tcc_one_psnr_inf():
    v = clip()
    assert ssim(v, v).item() == pytest.approx(1.0, abs=1e-6)
    assert tcc(v, v).item() == pytest.approx(1.0, abs=1e-6)
    assert math.isinf(psnr(v, v).item())


def test_psnr_and_ssim_of_constant_frames_match_their_formulas():
    truth = torch.full((1, 3, 4, 16, 16), 0.5)
    gen = torch.full((1, 3, 4, 16, 16), 0.6)
    assert psnr(gen, truth).item() == pytest.approx(20.0, abs=1e-3)  # 10·log10(1 / 0.1²)
    c1 = 0.01 ** 2  # no variance: SSIM = (2ab + C1) / (a² + b² + C1)
    assert ssim(gen, truth).item() == pytest.approx((2 * 0.3 + c1) / (0.25 + 0.36 + c1), abs=1e-4)


def test_tcc_sees_only_temporal_change():
    v = clip()
    offset = v + 0.1  # every frame off by 0.1, every change between frames the same
    assert psnr(offset, v).item() == pytest.approx(20.0, abs=1e-3)
    assert tcc(offset, v).item() == pytest.approx(1.0, abs=1e-6)
    frozen = v[:, :, :1].expand_as(v)  # the first frame held: no change at all
    shifted = torch.roll(v, 1, dims=-1)  # same motion, one pixel over
    assert tcc(frozen, v).item() < tcc(shifted, v).item() < 1.0


def test_noise_and_shift_give_known_orderings():
    v = clip(size=48)
    g = torch.Generator().manual_seed(0)
    noisy = [(v + s * torch.randn(v.shape, generator=g)).clamp(0, 1) for s in (0.02, 0.05, 0.1)]
    p = [psnr(n, v).item() for n in noisy]
    s = [ssim(n, v).item() for n in noisy]
    assert p[0] > p[1] > p[2] and s[0] > s[1] > s[2]
    shifts = [ssim(torch.roll(v, k, dims=-1), v).item() for k in (1, 2, 4)]
    assert shifts[0] > shifts[1] > shifts[2]
    temporal = [tcc(torch.roll(v, k, dims=2), v).item() for k in (0, 1, 3)]  # frames out of order
    assert temporal[0] > temporal[1] > temporal[2]


def test_metric_inputs_are_checked():
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(clip(size=32), clip(size=16))
    with pytest.raises(ValueError, match="at least 2 frames"):
        tcc(clip(frames=1), clip(frames=1))


def test_frechet_distance_of_gaussians_matches_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (20000, 4))
    b = rng.normal(1, 2, (20000, 4))  # ‖μ‖² = 4; Tr(I + 4I − 2·2I) = 4
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, b) == pytest.approx(8.0, rel=0.03)


def test_judge_frechet_distance_is_zero_on_itself_and_grows_with_degradation(judge):
    videos = torch.cat([render(sample_split_spec("val", i)[0], 32, 2, 8).permute(1, 0, 2, 3)[None] for i in range(160)])
    other = torch.cat([render(sample_split_spec("val", i)[0], 32, 2, 8).permute(1, 0, 2, 3)[None] for i in range(160, 320)])
    feats = judge_features(judge, videos)
    assert frechet_distance(feats, feats) < 1e-6 * max(1.0, np.trace(np.cov(feats, rowvar=False)))
    base = frechet_distance(feats, judge_features(judge, other))  # two samples of the same world
    distances = [frechet_distance(feats, judge_features(judge, blur(other, s))) for s in (0.8, 1.6, 3.0)]
    assert base < distances[0] < distances[1] < distances[2], (base, distances)
    noisy = [frechet_distance(feats, judge_features(judge, noise(other, s, torch.Generator().manual_seed(1))))
             for s in (0.05, 0.15)]
    assert base < noisy[0] < noisy[1]


def test_attribute_accuracy_checks_what_the_prompt_names(judge):
    prompts = ["a red circle moving left on a black background", "a big blue square falling on a gray background",
               "a small yellow star rotating over an ocean background", "a green ring bouncing on a sunset background"]
    videos = torch.cat([clip(p, seed=i, size=32) for i, p in enumerate(prompts)])
    right = attribute_accuracy(judge, videos, prompts)
    assert right["all"] == 1.0 and right["colour"] == 1.0 and right["size"] == 1.0
    wrong = attribute_accuracy(judge, videos, [p.replace("red", "purple").replace("blue", "orange") for p in prompts])
    assert wrong["colour"] == 0.5 and wrong["shape"] == 1.0
    assert "size" in right and len(right["per_clip"]) == 4
    with pytest.raises(ValueError, match="one-object"):
        attribute_accuracy(judge, videos[:1], ["a red circle and a blue square"])


def test_flicker_sees_an_error_that_changes_between_frames_and_not_one_that_stays():
    torch.manual_seed(0)
    truth = torch.rand(2, 3, 6, 16, 16)
    steady = truth + 0.1 * torch.randn(2, 3, 1, 16, 16)  # the same error in every frame
    sign = torch.tensor([1.0, -1.0] * 3).view(1, 1, 6, 1, 1)
    flickering = truth + 0.1 * sign  # as large an error, alternating
    assert torch.allclose(flicker(steady, truth), torch.zeros(2), atol=1e-6) and flicker(truth, truth).eq(0).all()
    assert torch.allclose(flicker(flickering, truth), torch.full((2,), 0.2))  # every change off by 0.2
    with pytest.raises(ValueError, match="at least 2 frames"):
        flicker(truth[:, :, :1], truth[:, :, :1])


def test_judder_is_zero_for_steady_motion_and_one_for_frames_shown_twice():
    v = clip(prompt="a red square moving right on a black background", frames=9)
    assert judder(v).item() < 0.05  # steady motion: every pair changes alike
    doubled = v[:, :, [0, 0, 2, 2, 4, 4, 6, 6, 8]]  # every other frame held, then a double step: 0, d, 0, d, ...
    assert judder(doubled).item() == pytest.approx(1.0, abs=0.05)
    assert judder(v[:, :, :1].expand_as(v)).item() == 0.0  # nothing moves, so nothing judders
    with pytest.raises(ValueError, match="at least 3 frames"):
        judder(clip(frames=2))


def _far_apart():
    """A small red square moving right fast: 3 keyframes 2 s apart, the truth at 2 fps between them."""
    from engine.world.render import render_background
    from engine.world.vocab import COLOURS

    spec = prompt_to_spec("a small red square moving right on a black background", 0)
    truth = render(spec, 32, 2.0, 9)  # keyframes every 4th frame: 0.5 fps, the square 5 px apart
    return truth, render_background(spec.background, 32, 32), [COLOURS["red"]]


def test_ghosting_sees_a_blend_of_far_apart_keyframes_and_not_the_truth():
    from engine.metrics.ghosting import ghosting, object_counts
    from engine.models.interpolation import blend_keyframes

    truth, background, colours = _far_apart()
    assert (object_counts(truth, background) == 1).all()
    same = ghosting(truth, truth, background, colours)
    assert all(v.sum() == 0 for v in same.values())
    blended = blend_keyframes(truth[::4])
    g = ghosting(blended, truth, background, colours)
    mid = [i for i in range(9) if i % 4]
    assert g["translucent"][mid].mean() > 0.3  # half-transparent copies: most of the object is a mix
    assert g["translucent"][::4].sum() == 0  # the keyframes are given back as they are
    # the square moved as a solid (rolled along, no mixing): no translucent pixels beyond the truth's edges
    rolled = torch.roll(truth, 3, dims=-1)
    assert ghosting(rolled, truth, background, colours)["translucent"].max() < 0.05


def test_object_counts_split_two_far_copies():
    from engine.metrics.ghosting import object_counts

    truth, background, _ = _far_apart()
    two = torch.maximum(truth[:1], torch.roll(truth[:1], 12, dims=-1))  # the square and a copy 12 px away
    assert object_counts(two, background).tolist() == [2]
    with pytest.raises(ValueError, match="background"):
        object_counts(truth, background[:, :8])


@pytest.mark.parametrize("motion", ["right", "down-left", "grow", "shrink", "still"])
def test_track_error_is_small_for_the_world_and_the_size_of_the_motion_for_a_still(motion):
    """A world clip moves exactly as its prompt's plan says; frame 0 held still is off by the whole motion."""
    from engine.metrics import track_error
    from engine.motion import plan_from_prompt
    from engine.world import parse_prompt
    from engine.world.render import render_background
    from engine.world.vocab import COLOURS, MOTION_WORDS

    prompt = f"a medium red square {MOTION_WORDS[motion][0]} on a sunset background"
    truth = render(prompt_to_spec(prompt, 0), 32, 2.0, 8)
    plan = plan_from_prompt(prompt, 8, 2.0)
    shift, scale = torch.tensor(plan.shift), torch.tensor(plan.scale)
    colour, background = COLOURS[parse_prompt(prompt).objects[0]["colour"]], render_background("sunset", 32, 32)
    right = track_error(truth, colour, background, shift, scale)
    assert right["path"] < 0.5 and right["scale"] < 0.08, right  # anti-aliased edges at sub-pixel places
    held = track_error(truth[:1].expand_as(truth), colour, background, shift, scale)
    asked = (shift[1:] * 32).norm(dim=1).mean().item()
    assert held["path"] == pytest.approx(asked, abs=0.5)
    assert held["scale"] == pytest.approx((scale[1:] - 1).abs().mean().item(), abs=0.05)
