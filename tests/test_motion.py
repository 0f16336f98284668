"""Motion plans (engine.motion): plans from words and controls, regions, frames and noise warped along a plan
(Gaussian, correlated along the flow as engine/motion/README.md derives), and the pipeline and the CLI following plans
on the embedded model and on tiny SD-style and IF-style folders."""
import json
import re

import pytest
import torch

from engine.io import read_video, write_video
from engine.motion import (CAMERA_MOVES, MOTION_CHOICES, MotionPlan, PlanError, camera_plan, find_region,
                           object_plan, parse_path, path_plan, plan_from_controls, plan_from_prompt, plan_maps,
                           warp_image, warp_noise)
from engine.motion.region import Region
from engine.world import SpecError, prompt_to_spec, render
from engine.world.render import render_background
from engine.world.vocab import BACKGROUNDS
from engine.world.vocab import MOTION_WORDS
from studio.cli import main

from tiny_checkpoints import make_if_folder, make_sd_folder

FPS, FRAMES = 2.0, 8


# -- plans ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("motion", MOTION_CHOICES)
def test_every_motion_makes_a_plan_that_starts_still_and_survives_its_sidecar(motion):
    plan = plan_from_controls(motion, FRAMES, FPS)
    assert plan.frames == FRAMES
    assert plan.shift[0] == (0.0, 0.0) and plan.angle[0] == 0.0 and plan.scale[0] == 1.0
    assert plan.camera[0] == (0.0, 0.0, 1.0)
    assert plan.moves_object or plan.moves_camera or motion == "still"
    assert MotionPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_directions_and_camera_moves_point_the_right_way():
    last = lambda m: object_plan(m, FRAMES, FPS).shift[-1]
    assert last("right")[0] > 0.2 and last("left")[0] < -0.2 and last("up")[1] < -0.2 and last("down")[1] > 0.2
    dx, dy = last("up-left")
    assert dx < 0 and dy < 0
    assert object_plan("grow", FRAMES, FPS).scale[-1] > 1.2 > 0.8 > object_plan("shrink", FRAMES, FPS).scale[-1]
    # the camera pans left: the content goes right; it zooms in: the content grows
    assert camera_plan("pan-left", FRAMES, FPS).camera[-1][0] > 0 > camera_plan("pan-right", FRAMES, FPS).camera[-1][0]
    assert camera_plan("zoom-in", FRAMES, FPS).camera[-1][2] > 1 > camera_plan("zoom-out", FRAMES, FPS).camera[-1][2]
    # speed scales the way covered
    assert object_plan("right", FRAMES, FPS, speed=2).shift[-1][0] == pytest.approx(2 * last("right")[0])
    assert set(CAMERA_MOVES) <= set(MOTION_CHOICES)


def test_prompts_give_their_motion_and_controls_win():
    assert plan_from_prompt("a red square moving right on a black background", FRAMES, FPS).source == "prompt:right"
    assert plan_from_prompt("a red square on a black background", FRAMES, FPS) is None
    assert plan_from_prompt("a red circle and a blue star and a green ring", FRAMES, FPS) is None
    assert plan_from_prompt("a photo of a cat walking", FRAMES, FPS) is None  # any text, for a model of one's own
    path = path_plan(parse_path("0.2,0.5 0.8,0.5"), 4)
    assert path.anchor == (0.2, 0.5) and path.shift[-1] == pytest.approx((0.6, 0.0))
    assert [s[0] for s in path.shift] == pytest.approx([0.0, 0.2, 0.4, 0.6])


@pytest.mark.parametrize("bad, says", [
    (lambda: plan_from_controls("sideways", 8, 2.0), "choose one of"),
    (lambda: object_plan("right", 8, 2.0, speed=9), "speed"),
    (lambda: parse_path("0.2;0.5 x"), "points 'x,y'"),
    (lambda: path_plan([(0.2, 0.5)], 8), "at least two points"),
    (lambda: path_plan([(0.2, 0.5), (1.5, 0.5)], 8), "lie in the frame"),
    (lambda: plan_from_controls("right", 8, 2.0, path=[(0, 0), (1, 1)]), "or a path (--path), not both"),
    (lambda: MotionPlan.from_dict({"shift": [[0, 0]]}), "damaged"),
])
def test_bad_plans_say_what_to_change(bad, says):
    with pytest.raises(PlanError, match=re.escape(says)):
        bad()


# -- regions and warped frames ---------------------------------------------------------------------------------

def _mask_iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a & b).sum() / (a | b).sum().clamp(min=1))


@pytest.mark.parametrize("motion,background", [("right", "gray"), ("up-left", "gray"), ("bounce", "gray"),
                                               ("rotate", "gray"), ("grow", "gray"), ("shrink", "gray"),
                                               ("right", "checkerboard"), ("grow", "checkerboard")])
def test_frame_zero_carried_along_the_prompts_plan_matches_the_world(motion, background):
    """The plan made from a prompt's words moves a rendered frame 0 where the world's own clip goes."""
    prompt = f"a large green star {MOTION_WORDS[motion][0]} on a {background} background"
    truth = render(prompt_to_spec(prompt, 0), 32, FPS, FRAMES)  # f 3 h w
    region = find_region(truth[:1])
    assert region.found.all()
    obj, cam = plan_maps(plan_from_prompt(prompt, FRAMES, FPS), region, (32, 32), fit=False)
    carried = warp_image(truth[:1], region, obj, cam)[0].permute(1, 0, 2, 3)  # f 3 h w
    for k in range(FRAMES):
        want = find_region(truth[k:k + 1]).mask[0, 0] > 0
        got = find_region(carried[k:k + 1]).mask[0, 0] > 0
        assert _mask_iou(want, got) > 0.7, (motion, k)


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_the_region_is_the_object_and_not_the_background(background):
    """On every world background, the checkerboard's two colours too, the region is the object grown by its edge."""
    tried = 0
    for colour, shape in [("red", "circle"), ("yellow", "star"), ("blue", "square"), ("white", "ring"), ("green", "diamond")]:
        try:
            spec = prompt_to_spec(f"a medium {colour} {shape} on a {background} background", 0)
        except SpecError:  # a colour the world does not draw on this background
            continue
        tried += 1
        frame = render(spec, 32, FPS, 1)
        truth = (frame[0] - render_background(background, 32, 32)).norm(dim=0) > 0.1
        got = find_region(frame).mask[0, 0] > 0
        assert _mask_iou(truth, got) > 0.5 and (got & ~truth).float().mean() < 0.1, (colour, shape, background)
    assert tried >= 3


def test_regions_find_the_object_and_its_centre():
    frame = render(prompt_to_spec("a large red square on a black background", 0), 32, FPS, 1)
    region = find_region(frame)
    ys, xs = torch.nonzero(frame[0].sum(0) > 0.5, as_tuple=True)
    assert region.centre[0].tolist() == pytest.approx([xs.float().mean().item() + 0.5, ys.float().mean().item() + 0.5], abs=0.6)
    outside = region.mask[0, 0] == 0
    assert (region.background[0] - frame[0])[:, outside].abs().max() < 0.05  # the background, where it shows


# -- warped noise (engine/motion/README.md) -----------------------------------------------------------------

def _region(h: int, w: int, box: tuple[int, int, int, int], n: int) -> Region:
    mask = torch.zeros(n, 1, h, w)
    x0, y0, x1, y1 = box
    mask[:, :, y0:y1, x0:x1] = 1
    centre = torch.tensor([[(x0 + x1) / 2, (y0 + y1) / 2]]).repeat(n, 1)
    return Region(mask, centre, torch.zeros(n, 4, h, w))


@pytest.mark.parametrize("motion", ["right", "rotate", "grow", "pan-left", "zoom-out"])
def test_warped_noise_is_standard_normal_in_every_frame(motion):
    n, h, w = 256, 8, 8
    region = _region(h, w, (2, 2, 5, 5), n)
    obj, cam = plan_maps(plan_from_controls(motion, 6, FPS, speed=3), region, (h, w))
    noise = warp_noise((n, 4, 6, h, w), region, obj, cam, torch.Generator().manual_seed(0))
    per_frame = noise.transpose(1, 2).reshape(n, 6, -1)
    mean, var = per_frame.mean((0, 2)), per_frame.var((0, 2))
    assert torch.allclose(mean, torch.zeros(6), atol=0.03), mean
    assert torch.allclose(var, torch.ones(6), atol=0.05), var
    # pixels, not just frames: no pixel drifts from N(0, 1)
    assert noise.var(0).max() < 1.5 and noise.var(0).min() > 0.6


def test_warped_noise_correlates_along_the_flow_as_derived():
    """A camera shift of one fine cell (1/r pixel) keeps (r − 1)/r of each pixel's cells: correlation 1 − 1/r;
    an object moving a whole pixel carries its noise with it (correlation 1 along the flow, 0 across)."""
    n, h, w, r = 512, 8, 8, 4
    region = _region(h, w, (0, 0, 0, 0), n)  # no object: the camera alone
    plan = MotionPlan(((0.0, 0.0),) * 2, (0.0, 0.0), (1.0, 1.0), ((0.0, 0.0, 1.0), (1 / (r * w), 0.0, 1.0)))
    obj, cam = plan_maps(plan, region, (h, w), fit=False)
    noise = warp_noise((n, 1, 2, h, w), region, obj, cam, torch.Generator().manual_seed(1), r=r)
    a, b = noise[:, 0, 0, :, 1:].flatten(), noise[:, 0, 1, :, 1:].flatten()
    assert torch.corrcoef(torch.stack([a, b]))[0, 1] == pytest.approx(1 - 1 / r, abs=0.03)

    region = _region(h, w, (2, 2, 4, 4), n)
    plan = MotionPlan(((0.0, 0.0), (1 / w, 0.0)), (0.0, 0.0), (1.0, 1.0), ((0.0, 0.0, 1.0),) * 2)
    obj, cam = plan_maps(plan, region, (h, w), fit=False)
    noise = warp_noise((n, 1, 2, h, w), region, obj, cam, torch.Generator().manual_seed(2), r=r)
    along = torch.corrcoef(torch.stack([noise[:, 0, 0, 2:4, 2:4].flatten(), noise[:, 0, 1, 2:4, 3:5].flatten()]))
    behind = torch.corrcoef(torch.stack([noise[:, 0, 0, 2:4, 2].flatten(), noise[:, 0, 1, 2:4, 2].flatten()]))
    assert along[0, 1] > 0.99 and abs(behind[0, 1]) < 0.1


# -- the pipeline and the CLI -------------------------------------------------------------------------------------

def _red_centre_x(video: torch.Tensor) -> torch.Tensor:
    """(F, 3, H, W) -> the x of the red object's centre per frame."""
    red = ((video[:, 0] > 0.4) & (video[:, 1] < 0.3)).float()
    xs = torch.arange(video.shape[-1]).float()
    return (red.sum(1) * xs).sum(1) / red.sum((1, 2)).clamp(min=1)


def test_generate_moves_the_object_the_way_the_prompt_says(tmp_path):
    """The embedded default, as a new user runs it: the square goes right with the plan (about 1.4 px a
    keyframe); without it (the ablation) the words alone barely move it."""
    prompt = "a red square moving right on a black background"
    args = ["generate", "--prompt", prompt, "--steps", "12"]
    assert main(args + ["--out", str(tmp_path / "plan.mp4")]) == 0
    assert main(args + ["--no-motion-plan", "--out", str(tmp_path / "words.mp4")]) == 0
    x = _red_centre_x(read_video(tmp_path / "plan.mp4")[0])
    assert (x.diff() > 0).sum() >= 6 and 6 < x[-1] - x[0] < 14, x
    record = json.loads((tmp_path / "plan.json").read_text())
    assert record["motion_plan"] and record["plan"]["source"] == "prompt:right"
    assert json.loads((tmp_path / "words.json").read_text())["plan"] is None


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("motion_checkpoints")
    made = {"sd": make_sd_folder(root / "sd"), "if": make_if_folder(root / "if")}
    made["if-pyramid"] = root / "if-pyramid"  # a 2-stage pyramid-trained mode on it (one step: sampling only)
    assert main(["train-pyramid", "--form", "ddim", "--stages", "2", "--model", str(made["if"]), "--steps", "1",
                 "--out", str(made["if-pyramid"]), "--work-dir", str(root / "if-pyramid-work")]) == 0
    return made


@pytest.mark.parametrize("kind", ["sd", "if"])
@pytest.mark.parametrize("control", [["--motion", "pan-right"], ["--path", "0.2,0.2 0.8,0.8"],
                                     ["--motion", "rotate", "--motion-method", "noise", "--cross-frame"]])
def test_plans_run_from_real_folders_and_replay_from_the_sidecar(folders, tmp_path, kind, control):
    out = tmp_path / "clip.mp4"
    base = ["generate", "--model", str(folders[kind]), "--prompt", "a red circle on a black background",
            "--frames", "4", "--steps", "3"]
    assert main(base + control + ["--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["plan"] is not None and len(record["plan"]["shift"]) == 4
    assert main(["generate", "--from", str(out.with_suffix(".json")), "--out", str(tmp_path / "again.mp4")]) == 0
    assert torch.equal(read_video(out)[0], read_video(tmp_path / "again.mp4")[0])
    assert main(base + ["--out", str(tmp_path / "still.mp4")]) == 0  # no motion word, no control: no plan
    assert json.loads((tmp_path / "still.json").read_text())["plan"] is None


def test_old_sidecars_replay_without_a_plan(folders, tmp_path):
    out = tmp_path / "old.mp4"
    args = ["generate", "--model", str(folders["if"]), "--prompt", "a red circle moving left on a black background",
            "--frames", "4", "--steps", "2"]
    assert main(args + ["--no-motion-plan", "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    for key in ("motion", "speed", "path", "motion_plan", "motion_method", "motion_strength", "plan"):
        del record[key]  # as sidecars were written before motion plans
    out.with_suffix(".json").write_text(json.dumps(record))
    assert main(["generate", "--from", str(out.with_suffix(".json")), "--out", str(tmp_path / "again.mp4")]) == 0
    assert torch.equal(read_video(out)[0], read_video(tmp_path / "again.mp4")[0])


@pytest.mark.parametrize("args, says", [
    (["--motion", "right", "--path", "0.1,0.1 0.9,0.9"], "or a path (--path), not both"),
    (["--path", "0.1,0.1 2,0.9"], "lie in the frame"),
    (["--motion", "right", "--motion-method", "noise", "--pyramid", "2", "--tuned", "PYRAMID"], "by the frame method"),
    (["--motion", "right", "--motion-strength", "1.5"], "motion strength"),
    (["--motion", "right", "--speed", "10"], "speed"),
])
def test_bad_motion_controls_say_what_to_fix(folders, tmp_path, capsys, args, says):
    code = main(["generate", "--model", str(folders["if"]), "--prompt", "a red circle on a black background",
                 "--frames", "4", "--steps", "2", "--out", str(tmp_path / "x.mp4")]
                + [str(folders["if-pyramid"]) if a == "PYRAMID" else a for a in args])
    assert code == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()


def test_the_pyramid_samples_with_a_plan(folders, tmp_path):
    out = tmp_path / "pyr.mp4"
    args = ["generate", "--model", str(folders["if"]), "--prompt", "a red circle moving left on a black background",
            "--tuned", str(folders["if-pyramid"]), "--frames", "4", "--steps", "4", "--scheduler", "ddim", "--pyramid", "2"]
    assert main(args + ["--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["pyramid"] == 2 and record["plan"]["source"] == "prompt:left"
    assert main(["generate", "--from", str(out.with_suffix(".json")), "--out", str(tmp_path / "again.mp4")]) == 0
    assert torch.equal(read_video(out)[0], read_video(tmp_path / "again.mp4")[0])


def test_fine_noise_made_around_a_coarse_noise_is_standard_normal_and_sums_back_to_it():
    """Conditional upsampling ("How I Warped Your Noise" §4): the fine field's block sums over r are the coarse
    noise exactly, every cell is N(0, 1), and cells of one block are uncorrelated."""
    from engine.motion import coarse_noise, fine_noise_like

    coarse = torch.randn(4000, 2, 2, generator=torch.Generator().manual_seed(0))
    fine = fine_noise_like(coarse, 4, torch.Generator().manual_seed(1))
    assert fine.shape == (4000, 8, 8) and torch.allclose(coarse_noise(fine, 4), coarse, atol=1e-5)
    assert abs(fine.mean()) < 0.01 and abs(fine.var() - 1) < 0.02
    block = fine[:, :4, :4].reshape(4000, 16)
    assert (torch.corrcoef(block.T) - torch.eye(16)).abs().max() < 0.08


# -- editing with a plan -----------------------------------------------------------------------------------------

def test_an_edit_moves_as_its_plan_says(tmp_path):
    """A still red square edited zero-shot on the embedded model: with `--motion right` the edited frame 0 is
    carried right (about 1.4 px a keyframe); without a plan the inversion keeps the clip still."""
    clip = tmp_path / "still.mp4"
    write_video(clip, render(prompt_to_spec("a red square on a black background", 0), 32, FPS, FRAMES), FPS)
    args = ["edit", "--input", str(clip), "--source-prompt", "a red square on a black background", "--prompt",
            "a red square on a black background", "--mode", "zero-shot", "--steps", "20",
            "--cache-dir", str(tmp_path / "cache")]
    assert main(args + ["--motion", "right", "--out", str(tmp_path / "right.mp4")]) == 0
    assert main(args + ["--out", str(tmp_path / "kept.mp4")]) == 0
    x = _red_centre_x(read_video(tmp_path / "right.mp4")[0])
    assert (x.diff() >= 0).all() and (x.diff() > 0).sum() >= 4 and 6 < x[-1] - x[0] < 14, x
    kept = _red_centre_x(read_video(tmp_path / "kept.mp4")[0])
    assert (kept[-1] - kept[0]).abs() < 2, kept
    assert json.loads((tmp_path / "right.json").read_text())["plan"]["source"] == "motion:right"
    assert json.loads((tmp_path / "kept.json").read_text())["plan"] is None


@pytest.mark.parametrize("kind", ["sd", "if"])
def test_edits_follow_plans_on_real_folders(folders, tmp_path, kind):
    clip = tmp_path / "in.mp4"
    write_video(clip, render(prompt_to_spec("a red circle moving left on a black background", 0), 16, FPS, 4), FPS)
    out = tmp_path / "edit.mp4"
    assert main(["edit", "--input", str(clip), "--source-prompt", "a red circle moving left on a black background",
                 "--prompt", "a red circle moving up on a black background", "--model", str(folders[kind]),
                 "--mode", "zero-shot", "--frames", "4", "--steps", "4", "--motion-plan",
                 "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["plan"]["source"] == "prompt:up" and len(record["plan"]["shift"]) == 4
    assert read_video(out)[0].shape[0] == 4


# -- warped-noise tuning (Go-with-the-Flow) ------------------------------------------------------------------------

def test_training_noise_follows_each_clips_true_flow():
    """World clips carry their own plans; noise warped along them is N(0, 1) and stays put on the background
    (consecutive frames share it) while the object's moves with the object."""
    from engine.motion import clip_noise
    from engine.training.modes import video_batch

    batch = video_batch(0, 4)
    assert [p.source for p in batch["plans"]] == ["motion:left", "motion:grow", "motion:bounce", "motion:down-left"]
    noise = clip_noise(batch["pixels"], batch["plans"], (4, 3, 8, 32, 32), torch.Generator().manual_seed(0))
    assert abs(noise.mean()) < 0.03 and abs(noise.std() - 1) < 0.03
    region = find_region((batch["pixels"][:1, :, 0] + 1) / 2)
    background = region.mask[0, 0] == 0
    still = torch.corrcoef(torch.stack([noise[0, :, 0][:, background].flatten(),
                                        noise[0, :, 7][:, background].flatten()]))[0, 1]
    assert still > 0.8  # frame 0's object cells are fresh for the background: the rest is the very same noise
    x0 = int(region.centre[0, 0]) - 2  # the left-moving object's noise, 9.5 px further left by frame 7
    y0 = int(region.centre[0, 1]) - 2
    along = torch.corrcoef(torch.stack([noise[0, :, 0, y0:y0 + 4, x0:x0 + 4].flatten(),
                                        noise[0, :, 7, y0:y0 + 4, x0 - 10:x0 - 6].flatten()]))[0, 1]
    stayed = torch.corrcoef(torch.stack([noise[0, :, 0, y0:y0 + 4, x0:x0 + 4].flatten(),
                                         noise[0, :, 7, y0:y0 + 4, x0:x0 + 4].flatten()]))[0, 1]
    assert along > 0.35 and abs(stayed) < 0.2  # 9.5 px: about half of each pixel's cells land 10 px left


def test_a_mode_trains_on_warped_noise(tmp_path):
    from engine.training.modes import train_mode

    train_mode("temporal", tmp_path / "mode", steps=2, batch_size=1, work_dir=tmp_path / "run", warped_noise=True)
    assert json.loads((tmp_path / "mode" / "mode.json").read_text())["noise"] == "warped"
    # on from those weights (the shipped mode, tuned on), not from zero; another mode's folder is refused
    train_mode("temporal", tmp_path / "more", steps=1, batch_size=1, work_dir=tmp_path / "run2",
               init=tmp_path / "mode", lr=1e-12)
    from safetensors.torch import load_file

    before, after = load_file(tmp_path / "mode" / "tuned.safetensors"), load_file(tmp_path / "more" / "tuned.safetensors")
    assert all(torch.allclose(before[k].float(), after[k].float(), atol=1e-3) for k in before)
    assert any(before[k].abs().max() > 0 for k in before)  # the start was the tuned weights, not zero
    with pytest.raises(ValueError, match="holds a tuned 'temporal' mode"):
        train_mode("full", tmp_path / "x", steps=1, batch_size=1, work_dir=tmp_path / "run3", init=tmp_path / "mode")


def test_runs_go_to_the_documented_run_folder(tmp_path, monkeypatch):
    """Long trainings keep their checkpoints in $FLIPBOOK_RUNS, outside the checkout, and resume from there."""
    from engine.training.modes import train_mode

    monkeypatch.setenv("FLIPBOOK_RUNS", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    train_mode("temporal", tmp_path / "mode", steps=1, batch_size=1)
    assert (tmp_path / "runs" / "modes" / "temporal" / "checkpoint").is_dir()
    state = train_mode("temporal", tmp_path / "mode", steps=2, batch_size=1)  # resumes at step 1
    assert state["step"] == 2 and not (tmp_path / "runs" / "runs").exists()


# -- cross-frame attention (Text2Video-Zero §3.2) ---------------------------------------------------------------------

def test_cross_frame_attention_attends_to_frame_zero_and_is_put_back():
    from diffusers.models.attention_processor import Attention

    from engine.models.attention import CrossFrameAttnProcessor, cross_frame_attention
    from engine.models.base import load_base
    from engine.models.inflate import inflate
    from engine.models.temporal import FrameContext

    torch.manual_seed(0)
    attn = Attention(16, heads=2, dim_head=8)
    ctx = FrameContext(frames=3)
    x = torch.randn(2 * 3, 5, 16)  # (b f) t c
    plain = attn(x)
    attn.set_processor(CrossFrameAttnProcessor(ctx))
    out = attn(x)
    first = x.reshape(2, 3, 5, 16)[:, :1].expand(2, 3, 5, 16).reshape(6, 5, 16)
    assert torch.allclose(out[0::3], plain[0::3], atol=1e-6)  # frame 0 attends to itself: plain attention
    assert not torch.allclose(out[1::3], plain[1::3], atol=1e-3)
    same = attn(first)  # every frame frame 0: every frame's output is frame 0's
    assert torch.allclose(same, same.reshape(2, 3, 5, 16)[:, :1].expand(2, 3, 5, 16).reshape(6, 5, 16), atol=1e-6)
    nudged = x.clone()
    nudged[2] += 1.0  # frame 2 of clip 0: only its own output moves (it is nobody's key or value)
    diff = (attn(nudged) - out).abs().amax(dim=(1, 2))
    assert diff[2] > 1e-3 and diff[[0, 1, 3, 4, 5]].max() < 1e-6

    video = inflate(load_base().unet)
    before = [m.processor for m in video.modules() if isinstance(m, Attention)]
    with cross_frame_attention(video):
        inside = [type(m.processor).__name__ for m in video.modules() if isinstance(m, Attention)]
        assert inside.count("CrossFrameAttnProcessor") == len(inside) // 2  # attn1 of every block, not attn2
    assert [m.processor for m in video.modules() if isinstance(m, Attention)] == before
