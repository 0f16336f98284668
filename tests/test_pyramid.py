"""The temporal pyramid's math (TPDiff §3, derived in engine/diffusion/pyramid.py): stages, stage-wise targets, renoising, alignment."""
import json
import math

import pytest
import torch

from engine.diffusion.align import align_noise
from engine.diffusion.pyramid import DDIMForm, FlowForm, down, pyramid_sample, renoise, stage_target, stages, up
from engine.models.base import train_scheduler

FORMS = {"ddim": lambda: DDIMForm(train_scheduler().alphas_cumprod), "flow": FlowForm}


def test_down_averages_and_up_repeats():
    x = torch.arange(8.0).view(1, 1, 8, 1, 1)
    assert down(x, 2).flatten().tolist() == [0.5, 2.5, 4.5, 6.5]
    assert up(down(x, 4)).flatten().tolist() == [1.5, 1.5, 5.5, 5.5]
    with pytest.raises(ValueError, match="cannot be grouped"):
        down(torch.zeros(1, 1, 6, 1, 1), 4)


@pytest.mark.parametrize("name", FORMS)
def test_stages_run_slow_to_fast_and_start_at_half_the_snr(name):
    form = FORMS[name]()
    st = stages(form, 3)
    assert [s.k for s in st] == [2, 1, 0]
    assert st[0].start == form.noisiest and st[-1].end == form.clean
    for prev, nxt in zip(st, st[1:]):
        assert nxt.start > prev.end  # the next stage starts noisier than the last ended...
        assert form.snr(nxt.start) <= form.snr(prev.end) / 2 * (1 + 1e-6)  # ...at half its SNR or less
    if name == "flow":
        assert form.snr(st[1].start) == pytest.approx(form.snr(st[0].end) / 2)
    plain = stages(form, 3, corrected=False)
    assert [s.start for s in plain[1:]] == [s.end for s in plain[:-1]]


@pytest.mark.parametrize("name", FORMS)
def test_stage_targets_hit_both_ends_and_one_solver_step_stays_on_the_path(name):
    form = FORMS[name]()
    torch.manual_seed(0)
    x0 = torch.rand(2, 3, 8, 4, 4) * 2 - 1
    stage = stages(form, 3)[1]  # the middle stage: 4 frames, starting from an upsampled 2-frame clip
    noise = torch.randn(2, 3, 4, 4, 4)
    u, d = up(down(x0, 4)), down(x0, 2)
    (a_s, b_s), (a_e, b_e) = form.ab(stage.start), form.ab(stage.end)
    at = lambda t: stage_target(form, stage, x0, noise, torch.tensor([t, t]), top=False)
    torch.testing.assert_close(at(stage.start)[0], a_s * u + b_s * noise, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(at(stage.end)[0], a_e * d + b_e * noise, atol=1e-5, rtol=1e-5)
    t1, t2 = form.grid(stage.start, stage.end, 3)[1:3]
    x1, target = at(t1)
    x2, _ = at(t2)
    if name == "ddim":  # DDIM with the constant ε_k: x0̂ = (x − b ε)/a, then x' = a' x0̂ + b' ε
        (a1, b1), (a2, b2) = form.ab(t1), form.ab(t2)
        stepped = a2 * (x1 - b1 * target) / a1 + b2 * target
    else:  # an Euler step of dx/dσ, as FlowMatchEulerDiscreteScheduler takes it
        stepped = x1 + (t2 - t1) * target
    torch.testing.assert_close(stepped, x2, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", FORMS)
def test_renoising_gives_the_training_start_distribution(name):
    """Renoise many samples of a stage's end: mean a_s'·Up(D), covariance b_s'²·I, as training starts."""
    form = FORMS[name]()
    first, second = stages(form, 3)[:2]
    g = torch.Generator().manual_seed(0)
    n = 20000
    d = torch.rand(1, 1, 2, 2, 1) * 2 - 1  # one clip: 2 frames of 2 pixels
    a_e, b_e = form.ab(first.end)
    x_end = a_e * d + b_e * torch.randn(n, 1, 2, 2, 1, generator=g)
    x_start = renoise(form, x_end, first, second, generator=g).flatten(1).double()  # n, 4 frames × 2 pixels
    a_s, b_s = form.ab(second.start)
    torch.testing.assert_close(x_start.mean(0), (a_s * up(d)).flatten().double(), atol=0.03, rtol=0)
    cov = torch.cov(x_start.T)
    torch.testing.assert_close(cov, torch.eye(8, dtype=torch.float64) * float(b_s) ** 2, atol=0.03, rtol=0)
    repeated = up(x_end).flatten(1).double()  # without renoising, a repeated pair is perfectly correlated
    assert torch.corrcoef(repeated[:, :4].T)[0, 2] > 0.99


def test_renoising_refuses_a_start_above_half_the_snr():
    form = FlowForm()
    plain = stages(form, 3, corrected=False)
    with pytest.raises(ValueError, match="half the signal-to-noise"):
        renoise(form, torch.zeros(1, 1, 2, 1, 1), plain[0], plain[1])


def test_alignment_is_the_cheapest_permutation():
    torch.manual_seed(0)
    x0, noise = torch.randn(6, 3, 2, 2), torch.randn(6, 3, 2, 2)
    aligned = align_noise(x0, noise)
    cost = lambda n: (x0 - n).pow(2).sum().item()
    assert sorted(map(tuple, aligned.flatten(1).tolist())) == sorted(map(tuple, noise.flatten(1).tolist()))
    import itertools
    best = min(cost(noise[list(p)]) for p in itertools.permutations(range(6)))
    assert cost(aligned) == pytest.approx(best) and cost(aligned) <= cost(noise)


def _oracle(form, x0, plan):
    """The exact stage-wise model for data that is one clip x0: recover ε from x_t, return the stage target."""
    def model(x, timestep):
        stage = next(s for s in plan if s.stride == x0.shape[2] // x.shape[2])
        t = timestep.item() if form.name == "ddim" else timestep.item() / 1000
        top = stage is plan[0]
        u, d = (down(x0, stage.stride),) * 2 if top else (up(down(x0, 2 * stage.stride)), down(x0, stage.stride))
        (a_s, b_s), (a_e, b_e), (a_t, b_t) = form.ab(stage.start), form.ab(stage.end), form.ab(t)
        if form.name == "ddim":
            w = (a_s * b_t - a_t * b_s) / (a_s * b_e - a_e * b_s)
            eps = (x - a_t * u - a_e * w * (d - u)) / b_t
        else:
            tau = (stage.start - t) / (stage.start - stage.end)
            eps = (x - (1 - tau) * a_s * u - tau * a_e * d) / ((1 - tau) * b_s + tau * b_e)
        return stage_target(form, stage, x0.expand(len(x), -1, -1, -1, -1), eps, torch.full((len(x),), t), top)[1]
    return model


@pytest.mark.parametrize("name", FORMS)
def test_pyramid_sampling_with_an_exact_model_returns_the_clip(name):
    from engine.diffusion.pyramid import pyramid_sample

    form = FORMS[name]()
    torch.manual_seed(0)
    x0 = torch.rand(1, 3, 8, 4, 4) * 1.6 - 0.8
    seen = []
    out = pyramid_sample(_oracle(form, x0, stages(form, 3)), form, (2, 3, 8, 4, 4), count=3, steps=9,
                         generator=torch.Generator().manual_seed(1), callback=lambda i, t, x: seen.append(x.shape[2]))
    assert seen == [2] * 3 + [4] * 3 + [8] * 3  # frame rate rises stage by stage
    torch.testing.assert_close(out, x0.expand(2, -1, -1, -1, -1), atol=2e-3, rtol=0)


def test_pipeline_samples_through_the_pyramid(base_dir):
    from diffusers import FlowMatchEulerDiscreteScheduler

    from engine.pipelines.load import keyframe_pipeline

    pipe, _ = keyframe_pipeline("zero-shot", "ddim", model=base_dir)
    frames_seen = []
    grab = lambda p, i, t, kw: frames_seen.append(kw["latents"].shape[2])
    run = lambda **kw: pipe("a red circle moving left", num_frames=8, num_inference_steps=6, guidance_scale=2.0,
                            generator=torch.Generator().manual_seed(0), callback_on_step_end=grab, **kw).frames
    out = run(pyramid=3)
    assert out.shape == (1, 8, 3, 16, 16) and frames_seen == [2, 2, 4, 4, 8, 8]
    assert torch.equal(out, run(pyramid=3)) and not torch.equal(out, run(pyramid=3, renoise=False))
    pipe.scheduler = FlowMatchEulerDiscreteScheduler()
    assert run(pyramid=2).shape == (1, 8, 3, 16, 16)
    with pytest.raises(ValueError, match="multiple of 4"):
        pipe("a star", num_frames=6, pyramid=3)


def test_epsilon_from_v_recovers_the_noise_for_the_pyramids_ddim_steps():
    from engine.diffusion.pyramid import epsilon_from_v
    from engine.models.base import train_scheduler

    s = train_scheduler("v_prediction")
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(3, 3, 4, 8, 8, generator=g), torch.randn(3, 3, 4, 8, 8, generator=g)
    t = torch.tensor([10, 500, 990])
    x_t, v = s.add_noise(x0, eps, t), s.get_velocity(x0, eps, t)
    torch.testing.assert_close(epsilon_from_v(s.alphas_cumprod, x_t, t, v), eps, atol=1e-4, rtol=0)


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_a_diffusion_model_read_as_a_flow_gives_the_exact_velocity(prediction):
    """For data that is one clip x0, the exact ε- or v-model is known in closed form; read as a flow model it
    must return the flow's velocity ε − x0 at every σ (the change of variables, not an approximation)."""
    from engine.diffusion.reparam import FlowFromDiffusion
    from engine.models.base import train_scheduler

    ac = train_scheduler().alphas_cumprod
    x0 = torch.rand(1, 3, 4, 8, 8) * 2 - 1

    def exact(x_t, t, text):
        a = ac[t.long().clamp(max=999)].sqrt().view(-1, 1, 1, 1, 1)  # the wrapper asks at fractional t:
        frac = (t - t.floor()).view(-1, 1, 1, 1, 1)  # interpolate ᾱ in log-SNR as it does
        lo, hi = ac[t.floor().long()], ac[t.ceil().long()]
        ls = torch.lerp((lo / (1 - lo)).log(), (hi / (1 - hi)).log(), frac.flatten()).view(-1, 1, 1, 1, 1)
        a2 = torch.sigmoid(ls)
        a, b = a2.sqrt(), (1 - a2).sqrt()
        eps = (x_t - a * x0) / b
        return eps if prediction == "epsilon" else a * eps - b * x0

    flow = FlowFromDiffusion(exact, ac, prediction)
    eps = torch.randn(3, 3, 4, 8, 8)
    sigma = torch.tensor([0.2, 0.5, 0.9])
    x = (1 - sigma.view(-1, 1, 1, 1, 1)) * x0 + sigma.view(-1, 1, 1, 1, 1) * eps
    torch.testing.assert_close(flow(x, sigma * 1000, None), eps - x0, atol=2e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="epsilon or v"):
        FlowFromDiffusion(exact, ac, "sample")


@pytest.mark.parametrize("form", ["ddim", "flow"])
def test_pyramid_training_writes_a_folder_the_pipeline_samples_through_the_pyramid(base_dir, tmp_path, form):
    from engine.pipelines.load import keyframe_pipeline
    from engine.training.pyramid import train_pyramid

    out = tmp_path / f"pyramid-{form}"
    train_pyramid(form, out, count=2, steps=2, batch_size=2, base=base_dir, work_dir=tmp_path / "work")
    record = json.loads((out / "mode.json").read_text())
    assert record["form"] == form and record["pyramid"] == 2 and record["align"] is True
    assert record["prediction_type"] == "epsilon"  # the tiny base's own
    pipe, _ = keyframe_pipeline(record["mode"], "flow" if form == "flow" else "ddim", model=base_dir, tuned=out)
    frames = pipe("a red circle moving left", num_frames=4, num_inference_steps=4, guidance_scale=2.0, pyramid=2,
                  generator=torch.Generator().manual_seed(0)).frames
    assert frames.shape == (1, 4, 3, 16, 16) and torch.isfinite(frames).all()
    with pytest.raises(ValueError, match="trained for"):
        keyframe_pipeline(record["mode"], "ddim" if form == "flow" else "flow", model=base_dir, tuned=out)


@pytest.mark.parametrize("name", ["ddim", "flow"])
def test_part_way_starts_in_the_full_rate_stage(name):
    """A motion plan's frame method through the pyramid enters the full-rate stage (the last visited): at its
    start when the strength is noisier than that, else at the strength's time with its share of the steps."""
    from engine.diffusion.pyramid import begin_part_way

    form = FORMS[name]()
    plan = stages(form, 3)
    assert plan[2].stride == 1
    assert begin_part_way(form, plan, [8, 8, 8], 1.0) == (2, plan[2].start, 8)
    assert begin_part_way(form, plan, [8, 8, 8], 0.7) == (2, plan[2].start, 8)
    i, t, n = begin_part_way(form, plan, [8, 8, 8], 0.05)
    assert i == 2 and plan[2].end < t < plan[2].start and 1 <= n < 8


def test_pyramid_sampling_starts_part_way_from_a_clip():
    """With `begin`, sampling starts from the clip noised to the stage's time: a model that predicts the noise
    exactly (here: the clip is known) brings it back."""
    form = DDIMForm(train_scheduler().alphas_cumprod)
    clip = torch.rand(1, 3, 8, 4, 4) * 2 - 1
    clip = clip[:, :, :1].expand_as(clip).contiguous()  # a still clip: every stage's Up(Down) is the clip itself
    noise = torch.randn(1, 3, 8, 4, 4)

    def oracle(x, t):  # ε from x_t and the known clip
        a, b = form.ab(t)
        return (x - a * clip[:, :, :x.shape[2]]) / b

    out = pyramid_sample(oracle, form, clip.shape, 3, 12, begin=(clip, noise, 0.6))
    assert torch.allclose(out, clip, atol=1e-3)


def test_pyramid_on_the_default_install_picks_the_pyramid_model_and_its_own_scheduler(tmp_path, capsys):
    """`generate --pyramid` with nothing else: the embedded pyramid-trained folder, its stages and the DDIM steps
    the pyramid really takes; a scheduler it would ignore, a mode never trained for it, or other stages are
    refused with the fix, and nothing is written."""
    from engine.io import read_video
    from engine.registry import embedded_pyramid
    from studio.cli import main

    prompt = ["generate", "--prompt", "a red circle moving left on a black background", "--steps", "3"]
    out = tmp_path / "p.mp4"
    assert main(prompt + ["--pyramid", "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    own = json.loads((embedded_pyramid() / "mode.json").read_text())
    assert (record["pyramid"], record["scheduler"]) == (own["pyramid"], "ddim")
    assert record["tuned"] == str(embedded_pyramid())
    for args, says in [(["--pyramid", "--scheduler", "dpm++"], "drop --scheduler (or pass ddim)"),
                       (["--pyramid", "--mode", "temporal"], "was not trained for the temporal pyramid"),
                       (["--pyramid", str(own["pyramid"] + 1)], f"use --pyramid {own['pyramid']}"),
                       (["--pyramid", "--frames", "6"], "frames must be a multiple of 4")]:
        assert main(prompt + args + ["--out", str(tmp_path / "x.mp4")]) == 2
        assert says in capsys.readouterr().err
        assert not (tmp_path / "x.mp4").exists()
    # the scheduler it names is the one it used; an older sidecar that recorded dpm++ replays to the same frames
    assert main(prompt + ["--pyramid", "--scheduler", "ddim", "--out", str(tmp_path / "ddim.mp4")]) == 0
    assert torch.equal(read_video(out)[0], read_video(tmp_path / "ddim.mp4")[0])
    record["scheduler"] = "dpm++"
    out.with_suffix(".json").write_text(json.dumps(record))
    assert main(["generate", "--from", str(out.with_suffix(".json")), "--out", str(tmp_path / "again.mp4")]) == 0
    assert torch.equal(read_video(out)[0], read_video(tmp_path / "again.mp4")[0])


def test_without_the_pyramid_the_scheduler_is_honoured(tmp_path):
    from engine.io import read_video
    from studio.cli import main

    prompt = ["generate", "--prompt", "a red circle moving left on a black background", "--steps", "3"]
    for name in ("ddim", "dpm++"):
        assert main(prompt + ["--scheduler", name, "--out", str(tmp_path / f"{name}.mp4")]) == 0
    assert not torch.equal(read_video(tmp_path / "ddim.mp4")[0], read_video(tmp_path / "dpm++.mp4")[0])
