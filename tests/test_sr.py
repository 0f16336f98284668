"""Pixel super-resolution on tiny configs: the image SR UNet and its data, inflation into video SR (identity
before tuning), segments carrying their last frame, and the train-sr / train-sr-video / upscale commands."""
import json

import pytest
import torch
import torch.nn.functional as F

from engine.io import read_video, write_video
from engine.models.base import train_scheduler
from engine.models.inflate import inflate
from engine.models.sr import sr_forward, sr_unet
from engine.models.text import build_text_encoder, build_tokenizer
from engine.pipelines.load import SCHEDULERS
from engine.pipelines.upscale import VideoUpscalePipeline, segments, upscale_frames
from engine.training.sr import sr_batch, sr_loss
from engine.tuning import apply_mode
from studio.cli import main

FRAMES = 4


def tiny_unet(seed: int = 0):
    torch.manual_seed(seed)
    return sr_unet(sample_size=16, cross_attention_dim=16, channels=(8, 16, 16)).eval()


def tiny_pipe(mode: str, scale: int = 2) -> VideoUpscalePipeline:
    video = apply_mode(inflate(tiny_unet()), mode).eval()
    tok = build_tokenizer()
    torch.manual_seed(0)
    text = build_text_encoder(tok, hidden=16, layers=1, heads=2).eval()
    scheduler = SCHEDULERS["ddim"](dict(train_scheduler("v_prediction").config), True)
    pipe = VideoUpscalePipeline(video, text, tok, scheduler, scale=scale)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_batches_are_aligned_crops_of_two_renders():
    b = sr_batch(0, 2, low=16, scale=4, crop=32)
    assert b["high"].shape == (2, 3, 32, 32) and b["low"].shape == (2, 3, 8, 8) and len(b["captions"]) == 2
    # the low render is the high one box-filtered: the crops are the same window of the frame
    assert (F.avg_pool2d(b["high"], 4) - b["low"]).abs().mean() < 0.02
    clips = sr_batch(1, 1, low=8, scale=2, crop=None, frames=3, fps=8.0)
    assert clips["high"].shape == (1, 3, 3, 16, 16) and clips["low"].shape == (1, 3, 3, 8, 8)
    torch.testing.assert_close(sr_batch(1, 1, low=8, scale=2, crop=None, frames=3)["high"], clips["high"])
    with pytest.raises(ValueError, match="multiple of the scale"):
        sr_batch(0, 1, low=8, scale=4, crop=6)
    textures = sr_batch(0, 2, low=8, scale=2, crop=None, frames=3, texture_share=1.0)  # generic pans, no caption
    assert textures["captions"] == ["", ""] and textures["high"].shape == (2, 3, 3, 16, 16)
    torch.testing.assert_close(F.avg_pool3d(textures["high"], (1, 2, 2)), textures["low"])
    assert (textures["high"][:, :, 1] - textures["high"][:, :, 0]).abs().mean() > 0  # the window moves


def test_texture_pans_stay_below_the_low_resolution_nyquist_limit():
    """Gratings finer than the low frame can hold alias and make the residual unpredictable: only the hard edges
    put power above 0.5 cycles a low pixel (about 2% of it on average at ×4; gratings alone would reach half)."""
    import numpy as np

    from engine.training.sr import texture_pan

    def above_nyquist(img, scale):
        power = torch.fft.fft2(img - img.mean(dim=(-1, -2), keepdim=True)).abs() ** 2
        f = torch.fft.fftfreq(img.shape[-1])
        radius = (f[:, None] ** 2 + f[None, :] ** 2).sqrt()
        return (power[..., radius > 0.5 / scale].sum() / power.sum()).item()

    shares = [above_nyquist(texture_pan(np.random.default_rng(i), 128, 1, scale=4)[0], 4) for i in range(20)]
    assert np.mean(shares) < 0.05
    assert texture_pan(np.random.default_rng(0), 16, 3).shape == (3, 3, 16, 16)


def test_sr_unet_takes_six_channels_and_the_noise_level():
    unet = tiny_unet()
    x, cond, text = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16), torch.randn(2, 5, 16)
    with torch.no_grad():
        out = sr_forward(unet, x, cond, torch.tensor([5, 900]), text, torch.tensor([0, 0]))
        other = sr_forward(unet, x, cond, torch.tensor([5, 900]), text, torch.tensor([200, 200]))
    assert out.shape == (2, 3, 16, 16)
    assert (out - other).abs().max() > 1e-4  # the augmentation level reaches the UNet
    for prediction in ("v_prediction", "sample"):
        loss = sr_loss(unet, text, x.clamp(-1, 1), F.avg_pool2d(x.clamp(-1, 1), 2), train_scheduler(prediction), 0)
        loss.backward()
        assert loss.item() > 0 and unet.conv_in.weight.grad.abs().sum() > 0
        unet.zero_grad()


def test_a_residual_model_that_adds_nothing_returns_the_bicubic_upsample():
    pipe = tiny_pipe("temporal")
    torch.nn.init.zeros_(pipe.unet.unet.conv_out.weight)
    torch.nn.init.zeros_(pipe.unet.unet.conv_out.bias)
    pipe.scheduler = SCHEDULERS["ddim"](dict(train_scheduler("sample").config), True)
    low = torch.rand(1, 3, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    previews = []
    out = pipe(low, num_inference_steps=3, generator=torch.Generator().manual_seed(0), consistency=0,
               callback_on_step_end=lambda p, i, t, kw: previews.append(kw["frames"])).frames
    bicubic = F.interpolate(low[0] * 2 - 1, scale_factor=2, mode="bicubic").clamp(-1, 1) / 2 + 0.5
    torch.testing.assert_close(out[0], bicubic, atol=1e-6, rtol=0)
    # the step preview shows the sample as frames (residual plus bicubic), not the near-zero residual itself
    assert len(previews) == 3
    torch.testing.assert_close((previews[-1][0].transpose(0, 1) / 2 + 0.5).clamp(0, 1), bicubic, atol=1e-6, rtol=0)
    consistent = pipe(low, num_inference_steps=3, generator=torch.Generator().manual_seed(0), consistency=20).frames
    # back-projection: every frame box-averages back to its low-resolution frame, closer than bicubic does
    error = lambda frames: (F.avg_pool2d(frames[0], 2) - low[0]).abs().mean()
    assert error(consistent) < 0.2 * error(out)


@pytest.mark.parametrize("mode", ["zero-shot", "full", "temporal"])
def test_untuned_video_sr_is_the_image_sr_frame_by_frame(mode):
    g = torch.Generator().manual_seed(1)
    x, cond = torch.randn(2, 3, FRAMES, 16, 16, generator=g), torch.randn(2, 3, FRAMES, 16, 16, generator=g)
    t, level, text = torch.tensor([10, 700]), torch.tensor([0, 100]), torch.randn(2, 5, 16, generator=g)
    image = tiny_unet()
    with torch.no_grad():
        frames = torch.stack([sr_forward(image, x[:, :, i], cond[:, :, i], t, text, level) for i in range(FRAMES)], 2)
        video = apply_mode(inflate(tiny_unet()), mode).eval()
        out = sr_forward(video, x, cond, t, text, level)
        torch.testing.assert_close(out, frames, atol=2e-5, rtol=0)
        if mode != "zero-shot":  # the adapter is in the path: once it is not zero, frames see each other
            for p in video.added.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g))
            assert (sr_forward(video, x, cond, t, text, level) - frames).abs().max() > 1e-3


def test_segments_overlap_by_one_frame():
    assert segments(29, 8) == [(0, 8), (7, 15), (14, 22), (21, 29)]  # MPL-Video's four segments
    assert segments(5, 8) == [(0, 5)]
    assert segments(10, 8) == [(0, 8), (7, 10)]
    with pytest.raises(ValueError, match="at least 2"):
        segments(10, 1)


def test_the_last_frame_is_carried_into_the_next_segment():
    pipe = tiny_pipe("temporal")
    seen = []
    pipe.unet.register_forward_pre_hook(lambda m, args, kwargs: seen.append(args[0].clone()), with_kwargs=True)
    low = torch.rand(1, 6, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    out = pipe(low, "a red circle", num_inference_steps=2, segment_frames=4, noise_level=0,
               generator=torch.Generator().manual_seed(0)).frames
    assert out.shape == (1, 6, 3, 16, 16) and 0 <= out.min() and out.max() <= 1
    assert [s.shape[2] for s in seen] == [4, 4, 3, 3]  # two steps of segment (0, 4), two of (3, 6)
    carried_condition = seen[2][0, 3:, 0]  # the second segment's first frame: its condition channels
    torch.testing.assert_close(carried_condition / 2 + 0.5, out[0, 3], atol=1e-6, rtol=0)
    bilinear = F.interpolate(low[0, 3:4] * 2 - 1, scale_factor=2, mode="bilinear")[0]
    assert (carried_condition - bilinear).abs().mean() > 0.05  # not the low-res frame
    torch.testing.assert_close(seen[0][0, 3:, 1], F.interpolate(low[0, 1:2] * 2 - 1, scale_factor=2, mode="bilinear")[0])


def test_pipeline_rejects_bad_video():
    pipe = tiny_pipe("zero-shot")
    for bad, fragment in [(torch.rand(2, 3, 8, 8), "B, F, 3"), (torch.rand(1, 2, 3, 8, 8) * 2, r"\[0, 1\]"),
                          (torch.rand(1, 2, 3, 7, 8), "multiples of")]:
        with pytest.raises(ValueError, match=fragment):
            pipe(bad, num_inference_steps=1)
    with pytest.raises(ValueError, match="noise level"):
        pipe(torch.rand(1, 2, 3, 8, 8), num_inference_steps=1, noise_level=1000)


def test_upscale_frames_pads_crops_and_reports_every_step():
    pipe = tiny_pipe("temporal")  # ×2; high-resolution sides multiples of 4, so low ones of 2
    video = torch.rand(5, 3, 7, 9, generator=torch.Generator().manual_seed(0))
    steps = []
    frames, notes = upscale_frames(pipe, video, prompt="a red circle", steps=2, segment_frames=3,
                                   generator=torch.Generator().manual_seed(0),
                                   callback=lambda p, i, t, kw: steps.append((i, kw["latents"].shape)))
    assert frames.shape == (5, 3, 14, 18) and notes == ["padded 9×7 to 10×8 (edge pixels repeated) and cropped back "
                                                        "after upscaling"]
    assert [i for i, _ in steps] == [0, 1, 0, 1] and steps[0][1] == (1, 3, 3, 16, 20)  # two segments, padded
    padded = pipe(F.pad(video, (0, 1, 0, 1), mode="replicate")[None], "a red circle", 2, segment_frames=3,
                  generator=torch.Generator().manual_seed(0)).frames[0]
    torch.testing.assert_close(frames, padded[..., :14, :18])
    half, notes = upscale_frames(pipe, video, 1, steps=1, max_side=6)
    assert half.shape == (5, 3, 5, 6) and "scaled down from 9×7 to 6×5" in notes[0] and "×1" in notes[-1]
    with pytest.raises(ValueError, match="choose --scale from 1 to 2"):
        upscale_frames(pipe, video, 3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, base_dir):
    """A tiny ×2 image SR model (8² → 16², three UNet levels) and a temporal video mode, trained by the CLI."""
    root = tmp_path_factory.mktemp("sr")
    assert main(["train-sr", "--steps", "2", "--batch-size", "2", "--size", "8", "--scale", "2", "--crop", "16",
                 "--channels", "8,16,16", "--model", str(base_dir), "--out", str(root / "image"),
                 "--work-dir", str(root / "run-image")]) == 0
    assert main(["train-sr-video", "--mode", "temporal", "--steps", "1", "--batch-size", "1", "--frames", "3",
                 "--image", str(root / "image"), "--out", str(root / "temporal"),
                 "--work-dir", str(root / "run-temporal")]) == 0
    return root


def test_cli_round_trip_on_a_world_clip(trained, tmp_path, capsys):
    record = json.loads((trained / "image" / "sr.json").read_text())
    assert record["scale"] == 2 and (trained / "image" / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert json.loads((trained / "temporal" / "mode.json").read_text())["mode"] == "temporal"
    clip = tmp_path / "in.mp4"
    assert main(["render", "--prompt", "a red circle moving left on a checkerboard background", "--size", "8",
                 "--fps", "8", "--frames", "5", "--out", str(clip)]) == 0
    out = tmp_path / "up.mp4"
    assert main(["upscale", "--input", str(clip), "--out", str(out), "--model", str(trained / "image"),
                 "--tuned", str(trained / "temporal"), "--steps", "2", "--segment-frames", "3"]) == 0
    video, fps = read_video(out)
    assert video.shape == (5, 3, 16, 16) and fps == 8
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["mode"] == "temporal" and side["segments"] == [[0, 3], [2, 5]] and side["preprocess"] == []
    assert side["prompt"] == "a red circle moving left on a checkerboard background"  # from the input's sidecar
    assert set(side["model_hashes"]) == {"sr_unet", "text_encoder", "video_unet"}


def test_cli_upscales_any_clip_saying_what_it_did(trained, tmp_path, capsys):
    clip = tmp_path / "photo.gif"  # not from the world, an odd size, no sidecar
    write_video(clip, torch.rand(3, 3, 13, 21, generator=torch.Generator().manual_seed(0)), fps=5)
    out = tmp_path / "up.gif"
    assert main(["upscale", "--input", str(clip), "--out", str(out), "--model", str(trained / "image"),
                 "--mode", "zero-shot", "--steps", "1", "--max-side", "11"]) == 0
    printed = capsys.readouterr().out
    assert "scaled down from 21×13 to 11×7" in printed and "padded 11×7 to 12×8" in printed
    video, _ = read_video(out)
    assert video.shape == (3, 3, 14, 22)  # ×2, the padding cropped off
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["prompt"] == "" and side["input_size"] == [13, 21] and len(side["preprocess"]) == 2
    assert main(["upscale", "--input", str(clip), "--out", str(tmp_path / "one.gif"), "--model", str(trained / "image"),
                 "--mode", "zero-shot", "--steps", "1", "--scale", "1"]) == 0
    assert read_video(tmp_path / "one.gif")[0].shape == (3, 3, 13, 21)


def test_bad_input_is_one_line_naming_the_fix(trained, tmp_path, capsys):
    clip = tmp_path / "in.gif"
    write_video(clip, torch.rand(2, 3, 8, 8), fps=4)
    (tmp_path / "text.mp4").write_text("not a video")
    stale = tmp_path / "stale"
    stale.mkdir()
    for f in (trained / "temporal").iterdir():
        stale.joinpath(f.name).write_bytes(f.read_bytes())
    record = json.loads((stale / "mode.json").read_text())
    (stale / "mode.json").write_text(json.dumps({**record, "base_hash": "0" * 16}))
    image = ["--model", str(trained / "image")]
    cases = [
        (["--input", str(tmp_path / "none.mp4"), *image], "no file at"),
        (["--input", str(tmp_path / "text.mp4"), *image], "could not read"),
        (["--input", str(clip), "--scale", "3", *image], "upscales ×2; choose --scale from 1 to 2"),
        (["--input", str(clip), "--mode", "temporal", *image], "give --tuned FOLDER"),
        (["--input", str(clip), "--mode", "sharp", *image], "unknown super-resolution mode 'sharp'"),
        (["--input", str(clip), "--mode", "temporal", "--tuned", str(stale), *image], "tuned on another image SR model"),
        (["--input", str(clip), "--mode", "full", "--tuned", str(trained / "temporal"), *image], "pass --mode temporal"),
        (["--input", str(clip), "--mode", "zero-shot", "--tuned", str(trained / "temporal"), *image], "drop --tuned"),
        (["--input", str(clip), "--prompt", "a red hexagon", *image], "hexagon"),
        (["--input", str(clip), "--model", str(tmp_path)], "train one with `flipbook train-sr"),
    ]
    for args, fragment in cases:
        out = tmp_path / "out.mp4"
        assert main(["upscale", *args, "--out", str(out), "--steps", "1"]) == 2, args
        err = capsys.readouterr().err
        message = [line for line in err.splitlines() if line.startswith("flipbook upscale: error:")]
        assert len(message) == 1 and fragment in message[0] and "Traceback" not in err, (args, err)
        assert not out.exists()
    assert main(["train-sr-video", "--mode", "zero-shot", "--image", str(trained / "image"),
                 "--out", str(tmp_path / "z")]) == 2
    assert "choose a video SR mode" in capsys.readouterr().err
    assert main(["train-sr", "--channels", "8,x", "--out", str(tmp_path / "c")]) == 2
    assert "--channels must be" in capsys.readouterr().err
