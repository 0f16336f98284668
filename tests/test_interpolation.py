"""Frame interpolation, T → 4T−3 frames: FusionFrames' group model and MPL-Video's masked model, on a tiny base."""
import json

import pytest
import torch
from diffusers.models.resnet import ResnetBlock2D
from einops import rearrange
from safetensors import safe_open

from engine.io import read_video, write_video
from engine.models.base import load_base
from engine.models.interpolation import (METHODS, GroupInterpolationUNet, MaskedInterpolationUNet, MergedTemporalConv,
                                         blend_clip, blend_keyframes, blend_middles, hold_keyframes, join_frames,
                                         keyframe_pairs,
                                         load_interpolator, middle_frames, noise_augment, save_interpolator)
from engine.pipelines.interpolate import interpolation_pipeline, skip_for_fps, windows
from engine.training.base import diffusion_loss
from engine.training.interpolation import RESIDUAL_SCHEDULE, SKIPS, interp_batch, train_interpolator
from engine.world import prompt_to_spec, render
from studio.cli import main


@pytest.fixture(scope="module")
def base(base_dir):
    return load_base(base_dir)


@pytest.fixture(scope="module")
def folders(base, tmp_path_factory):
    """Untrained models of both kinds, saved as the trainer saves them."""
    root = tmp_path_factory.mktemp("interp")
    torch.manual_seed(0)
    out = {}
    for name, model in (("group", GroupInterpolationUNet.from_base(base)), ("masked", MaskedInterpolationUNet.from_base(base))):
        save_interpolator(model, dict(base.scheduler.config), root / name, {"steps": 0})
        out[name] = root / name
    return out


def _frames_through_base(base, x, t, null):
    """The image base on every frame of (B, C, F, H, W), with the empty prompt."""
    b, f = x.shape[0], x.shape[2]
    out = base.unet(rearrange(x, "b c f h w -> (b f) c h w"), t, null.expand(b * f, -1, -1)).sample
    return rearrange(out, "(b f) c h w -> b c f h w", b=b)


@torch.no_grad()
def test_group_model_starts_as_the_base_on_its_first_noisy_frame(base):
    model = GroupInterpolationUNet.from_base(base).eval()
    assert model.video.unet.conv_in.in_channels == 15 and model.video.unet.conv_out.out_channels == 9
    z, keys = torch.randn(2, 9, 3, 16, 16), torch.randn(2, 6, 3, 16, 16)
    out = model(z, 500, keys, torch.tensor([0, 120]), torch.tensor([4, 1]))
    assert out.shape == z.shape
    expected = _frames_through_base(base, z[:, :3], 500, model.null_text).repeat(1, 3, 1, 1, 1)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)  # output conv replicated, extra inputs zero
    torch.testing.assert_close(model(z, 500, torch.zeros_like(keys), 0, 6), out, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_masked_model_starts_as_the_base_frame_by_frame(base):
    model = MaskedInterpolationUNet.from_base(base).eval()
    assert model.video.unet.conv_in.in_channels == 7 and len(model.video.added) > 0
    assert all(p.requires_grad for p in model.parameters())  # MPL-Video: every weight fine-tunes
    x = torch.randn(2, 3, 9, 16, 16)
    mask = torch.zeros(2, 1, 9, 1, 1)
    mask[:, :, ::4] = 1
    out = model(x, 300, torch.randn_like(x), mask, torch.tensor([0, 200]))
    torch.testing.assert_close(out, _frames_through_base(base, x, 300, model.null_text), atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_temporal_convs_and_levels_start_silent_then_act(base):
    model = GroupInterpolationUNet.from_base(base).eval()
    z, keys = torch.randn(1, 9, 3, 16, 16), torch.randn(1, 6, 3, 16, 16)
    other = z.clone()
    other[:, :, 2] = torch.randn(1, 9, 16, 16)  # change only the last gap
    assert torch.equal(model(z, 500, keys, 0, 4)[:, :, 0], model(other, 500, keys, 0, 4)[:, :, 0])
    convs = [m for m in model.modules() if isinstance(m, MergedTemporalConv)]
    resnets = [m for m in model.video.unet.modules() if isinstance(m, ResnetBlock2D)]
    assert len(convs) == 2 * len(resnets)  # after both spatial convs of every resnet
    assert all(m.alpha.item() == 1 and not m.conv.weight.any() for m in convs)  # a zero conv: identity
    for m in convs:
        torch.nn.init.normal_(m.conv.weight, std=0.1)
    assert not torch.allclose(model(z, 500, keys, 0, 4)[:, :, 0], model(other, 500, keys, 0, 4)[:, :, 0])
    before = model(z, 500, keys, 0, 4)
    torch.nn.init.normal_(model.video.unet.class_embedding.linear_2.weight)
    assert not torch.allclose(model(z, 500, keys, 0, 4), model(z, 500, keys, 0, 1))  # skip-frame is read
    assert not torch.allclose(model(z, 500, keys, 0, 4), model(z, 500, keys, 100, 4))  # perturbation level too
    assert not torch.allclose(model(z, 500, keys, 0, 4), before)


def test_clip_helpers_and_noise_augmentation():
    clip = torch.randn(2, 3, 13, 4, 4)  # 4 keyframes → 13 frames
    keys = clip[:, :, ::4]
    middle = middle_frames(clip)
    assert middle.shape == (2, 9, 3, 4, 4) and torch.equal(middle[:, 3:6, 1], clip[:, :, 6])
    assert torch.equal(join_frames(keys, middle), clip)
    pairs = keyframe_pairs(keys)
    assert torch.equal(pairs[:, :3, 2], clip[:, :, 8]) and torch.equal(pairs[:, 3:, 2], clip[:, :, 12])
    alphas = torch.linspace(0.99, 0.1, 1000)
    noise = torch.randn_like(clip)
    assert torch.equal(noise_augment(clip, torch.zeros(2), noise, alphas), clip)  # level 0: as given
    out = noise_augment(clip, torch.tensor([0, 10]), noise, alphas)
    torch.testing.assert_close(out[1], alphas[9].sqrt() * clip[1] + (1 - alphas[9]).sqrt() * noise[1])


@pytest.mark.parametrize("method", ["group", "masked"])
def test_pipelines_give_4t_minus_3_frames_with_the_keyframes_in_place(folders, method):
    pipe, hashes = interpolation_pipeline(method, folders[method])
    assert len(hashes["interp"]) == 16
    extra = {"max_keyframes": 4} if method == "masked" else {}  # 6 keyframes: two windows for the masked model
    for t in (2, 3, 6):
        video = torch.rand(t, 3, 14, 18)  # odd sizes are padded for the UNet and cropped back
        frames = pipe(video, num_inference_steps=2, generator=torch.Generator().manual_seed(0), **extra).frames
        assert frames.shape == (1, 4 * t - 3, 3, 14, 18)
        assert torch.equal(frames[0, ::4], video)
        assert 0 <= frames.min() and frames.max() <= 1
    again = pipe(video, num_inference_steps=2, generator=torch.Generator().manual_seed(0), **extra).frames
    assert torch.equal(again, frames)


@pytest.mark.parametrize("method", ["group", "masked"])
def test_callback_on_step_end_sees_and_may_replace_every_step(folders, method):
    pipe, _ = interpolation_pipeline(method, folders[method])
    seen = []

    def on_step(p, i, t, kw):
        seen.append((i, int(t), kw["latents"].shape))
        return {"latents": torch.zeros_like(kw["latents"])} if i == 2 else None

    video = torch.rand(3, 3, 16, 16)
    frames = pipe(video, num_inference_steps=3, generator=torch.Generator().manual_seed(0),
                  callback_on_step_end=on_step).frames[0]
    assert [i for i, _, _ in seen] == [0, 1, 2] and seen[0][1] > seen[-1][1]
    assert seen[0][2] == ((1, 9, 2, 16, 16) if method == "group" else (1, 3, 9, 16, 16))  # slots, or the clip
    between = [i for i in range(9) if i % 4]
    torch.testing.assert_close(frames[between], torch.full_like(frames[between], 0.5))  # the zeros it returned
    assert torch.equal(frames[::4], video)


def test_keyframe_baselines_hold_and_blend():
    keys = torch.rand(3, 3, 4, 4)
    held, blended = hold_keyframes(keys), blend_keyframes(keys)
    assert held.shape == blended.shape == (9, 3, 4, 4)
    assert torch.equal(held[::4], keys) and torch.equal(held[1], keys[0]) and torch.equal(held[7], keys[1])
    assert torch.equal(blended[::4], keys)
    torch.testing.assert_close(blended[6], (keys[1] + keys[2]) / 2)
    torch.testing.assert_close(blended[1], 0.75 * keys[0] + 0.25 * keys[1])


def test_blend_in_slots_is_the_blend_baseline():
    keys = torch.rand(2, 3, 4, 8, 8)  # b c t h w
    clip = blend_clip(keys)
    assert clip.shape == (2, 3, 13, 8, 8)
    torch.testing.assert_close(rearrange(clip, "b c f h w -> b f c h w")[1], blend_keyframes(keys[1].transpose(0, 1)))
    torch.testing.assert_close(middle_frames(clip), blend_middles(keyframe_pairs(keys)))


@pytest.mark.parametrize("method", ["group", "masked"])
def test_an_untrained_residual_model_is_the_blend_and_training_moves_it(base, base_dir, tmp_path, method):
    """The residual form: output conv at zero, x0-prediction of frames − blend, so sampling returns the blend."""
    model = METHODS[method].from_base(base, residual=True)
    save_interpolator(model, {**base.scheduler.config, **RESIDUAL_SCHEDULE}, tmp_path / "r", {})
    pipe, _ = interpolation_pipeline(method, tmp_path / "r")
    assert pipe.scheduler.config.prediction_type == "sample"
    keys = render(prompt_to_spec("a red circle moving right on a ocean background", 0), 16, 2.0, 3)
    seen = []
    frames = pipe(keys, num_inference_steps=3, generator=torch.Generator().manual_seed(1),
                  callback_on_step_end=lambda p, i, t, kw: seen.append(kw)).frames[0]
    torch.testing.assert_close(frames, blend_keyframes(keys), atol=1e-5, rtol=0)
    assert len(seen) == 3 and seen[-1]["latents"].abs().max() < 1e-6  # the residual itself: nothing to add
    assert (seen[-1]["frames"] - seen[-1]["latents"]).abs().max() > 0.1  # the previewed sample: blend added
    train_interpolator(method, tmp_path / "t", steps=2, batch_size=1, lr=1e-2, base=base_dir, work_dir=tmp_path / "w",
                       keyframes=3, size=16)
    pipe, _ = interpolation_pipeline(method, tmp_path / "t")
    moved = pipe(keys, num_inference_steps=3, generator=torch.Generator().manual_seed(1)).frames[0]
    assert (moved - blend_keyframes(keys)).abs().max() > 1e-3
    torch.testing.assert_close(moved[::4], keys, atol=1e-6, rtol=0)


def test_x0_prediction_loss_regresses_the_clean_sample():
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler(prediction_type="sample")
    x0 = torch.randn(3, 3, 8, 8)
    assert diffusion_loss(lambda x, t, s: x0, None, x0, scheduler, 0).item() == 0
    torch.testing.assert_close(diffusion_loss(lambda x, t, s: torch.zeros_like(x), None, x0, scheduler, 0), x0.pow(2).mean())


def test_untrained_group_model_with_shared_noise_makes_three_identical_frames(base, tmp_path):
    """FusionFrames' appendix: before training the group model generates three identical frames; with the middle
    frames' noise shared (ρ = 1) they stay identical through sampling."""
    save_interpolator(GroupInterpolationUNet.from_base(base, noise_share=1.0), dict(base.scheduler.config),
                      tmp_path / "g", {})
    pipe, _ = interpolation_pipeline("group", tmp_path / "g")
    frames = pipe(torch.rand(3, 3, 16, 16), num_inference_steps=3, generator=torch.Generator().manual_seed(1)).frames[0]
    for gap in range(2):
        middle = frames[4 * gap + 1:4 * gap + 4]
        assert torch.allclose(middle[0], middle[1], atol=1e-5) and torch.allclose(middle[0], middle[2], atol=1e-5)


def test_context_guidance_is_one_call_of_both_halves(folders):
    pipe, _ = interpolation_pipeline("group", folders["group"])
    model = pipe.unet
    torch.nn.init.normal_(model.video.unet.conv_in.weight, std=0.1)  # make the keyframes matter
    x, keys = torch.randn(1, 9, 2, 16, 16), torch.randn(1, 6, 2, 16, 16)
    cond = {"keyframes": keys, "level": torch.zeros(1), "skip": torch.full((1,), 4.0)}
    uncond = {**cond, "keyframes": torch.zeros_like(keys)}
    with torch.no_grad():
        v_c, v_u = model(x, 400, **cond), model(x, 400, **uncond)
        torch.testing.assert_close(pipe.predict(x, 400, 0.25, cond, uncond), 1.25 * v_c - 0.25 * v_u,
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(pipe.predict(x, 400, 0.0, cond, uncond), v_c)


def test_windows_and_skip_values():
    assert windows(8, 8) == [0] and windows(5, 8) == [0]
    assert windows(10, 4) == [0, 3, 6]
    assert windows(12, 4) == [0, 3, 6, 8]  # the last window ends on the last keyframe
    assert skip_for_fps(2) == 4 and skip_for_fps(8) == 1 and skip_for_fps(30) == 1 and skip_for_fps(0.5) == 6


def test_one_frame_is_a_clear_error(folders):
    pipe, _ = interpolation_pipeline("group", folders["group"])
    with pytest.raises(ValueError, match="at least 2 keyframes, got 1"):
        pipe(torch.rand(1, 3, 16, 16), num_inference_steps=1)
    with pytest.raises(ValueError, match="masked model, not group"):
        interpolation_pipeline("group", folders["masked"])


def test_training_batches_are_world_clips_at_their_skip():
    batch = interp_batch(3, 4, size=16, keyframes=3)
    assert batch["frames"].shape == (4, 3, 9, 16, 16) and -1 <= batch["frames"].min() <= batch["frames"].max() <= 1
    assert set(batch["skip"].tolist()) <= set(SKIPS)
    assert torch.equal(interp_batch(3, 4, size=16, keyframes=3)["frames"], batch["frames"])
    assert set(interp_batch(0, 8, size=16, keyframes=2, skips=(4,))["skip"].tolist()) == {4.0}


@pytest.mark.parametrize("method", ["group", "masked"])
def test_training_writes_an_fp16_folder_and_resumes(base_dir, tmp_path, method):
    out, work = tmp_path / method, tmp_path / "work"
    kw = dict(batch_size=2, base=base_dir, work_dir=work, checkpoint_every=2, keyframes=3, size=16)
    first = train_interpolator(method, out, steps=2, **kw)
    assert {"unet", "scheduler", "interp.json", "loss.png"} <= {p.name for p in out.iterdir()}
    with safe_open(str(out / "unet" / "diffusion_pytorch_model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    second = train_interpolator(method, out, steps=3, **kw)  # resumes at step 2
    frames = train_interpolator(method, tmp_path / "frames", steps=1, residual=False, **{**kw, "work_dir": tmp_path / "w2"})
    _, config, record = load_interpolator(tmp_path / "frames")
    assert config["prediction_type"] == ("v_prediction" if method == "group" else "epsilon")  # the tiny base is ε
    assert record["target"] == "frames" and frames["losses"]
    assert second["losses"][:2] == first["losses"] and len(second["losses"]) == 3
    model, config, record = load_interpolator(out)
    assert record["method"] == method and record["steps"] == 3
    assert config["prediction_type"] == "sample" and record["target"] == "residual"  # the default form
    assert isinstance(model, GroupInterpolationUNet if method == "group" else MaskedInterpolationUNet)


def test_cli_trains_then_interpolates_a_clip(base_dir, tmp_path, capsys):
    model = tmp_path / "group"
    assert main(["train-interp", "--method", "group", "--steps", "1", "--batch-size", "1", "--model", str(base_dir),
                 "--out", str(model), "--work-dir", str(tmp_path / "work")]) == 0
    clip = tmp_path / "in.mp4"
    write_video(clip, render(prompt_to_spec("a red circle moving left on a black background", 0), 16, 2.0, 3), 2.0)
    out = tmp_path / "out.mp4"
    assert main(["interpolate", "--input", str(clip), "--out", str(out), "--interp", str(model), "--steps", "2"]) == 0
    frames, fps = read_video(out)
    assert frames.shape == (9, 3, 16, 16) and fps == 8
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["kind"] == "interpolate" and record["method"] == "group" and record["skip"] == 4
    assert record["frames_in"] == 3 and record["frames"] == 9 and set(record["seconds"]) >= {"load", "interpolate"}
    one = tmp_path / "one.mp4"
    write_video(one, render(prompt_to_spec("a red circle", 0), 16, 2.0, 1), 2.0)
    capsys.readouterr()
    assert main(["interpolate", "--input", str(one), "--out", str(tmp_path / "x.mp4"), "--interp", str(model)]) == 2
    err = capsys.readouterr().err
    assert "at least 2 keyframes" in err and "Traceback" not in err and not (tmp_path / "x.mp4").exists()
    assert main(["interpolate", "--input", str(clip), "--out", str(tmp_path / "y.mp4"),
                 "--interp", str(tmp_path / "none")]) == 2
    assert "train-interp" in capsys.readouterr().err


def test_tween_moves_the_object_to_the_in_between_time_where_a_blend_ghosts():
    from engine.metrics import psnr
    from engine.metrics.ghosting import ghosting, object_counts
    from engine.motion.tween import tween_keyframes
    from engine.world import prompt_to_spec, render
    from engine.world.render import render_background
    from engine.world.vocab import COLOURS

    spec = prompt_to_spec("a small red square moving right on a sunset background", 0)
    truth = render(spec, 32, 2.0, 9)  # keyframes every 4th frame, 2 s apart: the square moves 5 px between them
    keys = truth[::4]
    tweened, blended = tween_keyframes(keys), blend_keyframes(keys)
    assert tweened.shape == truth.shape and torch.equal(tweened[::4], keys)  # the keyframes as given
    mid = [i for i in range(9) if i % 4]
    ours, theirs = (psnr(x[mid].permute(1, 0, 2, 3), truth[mid].permute(1, 0, 2, 3)).item() for x in (tweened, blended))
    assert ours > theirs + 5, (ours, theirs)
    background = render_background(spec.background, 32, 32)
    ours = ghosting(tweened[mid], truth[mid], background, [COLOURS["red"]])["translucent"]
    assert ours.mean() < 0.1 and ours.max() < 0.2  # a bilinear move softens an edge a little, no more
    assert ghosting(blended[mid], truth[mid], background, [COLOURS["red"]])["translucent"].min() > 0.3
    assert (object_counts(tweened, background) == 1).all()


def test_tween_blends_where_its_regions_are_not_one_object_and_checks_its_input():
    from engine.motion.tween import tween_keyframes

    from engine.world import prompt_to_spec, render

    flat = torch.linspace(0, 1, 3).view(3, 1, 1, 1).expand(3, 3, 16, 16).contiguous()  # no object: plain frames
    assert torch.allclose(tween_keyframes(flat), blend_keyframes(flat))
    # a checkerboard's two colours are background (engine.motion.region), so its object is tweened, nearer the truth
    spec = prompt_to_spec("a small red square moving right on a checkerboard background", 0)
    keys, truth = render(spec, 32, 0.5, 3), render(spec, 32, 2.0, 9)
    error = {name: (f(keys) - truth).pow(2).mean().item() for name, f in [("tween", tween_keyframes),
                                                                           ("blend", blend_keyframes)]}
    assert error["tween"] < 0.5 * error["blend"], error
    with pytest.raises(ValueError, match="at least 2 keyframes"):
        tween_keyframes(flat[:1])


def test_flipbook_interpolate_tweens_by_default_and_says_why(tmp_path, capsys):
    from engine.world import prompt_to_spec, render

    keys = tmp_path / "keys.mp4"
    write_video(keys, render(prompt_to_spec("a red circle moving left on a black background", 0), 32, 0.5, 3), 0.5)
    out = tmp_path / "smooth.mp4"
    assert main(["interpolate", "--input", str(keys), "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["method"] == "tween" and record["model_hashes"] == {} and record["frames"] == 9
    assert "interpolate: tween, since tweening" in capsys.readouterr().err
    assert read_video(out)[0].shape == (9, 3, 32, 32)
