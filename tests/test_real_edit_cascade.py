"""Editing and the cascade stages (interpolation, super-resolution) from real-format checkpoints: a tiny SD-style
(latent) and a tiny IF-style (pixel, T5, learned variance) folder, and a tiny IF stage II-style SR folder, each
built here with random weights and saved by diffusers' own `save_pretrained`."""
import json

import pytest
import torch
import torch.nn.functional as F

from engine.edit import edit_video
from engine.io import read_video
from engine.models.base import load_base
from engine.models.sr import load_sr
from engine.pipelines.edit import InversionCache
from engine.pipelines.interpolate import interpolation_pipeline
from engine.pipelines.upscale import upscale_pipeline
from engine.training.interpolation import train_interpolator
from studio.cli import main

from tiny_checkpoints import make_if_folder, make_if_sr_folder, make_sd_folder

KINDS = ("sd", "if")
SOURCE = "a red circle moving left on a black background"
EDITED = "a blue circle moving left on a black background"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    return {"sd": make_sd_folder(root / "sd"), "if": make_if_folder(root / "if"),
            "if-sr": make_if_sr_folder(root / "if-sr"), "sd-other": make_sd_folder(root / "sd-other", seed=1)}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """World clips: 4 frames at 16² (the tiny bases' frame size) and 5 frames at 8² (low resolution), with sidecars."""
    root = tmp_path_factory.mktemp("clips")
    for name, size, frames in (("keys", 16, 4), ("low", 8, 5)):
        assert main(["render", "--prompt", SOURCE, "--size", str(size), "--fps", "2" if name == "keys" else "8",
                     "--frames", str(frames), "--out", str(root / f"{name}.mp4")]) == 0
    return root


def sidecar(path):
    return json.loads(path.with_suffix(".json").read_text())


def assert_frames(frames, shape):
    assert tuple(frames.shape) == shape and frames.isfinite().all() and 0 <= frames.min() <= frames.max() <= 1


# -- editing -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_one_shot_edit_from_the_folder(folders, clips, tmp_path, kind):
    """Tune SimDA on the clip, DDIM-invert it (latent models: its VAE latents), sample the edit, decode it."""
    cache = tmp_path / "cache"
    out, frames = edit_video(clips / "keys.mp4", SOURCE, EDITED, tmp_path / "blue.mp4", mode="simda", tune_steps=2,
                             steps=4, frames=4, model=folders[kind], cache_dir=cache)
    assert_frames(frames, (4, 3, 16, 16))
    assert read_video(out)[0].shape == (4, 3, 16, 16)
    record = sidecar(out)
    assert record["model"] == str(folders[kind]) and record["mode"] == "simda" and record["tune_steps"] == 2
    assert record["size"] == [16, 16] and ("vae" in record["model_hashes"]) == (kind == "sd")
    assert "tuned" in record["model_hashes"] and not record["inversion"]["cached"]
    latents, timestep = InversionCache(cache).get(record["inversion"]["key"])
    # what was inverted: the clip's VAE latents (4 × 8²) for the SD-style model, its pixels for the IF-style one
    assert latents.shape == ((1, 4, 4, 8, 8) if kind == "sd" else (1, 3, 4, 16, 16)) and latents.isfinite().all()
    assert 0 < timestep < 1000
    _, again = edit_video(clips / "keys.mp4", SOURCE, "a green circle moving left on a black background",
                          tmp_path / "green.mp4", mode="simda", tune_steps=2, steps=4, frames=4, model=folders[kind],
                          cache_dir=cache)
    assert sidecar(tmp_path / "green.mp4")["inversion"]["cached"]  # the same clip and model: tuned and inverted once
    assert again.shape == frames.shape and not torch.equal(again, frames)


@pytest.mark.parametrize("kind", KINDS)
def test_edit_command_from_the_folder(folders, clips, tmp_path, kind):
    out = tmp_path / "edit.mp4"
    assert main(["edit", "--model", str(folders[kind]), "--input", str(clips / "keys.mp4"), "--source-prompt", SOURCE,
                 "--prompt", EDITED, "--mode", "temporal", "--tune-steps", "1", "--steps", "2", "--frames", "4",
                 "--dtype", "bf16", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]) == 0
    frames, _ = read_video(out)
    assert frames.shape == (4, 3, 16, 16) and frames.isfinite().all()
    record = sidecar(out)
    assert record["kind"] == "edit" and record["model"] == str(folders[kind]) and record["mode"] == "temporal"
    assert ("vae" in record["model_hashes"]) == (kind == "sd")


# -- interpolation -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["group", "masked"])
def test_interpolators_train_and_run_from_the_folder(folders, tmp_path, kind, method):
    out = tmp_path / method
    state = train_interpolator(method, out, steps=2, batch_size=1, base=folders[kind], work_dir=tmp_path / "work",
                               keyframes=2, size=16)
    assert state["step"] == 2 and all(v == v for v in state["losses"])
    record = json.loads((out / "interp.json").read_text())
    assert record["latent"] == (kind == "sd") and record["size"] == 16 and ("vae_hash" in record) == (kind == "sd")
    pipe, hashes = interpolation_pipeline(method, out, model=folders[kind])
    channels = 4 if kind == "sd" else 3  # it works on VAE latents for the SD-style base, on pixels for the IF-style
    inputs = {"group": 5 * channels, "masked": 2 * channels + 1}[method]
    assert pipe.unet.video.unet.conv_in.in_channels == inputs and (pipe.vae is not None) == (kind == "sd")
    assert ("vae" in hashes) == (kind == "sd")
    video = torch.rand(3, 3, 14, 18, generator=torch.Generator().manual_seed(0))  # padded for the UNet, cropped back
    frames = pipe(video, num_inference_steps=2, generator=torch.Generator().manual_seed(0)).frames
    assert_frames(frames, (1, 9, 3, 14, 18))
    assert torch.equal(frames[0, ::4], video)  # the given keyframes, as they were (not through the VAE)


def test_a_latent_interpolator_needs_the_vae_it_learned_on(folders, tmp_path):
    out = tmp_path / "group"
    train_interpolator("group", out, steps=1, batch_size=1, base=folders["sd"], work_dir=tmp_path / "work",
                       keyframes=2)
    with pytest.raises(ValueError, match="VAE latents of a latent model.*pass --model"):
        interpolation_pipeline("group", out)
    with pytest.raises(ValueError, match="is not the one .* learned on"):
        interpolation_pipeline("group", out, model=folders["sd-other"])
    with pytest.raises(ValueError, match="no vae/: it is a pixel model"):
        interpolation_pipeline("group", out, model=folders["if"])
    with pytest.raises(ValueError, match="--size 12 must be a multiple of 8"):
        train_interpolator("group", tmp_path / "x", steps=1, batch_size=1, base=folders["sd"], size=12,
                           work_dir=tmp_path / "work-x")


@pytest.mark.parametrize("kind", KINDS)
def test_interp_commands_from_the_folder(folders, clips, tmp_path, capsys, kind):
    model = tmp_path / "group"
    assert main(["train-interp", "--method", "group", "--steps", "1", "--batch-size", "1", "--model", str(folders[kind]),
                 "--out", str(model), "--work-dir", str(tmp_path / "work")]) == 0
    out = tmp_path / "smooth.mp4"
    base = ["--model", str(folders[kind])] if kind == "sd" else []  # a pixel interpolator needs no base
    assert main(["interpolate", "--input", str(clips / "keys.mp4"), "--out", str(out), "--interp", str(model),
                 "--steps", "2", *base]) == 0
    frames, fps = read_video(out)
    assert frames.shape == (13, 3, 16, 16) and fps == 8
    record = sidecar(out)
    assert record["latent"] == (kind == "sd") and record["model"] == (str(folders[kind]) if kind == "sd" else None)
    assert record["frames_in"] == 4 and ("vae" in record["model_hashes"]) == (kind == "sd")
    if kind == "sd":
        capsys.readouterr()
        assert main(["interpolate", "--input", str(clips / "keys.mp4"), "--out", str(tmp_path / "x.mp4"),
                     "--interp", str(model)]) == 2
        err = capsys.readouterr().err
        assert "pass --model" in err and "Traceback" not in err and not (tmp_path / "x.mp4").exists()


# -- super-resolution --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_sr_trains_with_the_folders_text_encoder_and_upscales(folders, clips, tmp_path, kind):
    """An SR model of one's own, reading the base's text encoder (CLIP or T5), inflated and tuned, then upscaling."""
    image, temporal, out = tmp_path / "image", tmp_path / "temporal", tmp_path / "up.mp4"
    assert main(["train-sr", "--steps", "1", "--batch-size", "1", "--size", "8", "--scale", "2", "--channels", "8,16,16",
                 "--model", str(folders[kind]), "--out", str(image), "--work-dir", str(tmp_path / "run-image")]) == 0
    assert json.loads((image / "sr.json").read_text())["base"] == str(folders[kind])
    assert type(load_sr(image).text_encoder) is type(load_base(folders[kind]).text_encoder)
    assert main(["train-sr-video", "--mode", "temporal", "--steps", "1", "--frames", "3", "--model", str(image),
                 "--out", str(temporal), "--work-dir", str(tmp_path / "run-temporal")]) == 0
    assert main(["upscale", "--input", str(clips / "low.mp4"), "--out", str(out), "--model", str(image),
                 "--tuned", str(temporal), "--steps", "2", "--segment-frames", "3"]) == 0
    frames, _ = read_video(out)
    assert frames.shape == (5, 3, 16, 16) and frames.isfinite().all()
    record = sidecar(out)
    assert record["model"] == str(image) and record["mode"] == "temporal" and "video_unet" in record["model_hashes"]


def test_an_if_stage_ii_folder_loads_as_if_runs_it(folders):
    sr = load_sr(folders["if-sr"])
    assert sr.scale == 4 and not sr.residual and sr.noise_level == 250 and sr.align_corners
    assert sr.record["low_size"] == 8 and sr.record["format"] == "IF stage II"
    assert type(sr.text_encoder).__name__ == "T5EncoderModel" and sr.unet.config.out_channels == 6
    pipe, hashes = upscale_pipeline("zero-shot", folders["if-sr"])
    assert pipe.augmenter is pipe.image_noising_scheduler and set(hashes) == {"sr_unet", "text_encoder"}
    seen = []
    pipe.unet.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    low = torch.rand(1, 2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    frames = pipe(low, SOURCE, num_inference_steps=2, noise_level=0, consistency=0,
                  generator=torch.Generator().manual_seed(0)).frames
    assert_frames(frames, (1, 2, 3, 32, 32))  # the learned variance is dropped: three channels come out
    condition = F.interpolate(low[0] * 2 - 1, size=(32, 32), mode="bilinear", align_corners=True)  # IF's upsampling
    torch.testing.assert_close(seen[0][0, 3:].transpose(0, 1), condition, atol=1e-6, rtol=0)


def test_an_if_stage_ii_folder_upscales_zero_shot_and_tuned(folders, clips, tmp_path):
    zero, tuned = tmp_path / "zero.mp4", tmp_path / "tuned.mp4"
    assert main(["upscale", "--input", str(clips / "low.mp4"), "--out", str(zero), "--model", str(folders["if-sr"]),
                 "--steps", "2", "--segment-frames", "3"]) == 0
    frames, _ = read_video(zero)
    assert frames.shape == (5, 3, 32, 32) and frames.isfinite().all()
    record = sidecar(zero)
    assert record["model"] == str(folders["if-sr"]) and record["mode"] == "zero-shot" and record["noise_level"] == 250
    assert record["model_scale"] == 4 and record["segments"] == [[0, 3], [2, 5]]
    assert main(["train-sr-video", "--mode", "full", "--steps", "1", "--frames", "3", "--model", str(folders["if-sr"]),
                 "--out", str(tmp_path / "full"), "--work-dir", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "full" / "mode.json").read_text())["image_sr"] == str(folders["if-sr"])
    assert main(["upscale", "--input", str(clips / "low.mp4"), "--out", str(tuned), "--model", str(folders["if-sr"]),
                 "--tuned", str(tmp_path / "full"), "--steps", "2", "--segment-frames", "3"]) == 0
    assert read_video(tuned)[0].shape == (5, 3, 32, 32)
    assert sidecar(tuned)["mode"] == "full" and "video_unet" in sidecar(tuned)["model_hashes"]


def test_models_given_to_the_wrong_stage_say_what_to_use(folders, clips, tmp_path, capsys):
    from diffusers import UNet2DConditionModel

    x4 = tmp_path / "x4"  # SD's ×4 upscaler's layout: a VAE, and a UNet taking latents and low-resolution pixels
    UNet2DConditionModel(sample_size=8, in_channels=7, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
                         down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2, norm_num_groups=8,
                         cross_attention_dim=8, num_class_embeds=1000).save_pretrained(x4 / "unet")
    (x4 / "vae").mkdir()
    cases = [
        (["upscale", "--input", str(clips / "low.mp4"), "--model", str(x4)], "is a latent upscaler (SD ×4-style"),
        (["upscale", "--input", str(clips / "low.mp4"), "--model", str(folders["sd"])],
         "is a text-to-image model, not a super-resolution one: train an SR model"),
        (["upscale", "--input", str(clips / "low.mp4"), "--model", str(folders["if"])], "flipbook train-sr --model"),
        (["generate", "--prompt", SOURCE, "--model", str(folders["if-sr"])],
         "this is a super-resolution UNet (IF stage II-style"),
        (["train-interp", "--method", "group", "--model", str(folders["if-sr"]), "--work-dir", str(tmp_path / "w")],
         "flipbook upscale --model"),
    ]
    for args, fragment in cases:
        out = tmp_path / "out.mp4"
        assert main([*args, "--out", str(out)]) == 2, args
        err = capsys.readouterr().err
        assert fragment in err and "Traceback" not in err, (args, err)
        assert not out.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_the_whole_cascade_from_the_folder(folders, tmp_path, kind):
    """Every stage's model made from the folder (interpolator, SR reading its text encoder, an expert reading it
    too), then `generate --cascade --model FOLDER` from a prompt: 3 keyframes → 9 frames, 16² → 32²."""
    base, r = str(folders[kind]), tmp_path
    train = [["train-interp", "--method", "group", "--steps", "1", "--batch-size", "1", "--out", str(r / "interp")],
             ["train-sr", "--steps", "1", "--batch-size", "1", "--size", "16", "--scale", "2", "--channels", "8,16,16",
              "--out", str(r / "sr")],
             ["train-vae", "--steps", "1", "--batch-size", "1", "--size", "32", "--crop", "32", "--channels", "8,16,16",
              "--out", str(r / "vae")],
             ["train-expert", "--steps", "1", "--batch-size", "1", "--frames", "3", "--channels", "16,32,32", "--vae",
              str(r / "vae"), "--out", str(r / "t900")]]
    for i, argv in enumerate(train):
        model = [] if argv[0] == "train-vae" else ["--model", base]  # the VAE is the expert's own, not the base's
        assert main([*argv, *model, "--work-dir", str(r / f"run-{i}")]) == 0, argv[0]
    out = r / "cascade.mp4"
    assert main(["generate", "--cascade", "--prompt", SOURCE, "--model", base, "--frames", "3", "--steps", "2",
                 "--stage-steps", "2", "--interp", str(r / "interp"), "--sr", str(r / "sr"), "--expert",
                 str(r / "t900"), "--cascade-depth", "translate", "--out", str(out)]) == 0
    frames, fps = read_video(out)
    assert_frames(frames, (9, 3, 32, 32))
    record = sidecar(out)
    assert record["settings"]["model"] == base and fps == 8
    assert [s["stage"] for s in record["stages"]] == ["keyframes", "interpolate", "upscale", "translate"]
    hashes = record["model_hashes"]  # the keyframes and the SR stage read one text encoder: the folder's
    assert hashes["keyframes"]["text_encoder"] == hashes["upscale"]["text_encoder"] == hashes["translate"]["text_encoder"]
