"""The latent end of the cascade on tiny configs, every model trained 1–2 steps by the real trainers through the
command line: the VAE, the expert (t ≤ 900), a temporal decoder, then expert translation, and `generate --cascade`
from a prompt through interpolation and pixel SR to the expert; plus the temporal decoder's identity at
initialisation (exact) and the expert's timestep range."""
import inspect
import json

import pytest
import torch
import torch.nn.functional as F
from torch.nn.modules.module import register_module_forward_pre_hook

from engine.io import read_video, write_video
from engine.models.base import train_scheduler
from engine.models.decoder import VARIANTS, TemporalDecoder, load_decoder
from engine.models.expert import VAE_ASSET, expert_timesteps, load_expert, world_vae
from engine.models.inflate import VideoUNet
from engine.sidecar import recorded_path
from engine.models.vae import decode_frames, encode_frames
from engine.pipelines.translate import keep_low_frequencies
from engine.training.base import diffusion_loss
from engine.training.decoder import decoder_loss
from studio.cli import main

PROMPT = "a red circle moving left on a black background"


@pytest.fixture(scope="module")
def models(tmp_path_factory, base_dir):
    """Tiny models at a 32² top resolution: VAE (8, 16, 16; latents 8²), expert, conv1d-attn decoder, and for the
    cascade a group interpolator and a ×2 SR model (16² → 32²) on the 16² test base. The timesteps the expert's
    video UNet sees while it trains are recorded."""
    root = tmp_path_factory.mktemp("cascade")
    seen = []
    hook = register_module_forward_pre_hook(
        lambda module, args: seen.append(torch.as_tensor(args[1]).flatten()) if isinstance(module, VideoUNet) else None)
    try:
        assert main(["train-vae", "--steps", "2", "--batch-size", "2", "--size", "32", "--crop", "32", "--channels",
                     "8,16,16", "--out", str(root / "vae"), "--work-dir", str(root / "run-vae")]) == 0
        assert main(["train-expert", "--steps", "2", "--batch-size", "2", "--frames", "3", "--channels", "16,32,32",
                     "--vae", str(root / "vae"), "--model", str(base_dir), "--out", str(root / "t900"),
                     "--work-dir", str(root / "run-t900")]) == 0
    finally:
        hook.remove()
    assert main(["train-decoder", "--variant", "conv1d-attn", "--steps", "1", "--batch-size", "1", "--frames", "3",
                 "--crop", "32", "--vae", str(root / "vae"), "--out", str(root / "decoder"),
                 "--work-dir", str(root / "run-decoder")]) == 0
    assert main(["train-interp", "--method", "group", "--steps", "1", "--batch-size", "1", "--model", str(base_dir),
                 "--out", str(root / "interp"), "--work-dir", str(root / "run-interp")]) == 0
    assert main(["train-sr", "--steps", "1", "--batch-size", "1", "--size", "16", "--scale", "2", "--channels",
                 "8,16,16", "--model", str(base_dir), "--out", str(root / "sr"), "--work-dir", str(root / "run-sr")]) == 0
    return {"root": root, "base": base_dir, "timesteps": torch.cat(seen)}


@torch.no_grad()
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_an_untrained_temporal_decoder_is_the_image_decoder_exactly(variant):
    torch.manual_seed(0)
    vae = world_vae(32, (8, 16, 16)).eval()
    z = encode_frames(vae, torch.rand(2, 3, 4, 32, 32) * 2 - 1)
    image = decode_frames(vae, z)
    decoder = TemporalDecoder.from_vae(vae, variant).eval()
    assert torch.equal(decoder(z), image)  # bit for bit: every temporal output starts at zero
    for i in range(4):  # and frame by frame: the image decoder on each frame alone
        assert torch.equal(decode_frames(vae, z[:, :, i:i + 1])[:, :, 0], image[:, :, i])
    for p in decoder.temporal_parameters():
        p.add_(0.05 * torch.randn_like(p))
    other = z.clone()
    other[:, :, 3] = torch.randn_like(other[:, :, 3])  # change only the last frame
    assert (decoder(other)[:, :, 0] - decoder(z)[:, :, 0]).abs().max() > 1e-4  # frames now see each other


@torch.no_grad()
def test_a_still_clip_decodes_still_to_its_ends_with_an_edge_frame():
    torch.manual_seed(0)
    vae = world_vae(32, (8, 16, 16)).eval()
    z = encode_frames(vae, torch.rand(1, 3, 1, 32, 32).repeat(1, 1, 6, 1, 1) * 2 - 1)  # one frame, six times
    spread = {}
    for variant in ("conv1d", "conv1d-attn"):
        decoder = TemporalDecoder.from_vae(vae, variant).eval()
        assert decoder.config.edge_frames == 1
        for p in decoder.temporal_parameters():
            p.add_(0.05 * torch.randn_like(p))
        # zero padding in time makes the end frames differ from the middle ones (flicker); each 3-frame layer
        # carries that one frame further in, so as many edge frames as layers keep a still clip exactly still
        for edge in (0, 1, len(decoder.temporal)):
            decoder.register_to_config(edge_frames=edge)
            out = decoder(z)
            spread[variant, edge] = (out - out[:, :, 2:3]).abs().amax().item()
    assert spread["conv1d", 1] < spread["conv1d", 0] and spread["conv1d", len(decoder.temporal)] < 1e-5
    assert spread["conv1d-attn", 1] < spread["conv1d-attn", 0]


@torch.no_grad()
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_still_decoder_keeps_a_still_clip_still_whatever_its_weights(variant):
    torch.manual_seed(0)
    vae = world_vae(32, (8, 16, 16)).eval()
    z = encode_frames(vae, torch.rand(1, 3, 1, 32, 32).repeat(1, 1, 6, 1, 1) * 2 - 1)  # one frame, six times
    decoder = TemporalDecoder.from_vae(vae, variant, still=True).eval()
    assert torch.equal(decoder(z), decode_frames(vae, z))  # untrained: still the image decoder, bit for bit
    for p in decoder.temporal_parameters():
        p.add_(0.05 * torch.randn_like(p))
    decoder.register_to_config(edge_frames=0)  # edge padding in every layer, no frame positions: no edge frames needed
    out = decoder(z)
    assert (out - out[:, :, :1]).abs().amax() < 1e-5  # still to float rounding (attention's sums differ by row)
    before = TemporalDecoder.from_vae(vae, variant).eval()  # the layers as before: zero padding, frame positions
    before.load_state_dict(decoder.state_dict(), strict=False)
    before.register_to_config(edge_frames=0)
    assert (before(z) - before(z)[:, :, :1]).abs().amax() > 1e-3
    moving = z.clone()
    moving[:, :, 3] = torch.randn_like(moving[:, :, 3])
    assert (decoder(moving)[:, :, 0] - out[:, :, 0]).abs().amax() > 1e-4  # and frames still see each other


def test_the_decoder_change_loss_sees_flicker_and_not_a_steady_error():
    vae = world_vae(32, (8, 16, 16)).eval()
    pixels = torch.rand(1, 3, 4, 32, 32) * 2 - 1
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0]).view(1, 1, 4, 1, 1)
    steady, flicker = (lambda z: pixels + 0.1), (lambda z: pixels + 0.1 * sign)
    for w in (0.0, 1.0):  # both err by 0.1 everywhere: the reconstruction term alone cannot tell them apart
        assert decoder_loss(steady, vae, pixels, w).item() == pytest.approx(0.01)
    assert decoder_loss(flicker, vae, pixels, 0.0).item() == pytest.approx(0.01)
    assert decoder_loss(flicker, vae, pixels, 1.0).item() == pytest.approx(0.01 + 0.04)  # each change errs by 0.2


def test_the_expert_never_trains_above_its_max_timestep(models):
    assert expert_timesteps(900) == (0, 901) and expert_timesteps(1000) == (0, 1000)
    with pytest.raises(ValueError, match="--max-timestep must be between 1 and 1000"):
        expert_timesteps(1001)
    scheduler, draws = train_scheduler("v_prediction"), []

    def forward(x, t, text):
        draws.append(t)
        return torch.zeros_like(x)

    x0 = torch.zeros(256, 1, 1, 1)
    for seed in range(20):  # 5120 draws of the loss the trainer uses
        diffusion_loss(forward, None, x0, scheduler, seed, timesteps=expert_timesteps(900))
    drawn = torch.cat(draws)
    assert drawn.max() == 900 and drawn.min() == 0
    assert len(models["timesteps"]) > 0 and models["timesteps"].max() <= 900  # what the real trainer fed its UNet


def test_trained_folders_load_and_say_what_they_are(models):
    root = models["root"]
    vae_record = json.loads((root / "vae" / "vae.json").read_text())
    assert vae_record["size"] == 32 and vae_record["factor"] == 4 and vae_record["scaling_factor"] > 0
    assert (root / "vae" / "loss.png").is_file()
    expert = load_expert(root / "t900")
    assert expert.max_timestep == 900 and expert.record["timesteps"] == [0, 900] and expert.size == 32
    assert expert.base.vae.config.scaling_factor == pytest.approx(vae_record["scaling_factor"], rel=1e-3)
    assert expert.record["vae"] == str((root / "vae").resolve())  # outside the repository: absolute
    assert recorded_path(VAE_ASSET) == "assets/vae"  # inside it: relative, so a clone elsewhere reads the same
    decoder, record = load_decoder(root / "decoder", expert.base.vae)  # made from this VAE: the hash matches
    assert record["variant"] == "conv1d-attn" and decoder.config.variant == "conv1d-attn"
    spatial = expert.base.vae.decoder.state_dict()  # training tuned the temporal layers only
    assert all(torch.equal(v, spatial[k]) for k, v in decoder.decoder.state_dict().items())


def test_a_decoder_finetune_tunes_the_whole_decoder_on_renders_of_every_size(models, tmp_path, capsys):
    root = models["root"]
    assert main(["train-decoder", "--variant", "conv1d", "--finetune", "decoder", "--sizes", "32,48", "--steps", "2",
                 "--batch-size", "1", "--frames", "3", "--crop", "32", "--lr", "1e-2", "--change-weight", "1",
                 "--vae", str(root / "vae"),
                 "--out", str(tmp_path / "decoder"), "--work-dir", str(tmp_path / "run")]) == 0
    vae = load_expert(root / "t900").base.vae
    decoder, record = load_decoder(tmp_path / "decoder", vae)  # the encoder is the VAE's: still its pair
    assert record["finetune"] == "decoder" and record["sizes"] == [32, 48] and record["crop"] == 32
    assert record["still"] is True and record["change_weight"] == 1.0 and decoder.config.still
    assert record["trained_parameters"] > record["temporal_parameters"]
    spatial = vae.decoder.state_dict()
    assert any(not torch.equal(v, spatial[k]) for k, v in decoder.decoder.state_dict().items())
    with pytest.raises(SystemExit):  # a render side that is no multiple of 4 is named before anything loads
        main(["train-decoder", "--sizes", "128,250", "--out", str(tmp_path / "never")])
    assert "multiples of 4 such as 128,256,512, got '128,250'" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_translate_a_clip_with_the_expert_and_the_temporal_decoder(models, tmp_path, capsys):
    root = models["root"]
    clip = tmp_path / "in.mp4"
    assert main(["render", "--prompt", PROMPT, "--size", "32", "--fps", "8", "--frames", "4", "--out", str(clip)]) == 0
    out = tmp_path / "fine.mp4"
    assert main(["translate", "--input", str(clip), "--out", str(out), "--expert", str(root / "t900"),
                 "--decoder", str(root / "decoder"), "--steps", "2", "--strength", "0.5"]) == 0
    video, fps = read_video(out)
    assert video.shape == (4, 3, 32, 32) and fps == 8 and torch.isfinite(video).all()
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["kind"] == "translate" and side["prompt"] == PROMPT and side["decoder"] == "conv1d-attn"
    assert side["max_timestep"] == 900 and set(side["seconds"]) == {"load", "translate"}
    assert side["peak_mb"]["translate"] >= 0 and side["segment_frames"] == 8 and side["segments"] == [[0, 4]]
    assert set(side["model_hashes"]) == {"expert_unet", "vae", "text_encoder", "decoder"}

    odd = tmp_path / "odd.gif"  # not from the world, an odd size, no sidecar: resized to the expert's resolution
    write_video(odd, torch.rand(2, 3, 13, 20, generator=torch.Generator().manual_seed(0)), fps=4)
    assert main(["translate", "--input", str(odd), "--out", str(tmp_path / "odd-out.gif"), "--expert",
                 str(root / "t900"), "--steps", "2", "--scheduler", "ddim"]) == 0
    assert "resized 20×13 to 32×16" in capsys.readouterr().out
    assert read_video(tmp_path / "odd-out.gif")[0].shape == (2, 3, 16, 32)
    assert json.loads((tmp_path / "odd-out.json").read_text())["decoder"] == "image"  # none made from this VAE

    for args, fragment in [(["--strength", "0.95"], "strength of at most 0.90"),
                           (["--expert", str(tmp_path)], "train one with `flipbook train-expert"),
                           (["--decoder", str(tmp_path)], "flipbook train-decoder"),
                           (["--prompt", "a red hexagon"], "hexagon")]:
        bad = tmp_path / "bad.mp4"
        assert main(["translate", "--input", str(clip), "--out", str(bad), "--expert", str(root / "t900"),
                     "--steps", "2", *args]) == 2, args
        err = capsys.readouterr().err
        assert fragment in err and "Traceback" not in err and not bad.exists(), (args, err)


def test_translate_up_in_resolution_keeping_the_inputs_low_frequencies(models, tmp_path, capsys):
    root, clip = models["root"], tmp_path / "in.mp4"
    assert main(["render", "--prompt", PROMPT, "--size", "32", "--fps", "8", "--frames", "3", "--out", str(clip)]) == 0
    out = tmp_path / "top.mp4"  # strength 0: the VAE alone, no denoising; to 64², the input's colours kept
    assert main(["translate", "--input", str(clip), "--out", str(out), "--expert", str(root / "t900"), "--decoder",
                 "image", "--strength", "0", "--size", "64", "--detail-sigma", "1.5"]) == 0
    assert "resized 32×32 to 64×64 (bilinear), the size asked for" in capsys.readouterr().out
    video, _ = read_video(out)
    side = json.loads(out.with_suffix(".json").read_text())
    assert video.shape == (3, 3, 64, 64) and side["size"] == [64, 64] and side["detail_sigma"] == 1.5
    assert main(["translate", "--input", str(clip), "--out", str(tmp_path / "bad.mp4"), "--expert",
                 str(root / "t900"), "--strength", "-0.1"]) == 2
    assert "strength must be in [0, 1]" in capsys.readouterr().err and not (tmp_path / "bad.mp4").exists()


def test_keeping_low_frequencies_drops_a_colour_shift_and_keeps_fine_detail():
    torch.manual_seed(0)
    video = torch.rand(1, 3, 2, 8, 8)
    base = F.interpolate(video.transpose(1, 2).flatten(0, 1), size=(32, 32), mode="bicubic",
                         align_corners=False).clamp(0, 1).view(1, 2, 3, 32, 32).transpose(1, 2)
    assert torch.allclose(keep_low_frequencies(video, base, 1.0), base, atol=1e-6)  # nothing changed: the input
    shifted = (base + 0.05).clamp(0, 1)  # the VAE's kind of error: a colour shift everywhere
    same = (shifted - base) == 0.05
    assert (keep_low_frequencies(video, shifted, 2.0) - base)[same].abs().max() < 0.02
    dot = base.clone()
    dot[:, :, :, 16, 16] = 1 - dot[:, :, :, 16, 16]  # one pixel of detail: most of it stays
    kept = keep_low_frequencies(video, dot, 1.0)
    assert ((kept - base)[:, :, :, 16, 16] / (dot - base)[:, :, :, 16, 16]).min() > 0.8


@torch.no_grad()
def test_translation_runs_in_segments_that_carry_their_last_frame(models):
    from engine.pipelines.translate import translation_pipeline
    from engine.world import render, sample_split_spec

    pipe, _ = translation_pipeline(models["root"] / "t900", decoder="image")
    spec, caption = sample_split_spec("val", 0)
    video = render(spec, 32, 8.0, 10, t0=1.0)[None]  # (1, 10, 3, 32, 32)
    seen, finals = [], []
    hook = pipe.unet.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[2]))
    last_step = len(pipe.get_timesteps(4, 0.5, "cpu")) - 1

    def keep_final(_, i, t, kw):
        if i == last_step:
            finals.append(kw["latents"].clone())

    run = lambda clip, **kw: pipe(clip, caption, 0.5, 4, generator=torch.Generator().manual_seed(3), **kw).frames
    try:
        segmented = run(video, segment_frames=4, callback_on_step_end=keep_final)  # (0, 4), (3, 7), (6, 10)
    finally:
        hook.remove()
    assert segmented.shape == video.shape and torch.isfinite(segmented).all()
    assert max(seen) == 4 and len(finals) == 3  # the UNet never saw more than a segment
    for before, after in zip(finals, finals[1:]):  # each segment ends on the latent the one before made
        assert torch.equal(after[:, :, 0], before[:, :, -1])
    assert torch.equal(run(video[:, :4], segment_frames=4), segmented[:, :4])  # later segments leave earlier ones
    whole = run(video, segment_frames=10)
    assert (whole - segmented).abs().max() > 1e-3  # one segment of ten is another computation
    assert (segmented - video).abs().mean() < 0.5  # and both stay a translation of the clip
    with pytest.raises(ValueError, match="segment frames must be between 2 and 64"):
        run(video, segment_frames=1)


def test_an_expert_trained_above_the_vae_size_translates_upward(models, tmp_path, capsys):
    """MPL-Video's expert raises the resolution: trained on clips rendered at 64² (the VAE's 32² crops of them),
    it translates a 32² clip into a 64² one."""
    from engine.pipelines.translate import translation_pipeline

    root = models["root"]
    assert main(["train-expert", "--steps", "1", "--batch-size", "1", "--frames", "2", "--channels", "16,32,32",
                 "--size", "64", "--crop", "32", "--vae", str(root / "vae"), "--model", str(models["base"]),
                 "--out", str(tmp_path / "t900"), "--work-dir", str(tmp_path / "run")]) == 0
    assert load_expert(tmp_path / "t900").size == 64
    clip = tmp_path / "in.mp4"
    assert main(["render", "--prompt", PROMPT, "--size", "32", "--fps", "8", "--frames", "2", "--out", str(clip)]) == 0
    out = tmp_path / "up.mp4"
    assert main(["translate", "--input", str(clip), "--out", str(out), "--expert", str(tmp_path / "t900"),
                 "--steps", "2"]) == 0
    assert read_video(out)[0].shape == (2, 3, 64, 64)
    assert translation_pipeline(tmp_path / "t900", "image")[0].config.sample_size == 64
    assert main(["train-expert", "--steps", "1", "--size", "50", "--vae", str(root / "vae"), "--model",
                 str(models["base"]), "--out", str(tmp_path / "bad"), "--work-dir", str(tmp_path / "run-bad")]) == 2
    assert "--size must be a multiple of 4" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def _cascade(models, out, *extra):
    root = models["root"]
    return main(["generate", "--cascade", "--prompt", PROMPT, "--model", str(models["base"]), "--frames", "3",
                 "--steps", "2", "--stage-steps", "2", "--interp", str(root / "interp"), "--sr", str(root / "sr"),
                 "--expert", str(root / "t900"), "--decoder", str(root / "decoder"), "--out", str(out),
                 "--cascade-depth", "translate", *extra])  # every stage (the measured default stops after upscaling)


def test_the_cascade_s_measured_defaults_tween_and_stop_after_upscaling_and_say_why(models, tmp_path, capsys):
    root, out = models["root"], tmp_path / "default.mp4"
    assert main(["generate", "--cascade", "--prompt", PROMPT, "--model", str(models["base"]), "--frames", "3",
                 "--steps", "2", "--stage-steps", "2", "--sr", str(root / "sr"), "--out", str(out)]) == 0
    side = json.loads(out.with_suffix(".json").read_text())
    assert [s["stage"] for s in side["stages"]] == ["keyframes", "interpolate", "upscale"]
    assert side["settings"]["interp_method"] == "tween" and side["model_hashes"]["interpolate"] == {}
    err = capsys.readouterr().err
    assert "interpolate: tween, since tweening (each keyframe's object moved to the in-between time) beats" in err
    assert "depth upscale: expert translation scores below its own input" in err
    assert read_video(out)[0].shape == (9, 3, 32, 32)


def test_the_later_stages_steps_are_one_measured_default_everywhere(capsys):
    from engine.cascade import run_cascade
    from engine.registry import MEASURED_WHY, STAGE_STEPS
    from studio.cascade import STAGE_STEPS as studio_default
    from studio.cli import build_parser
    args = build_parser().parse_args(["generate", "--cascade", "--prompt", PROMPT, "--out", "x.mp4"])
    assert args.stage_steps == STAGE_STEPS == studio_default == inspect.signature(run_cascade).parameters[
        "stage_steps"].default
    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "--help"])
    assert "pixel SR scores the same at 12 steps as at 20" in " ".join(capsys.readouterr().out.split())
    assert MEASURED_WHY["stage_steps"].startswith("pixel SR scores the same at 12 steps")


def test_the_cascade_from_a_prompt_end_to_end(models, tmp_path, capsys):
    out = tmp_path / "cascade.mp4"
    assert _cascade(models, out, "--keep-stages") == 0
    video, fps = read_video(out)
    assert video.shape == (9, 3, 32, 32) and fps == 8  # 3 keyframes → 9 frames, 16² → 32²
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["kind"] == "cascade" and side["decoder"] == "conv1d-attn"
    assert [s["stage"] for s in side["stages"]] == ["keyframes", "interpolate", "upscale", "translate"]
    assert [s["frames"] for s in side["stages"]] == [3, 9, 9, 9]
    assert [s["size"] for s in side["stages"]] == [[16, 16], [16, 16], [32, 32], [32, 32]]
    assert all(s["seconds"] > 0 and s["peak_mb"] >= 0 for s in side["stages"])
    assert set(side["model_hashes"]) == {"keyframes", "interpolate", "upscale", "translate"}
    for stage, shape in [("keyframes", (3, 3, 16, 16)), ("interpolate", (9, 3, 16, 16)), ("upscale", (9, 3, 32, 32))]:
        assert read_video(tmp_path / f"cascade-{stage}.mp4")[0].shape == shape
    printed = capsys.readouterr()
    assert "translate: 9 frames 32×32 at 8 fps" in printed.out
    for i, stage in enumerate(["keyframes", "interpolate", "upscale", "translate"], 1):  # progress, stage by stage
        assert f"[{i}/4] {stage}: " in printed.err and f"[{i}/4] {stage}: done in " in printed.err
    again = tmp_path / "again.mp4"
    assert main(["generate", "--from", str(out.with_suffix(".json")), "--out", str(again)]) == 0
    assert torch.equal(read_video(again)[0], video)  # the sidecar repeats the run


def test_the_cascade_translates_up_to_a_top_side_keeping_the_pixel_stages_colours(models, tmp_path):
    out = tmp_path / "top.mp4"
    assert _cascade(models, out, "--top", "64", "--strength", "0", "--detail-sigma", "1") == 0
    side = json.loads(out.with_suffix(".json").read_text())
    assert [s["size"] for s in side["stages"]][-2:] == [[32, 32], [64, 64]]  # upscale 32², then up to the top
    assert side["settings"]["top"] == 64 and side["settings"]["detail_sigma"] == 1
    video = read_video(out)[0]
    assert video.shape == (9, 3, 64, 64)
    again = tmp_path / "again.mp4"
    assert main(["generate", "--from", str(out.with_suffix(".json")), "--out", str(again)]) == 0
    assert torch.equal(read_video(again)[0], video)


def test_a_missing_stage_model_names_the_command_that_trains_it(models, tmp_path, capsys):
    none = tmp_path / "none"
    for flag, fragment, depth in [("--expert", "flipbook train-expert", "upscale"),
                                  ("--sr", "flipbook train-sr", "interpolate"),
                                  ("--interp", "flipbook train-interp", "keyframes")]:
        out = tmp_path / "out.mp4"
        assert _cascade(models, out, flag, str(none)) == 2
        err = capsys.readouterr().err
        line = [x for x in err.splitlines() if x.startswith("flipbook generate: error:")]
        assert len(line) == 1 and fragment in line[0] and f"--cascade-depth {depth}" in line[0], err
        assert not out.exists() and "Traceback" not in err
    out = tmp_path / "short.mp4"  # stopping before the missing models runs
    assert _cascade(models, out, "--expert", str(none), "--sr", str(none), "--cascade-depth", "interpolate") == 0
    assert read_video(out)[0].shape == (9, 3, 16, 16)
