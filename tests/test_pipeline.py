"""The keyframe pipeline, `flipbook generate` and tuned-mode files, on a tiny base folder built here."""
import json

import pytest
import torch

from engine.io import read_video
from engine.models.base import base_unet, load_base
from engine.models.inflate import inflate
from engine.models.text import build_text_encoder, build_tokenizer
from engine.tuning import load_tuned, save_tuned
from engine.sidecar import model_hash
from engine.pipelines.load import keyframe_pipeline
from engine.training.base import train_scheduler
from engine.tuning import apply_mode
from studio.cli import main

from conftest import make_base


def test_base_folder_is_diffusers_format_fp16(base_dir):
    for sub in ("unet", "text_encoder", "tokenizer", "scheduler"):
        assert (base_dir / sub).is_dir()
    base = load_base(base_dir)
    assert base.unet.dtype == torch.float32 and base.unet.config.sample_size == 16
    assert not list(base_dir.rglob("*.bin")) and list(base_dir.rglob("*.safetensors"))


def test_pipeline_is_deterministic_and_calls_back(base_dir):
    pipe, hashes = keyframe_pipeline("zero-shot", "ddim", model=base_dir)
    steps = []
    run = lambda seed: pipe("a red circle moving left", num_frames=3, num_inference_steps=4, guidance_scale=3.0,
                            generator=torch.Generator().manual_seed(seed),
                            callback_on_step_end=lambda p, i, t, kw: steps.append(i)).frames
    a, b, c = run(0), run(0), run(1)
    assert a.shape == (1, 3, 3, 16, 16) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert steps == [0, 1, 2, 3] * 3
    assert set(hashes) == {"base_unet", "text_encoder"}


def test_stop_interrupts_after_the_current_step(base_dir):
    pipe, _ = keyframe_pipeline("zero-shot", "dpm++", model=base_dir)
    seen = []

    def stop_at_two(p, i, t, kw):
        seen.append(i)
        if i == 1:
            p.stop()

    pipe("a star", num_frames=2, num_inference_steps=10, callback_on_step_end=stop_at_two)
    assert seen == [0, 1]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"num_frames": 0}, "frames must be between"),
    ({"num_inference_steps": 0}, "steps must be between"),
    ({"guidance_scale": float("nan")}, "guidance must be"),
    ({"height": 12}, "multiples of 8"),
])
def test_pipeline_checks_inputs(base_dir, kwargs, fragment):
    pipe, _ = keyframe_pipeline("zero-shot", model=base_dir)
    with pytest.raises(ValueError, match=fragment):
        pipe("a star", **kwargs)


def test_generate_writes_video_and_sidecar_and_from_repeats_it(base_dir, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["generate", "--prompt", "a red circle moving left on a black background", "--seed", "3",
                 "--frames", "4", "--steps", "3", "--guidance", "2", "--mode", "zero-shot",
                 "--model", str(base_dir), "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["seed"] == 3 and record["steps"] == 3 and record["mode"] == "zero-shot"
    assert set(record["seconds"]) == {"load", "keyframes", "write"} and "base_unet" in record["model_hashes"]
    assert main(["generate", "--from", str(out.with_suffix(".json")), "--out", str(tmp_path / "again.mp4")]) == 0
    first, second = read_video(out)[0], read_video(tmp_path / "again.mp4")[0]
    assert first.shape == (4, 3, 16, 16) and torch.equal(first, second)


def test_generate_errors_are_clear(base_dir, tmp_path, capsys):
    args = ["generate", "--model", str(base_dir), "--mode", "zero-shot", "--steps", "2", "--frames", "2"]
    assert main(args + ["--prompt", "a red hexagon", "--out", str(tmp_path / "x.mp4")]) == 2
    assert "unknown words: 'hexagon'" in capsys.readouterr().err
    assert main(args + ["--prompt", "a star", "--mode", "temporal", "--out", str(tmp_path / "x.mp4")]) == 2
    assert "no tuned weights for mode 'temporal'" in capsys.readouterr().err
    assert main(args + ["--prompt", "a star", "--out", str(tmp_path / "nowhere" / "x.mp4")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", ["temporal", "simda", "full", "lora"])
def test_tuned_modes_save_small_and_load_back(base_dir, tmp_path, mode):
    video = apply_mode(inflate(load_base(base_dir).unet), mode)
    for n, p in video.named_parameters():
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.02)  # stands in for tuning
    save_tuned(video, tmp_path / mode, model_hash(video.unet))
    again = load_tuned(load_base(base_dir).unet, tmp_path / mode)
    x, text = torch.randn(1, 3, 2, 16, 16), torch.randn(1, 4, 16)
    with torch.no_grad():
        torch.testing.assert_close(again(x, 50, text), video(x, 50, text), atol=2e-3, rtol=1e-2)  # fp16 storage
    size = (tmp_path / mode / "tuned.safetensors").stat().st_size
    base_size = sum(p.stat().st_size for p in (base_dir / "unet").glob("*.safetensors"))
    assert (size < base_size / 2) == (mode != "full")


def test_tuned_mode_on_the_wrong_base_names_the_mismatch(base_dir, tmp_path):
    video = apply_mode(inflate(load_base(base_dir).unet), "temporal")
    save_tuned(video, tmp_path / "t", "x")
    other = make_base(tmp_path / "other", channels=(16, 32, 48))
    with pytest.raises(ValueError, match="does not fit this base|tuned shape"):
        load_tuned(load_base(other).unet, tmp_path / "t")
    with pytest.raises(FileNotFoundError, match="not a tuned mode"):
        load_tuned(load_base(other).unet, tmp_path)


def test_min_snr_weighting_by_hand():
    from engine.training.base import diffusion_loss

    sched = train_scheduler()
    x0 = torch.rand(6, 3, 4, 4) * 2 - 1
    predict_zero = lambda x, t, s: torch.zeros_like(x)  # so each sample's error is its own noise energy
    plain = diffusion_loss(predict_zero, None, x0, sched, seed=1)
    weighted = diffusion_loss(predict_zero, None, x0, sched, seed=1, snr_gamma=5.0)
    g = torch.Generator().manual_seed(1)  # the draws diffusion_loss makes, in its order
    noise = torch.randn(x0.shape, generator=g)
    t = torch.randint(0, 1000, (6,), generator=g)
    per_sample = noise.pow(2).flatten(1).mean(1)
    snr = sched.alphas_cumprod[t] / (1 - sched.alphas_cumprod[t])
    torch.testing.assert_close(plain, per_sample.mean())
    torch.testing.assert_close(weighted, (per_sample * snr.clamp(max=5.0) / snr).mean())
    assert diffusion_loss(predict_zero, None, x0, sched, seed=1, snr_gamma=1e12) == pytest.approx(plain.item())


def test_v_prediction_loss_targets_velocity():
    from engine.training.base import diffusion_loss

    sched = train_scheduler("v_prediction")
    x0 = torch.rand(4, 3, 4, 4) * 2 - 1
    g = torch.Generator().manual_seed(2)
    noise = torch.randn(x0.shape, generator=g)
    t = torch.randint(0, 1000, (4,), generator=g)
    a, b = sched.alphas_cumprod[t].sqrt().view(-1, 1, 1, 1), (1 - sched.alphas_cumprod[t]).sqrt().view(-1, 1, 1, 1)
    exact = lambda x, t_, s: a * noise - b * x0  # v = a·ε − b·x0: a model that knows it has zero loss
    assert diffusion_loss(exact, None, x0, sched, seed=2).item() < 1e-10
    snr = a.flatten() ** 2 / b.flatten() ** 2
    zero = lambda x, t_, s: torch.zeros_like(x)
    per_sample = (a * noise - b * x0).pow(2).flatten(1).mean(1)
    torch.testing.assert_close(diffusion_loss(zero, None, x0, sched, seed=2, snr_gamma=5.0),
                               (per_sample * snr.clamp(max=5.0) / (snr + 1)).mean())


def test_motion_weight_scales_only_what_differs_between_frames():
    from engine.training.base import diffusion_loss

    sched = train_scheduler("v_prediction")
    x0 = torch.rand(2, 3, 4, 4, 4) * 2 - 1  # b c f h w
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(x0.shape, generator=g)
    t = torch.randint(0, 1000, (2,), generator=g)
    target = sched.get_velocity(x0, noise, t)
    common = torch.randn(2, 3, 1, 4, 4)
    wobble = torch.randn(2, 3, 4, 4, 4)
    wobble = wobble - wobble.mean(2, keepdim=True)
    off_by_common = lambda x, t_, s: target + common  # the same error in every frame
    off_by_wobble = lambda x, t_, s: target + wobble  # errors that cancel over frames
    for lam in (1.0, 8.0):
        assert diffusion_loss(off_by_common, None, x0, sched, seed=3, motion_weight=lam).item() == \
            pytest.approx(common.pow(2).mean().item(), rel=1e-5)
        assert diffusion_loss(off_by_wobble, None, x0, sched, seed=3, motion_weight=lam).item() == \
            pytest.approx(lam * wobble.pow(2).mean().item(), rel=1e-5)


def test_frame_noise_mixes_one_draw_into_every_frame():
    from engine.diffusion.noise import frame_noise

    g = torch.Generator().manual_seed(0)
    z = frame_noise((4000, 1, 3, 2, 2), g, share=0.5)  # b c f h w
    flat = z[:, 0, :, 0, 0]  # 4000 samples of 3 frames
    cov = flat.T @ flat / len(flat)
    torch.testing.assert_close(cov.diagonal(), torch.ones(3), atol=0.08, rtol=0)  # each frame still N(0, 1)
    off = cov[~torch.eye(3, dtype=torch.bool)]
    torch.testing.assert_close(off, torch.full_like(off, 0.5), atol=0.08, rtol=0)  # two frames correlate by ρ
    plain = frame_noise((2, 3, 4, 8, 8), torch.Generator().manual_seed(1))
    torch.testing.assert_close(plain, torch.randn(2, 3, 4, 8, 8, generator=torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match="noise share"):
        frame_noise((1, 1, 2, 2, 2), None, share=1.5)


def test_a_mode_that_tuned_the_text_encoder_brings_it_and_its_noise(base_dir, tmp_path):
    from engine.tuning import load_text_encoder
    from engine.training.modes import train_mode

    train_mode("temporal", tmp_path / "t", steps=2, base=base_dir, work_dir=tmp_path / "w", tune_text=True,
               noise_share=0.5, clip={"size": 16, "fps": 2.0, "frames": 4})
    assert (tmp_path / "t" / "text_encoder.safetensors").is_file()
    pipe, _ = keyframe_pipeline("temporal", "ddim", model=base_dir, tuned=tmp_path / "t")
    assert pipe.unet.noise_share == 0.5
    base_table = load_base(base_dir).text_encoder.get_input_embeddings().weight
    assert not torch.equal(pipe.text_encoder.get_input_embeddings().weight, base_table)  # the tuned encoder is in
    from engine.models.text import build_text_encoder, build_tokenizer

    with pytest.raises(ValueError, match="another base"):
        load_text_encoder(build_text_encoder(build_tokenizer(), hidden=8, layers=1, heads=2), tmp_path / "t")
