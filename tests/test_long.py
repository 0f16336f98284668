"""Long clips and image-to-video (engine.diffusion.windows, TextToVideoPipeline's `context_window`, `long_method` and
`image`): windows that cover a clip and fuse exactly, FreeNoise's rescheduled noise, the UNet never seeing more than
a window, carried frames kept as made, and a given first frame kept as given, on the embedded model and on tiny
SD-style and IF-style folders."""
import json

import pytest
import torch

from engine.diffusion.windows import context_windows, fusion_weights, rescheduled_noise, windowed
from engine.pipelines.load import keyframe_pipeline
from engine.world import prompt_to_spec, render

from tiny_checkpoints import make_if_folder, make_sd_folder


# -- windows ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("frames, window, overlap", [(8, 8, 4), (20, 8, 4), (64, 8, 4), (23, 8, 2), (17, 16, 8),
                                                     (12, 8, 0), (3, 8, 4)])
def test_windows_cover_the_clip_each_the_window_long(frames, window, overlap):
    spans = context_windows(frames, window, overlap)
    covered = sorted({f for s in spans for f in s})
    assert covered == list(range(frames))
    assert all(len(s) == min(window, frames) for s in spans)
    assert spans[-1].stop == frames and spans[0].start == 0
    starts = [s.start for s in spans]
    assert all(b - a <= window - overlap for a, b in zip(starts, starts[1:]))  # consecutive windows overlap enough


@pytest.mark.parametrize("window, overlap, says", [(1, 0, "at least 2"), (8, 8, "overlap"), (8, -1, "overlap")])
def test_bad_windows_say_what_to_fix(window, overlap, says):
    with pytest.raises(ValueError, match=says):
        context_windows(20, window, overlap)


def test_fusion_weights_rise_to_the_middle_and_fall_symmetrically():
    w = fusion_weights(8)
    assert torch.equal(w, torch.tensor([1., 2., 3., 4., 4., 3., 2., 1.]))
    assert torch.equal(fusion_weights(5), torch.tensor([1., 2., 3., 2., 1.]))


def test_a_framewise_prediction_fuses_to_itself_and_the_model_sees_one_window_at_a_time():
    seen = []

    def predict(x, t):
        seen.append(x.shape[2])
        return x * 2 + t

    x = torch.randn(2, 3, 21, 4, 4)
    out = windowed(predict, 8, 3)(x, 1.0)
    assert torch.allclose(out, x * 2 + 1, atol=1e-6)
    assert set(seen) == {8} and len(seen) == len(context_windows(21, 8, 3))


def test_overlapping_windows_are_averaged_by_the_fusion_weights():
    """A prediction that says which window it ran in: frames where two windows meet get the weighted mean."""
    calls = iter(range(10))
    predict = lambda x, t: torch.full_like(x, float(next(calls)))
    out = windowed(predict, 4, 2)(torch.zeros(1, 1, 6, 1, 1), 0)[0, 0, :, 0, 0]
    # windows 0: frames 0–3 (weights 1 2 2 1), 1: frames 2–5 (weights 1 2 2 1)
    expected = torch.tensor([0., 0., (0 * 2 + 1 * 1) / 3, (0 * 1 + 1 * 2) / 3, 1., 1.])
    assert torch.allclose(out, expected)


def test_rescheduled_noise_keeps_the_first_window_and_shuffles_it_along():
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(1, 2, 20, 3, 3, generator=g)
    out = rescheduled_noise(noise, 8, 4, torch.Generator().manual_seed(1))
    assert torch.equal(out[:, :, :8], noise[:, :, :8])
    first = {tuple(noise[0, :, f].flatten().tolist()) for f in range(8)}
    for start in range(8, 20, 4):  # every later run is frames one window back, reordered
        run = {tuple(out[0, :, f].flatten().tolist()) for f in range(start, min(start + 4, 20))}
        back = {tuple(out[0, :, f].flatten().tolist()) for f in range(start - 8, start - 8 + len(run))}
        assert run == back and run <= first
    assert not torch.equal(out, rescheduled_noise(noise, 8, 4, torch.Generator().manual_seed(2)))


# -- the pipeline ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("long_checkpoints")
    return {"sd": make_sd_folder(root / "sd"), "if": make_if_folder(root / "if")}


def _pipe(kind, folders):
    pipe, _ = keyframe_pipeline("zero-shot", "dpm++", folders[kind]) if kind != "embedded" else \
        keyframe_pipeline("zero-shot", "dpm++")
    return pipe


def _frames_seen(pipe) -> list[int]:
    seen = []
    pipe.unet.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[2]))
    return seen


@pytest.mark.parametrize("kind", ["sd", "if"])
@pytest.mark.parametrize("method", ["windows", "autoregressive", "chunks"])
def test_a_long_clip_is_made_in_windows_the_model_was_sized_for(folders, kind, method):
    pipe = _pipe(kind, folders)
    seen = _frames_seen(pipe)
    video = pipe("a red circle moving right on a black background", num_frames=20, num_inference_steps=2,
                 generator=torch.Generator().manual_seed(0), context_window=8, context_overlap=4,
                 long_method=method).frames
    assert video.shape[:2] == (1, 20) and torch.isfinite(video).all()
    assert max(seen) <= 8  # the UNet never ran on more than a window


def test_autoregressive_windows_keep_the_frames_they_carry(folders):
    """Each window after the first starts from the last frames the one before made, and leaves them as made."""
    pipe = _pipe("if", folders)
    windows = []
    kept = lambda p, i, t, kw: windows.append((p.window, kw["latents"].clone())) or kw
    pipe("a red circle on a black background", num_frames=14, num_inference_steps=3, context_window=8,
         context_overlap=3, long_method="autoregressive", generator=torch.Generator().manual_seed(0),
         callback_on_step_end=kept)
    finals = [x for _, x in sorted({w: x for w, x in windows}.items())]  # each window's latents after its last step
    spans = context_windows(14, 8, 3)
    assert len(finals) == len(spans) == 3
    for (a, b), (before, after) in zip(zip(spans, spans[1:]), zip(finals, finals[1:])):
        shared = a.stop - b.start
        assert shared >= 3 and torch.equal(after[:, :, :shared], before[:, :, -shared:])


@pytest.mark.parametrize("kind", ["sd", "if", "embedded"])
def test_image_to_video_keeps_the_given_first_frame(folders, kind):
    pipe = _pipe(kind, folders)
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    spec = prompt_to_spec("a red square on a gray background", seed=0)
    image = render(spec, size=size, fps=2.0, frames=1)[0]  # (3, H, W) in [0, 1]
    video = pipe("a red square moving right on a gray background", num_frames=6, num_inference_steps=3,
                 image=image, generator=torch.Generator().manual_seed(0)).frames[0]
    assert torch.equal(video[0], image.clamp(0, 1))
    if kind == "embedded":  # a trained model carries it on (the tiny folders' weights are random)
        assert (video[1:] - image).abs().mean() < 0.1


@pytest.mark.parametrize("image, says", [(torch.rand(3, 10, 10), "resize it"), (torch.rand(4, 16, 16), "RGB"),
                                         ("frame.png", "RGB")])
def test_a_bad_first_frame_says_what_to_fix(folders, image, says):
    with pytest.raises(ValueError, match=says):
        _pipe("if", folders)("a red circle", num_frames=4, num_inference_steps=1, image=image)


@pytest.mark.parametrize("kwargs, says", [(dict(num_frames=300), "between 1 and 256"),
                                          (dict(num_frames=80), "give a context window"),
                                          (dict(num_frames=20, context_window=8, long_method="loop"), "windows, "),
                                          (dict(num_frames=20, context_window=8, context_overlap=8), "overlap")])
def test_bad_long_settings_say_what_to_fix(folders, kwargs, says):
    with pytest.raises(ValueError, match=says):
        _pipe("if", folders)("a red circle", num_inference_steps=1, **kwargs)


# -- the command line ----------------------------------------------------------------------------------------------

def _still(path, size=40):
    import imageio.v2 as iio
    frame = render(prompt_to_spec("a red square on a gray background", seed=1), size=size, fps=2.0, frames=1)[0]
    iio.imwrite(path, (frame.permute(1, 2, 0) * 255).round().byte().numpy())
    return path


@pytest.mark.parametrize("kind", ["sd", "if"])
@pytest.mark.parametrize("method", ["windows", "autoregressive"])
def test_a_long_clip_from_an_image_replays_from_its_sidecar(folders, tmp_path, kind, method):
    from engine.io import read_image, read_video
    from studio.cli import main

    still, out = _still(tmp_path / "still.png"), tmp_path / "long.mp4"
    args = ["generate", "--model", str(folders[kind]), "--prompt", "a red square moving right on a gray background",
            "--frames", "12", "--steps", "2", "--image", str(still), "--long-method", method]
    assert main(args + ["--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert (record["context_window"], record["context_overlap"], record["long_method"]) == (8, 4, method)
    assert record["image"] == str(still) and len(record["image_sha256"]) == 64
    video = read_video(out)[0]
    size = video.shape[-1]
    assert video.shape[0] == 12
    assert (video[0] - read_image(still, size, size)).abs().mean() < 0.02  # frame 0 as given, through H.264
    assert main(["generate", "--from", str(out.with_suffix(".json")), "--out", str(tmp_path / "again.mp4")]) == 0
    assert torch.equal(video, read_video(tmp_path / "again.mp4")[0])
    _still(still, size=48)  # another picture under the same name: the replay refuses it
    assert main(["generate", "--from", str(out.with_suffix(".json")), "--out", str(tmp_path / "third.mp4")]) == 2


@pytest.mark.parametrize("args, says", [(["--image", "missing.png"], "no image at"),
                                        (["--image", "notes.txt"], "not an image file name"),
                                        (["--frames", "300"], "frames"),
                                        (["--frames", "20", "--context-window", "8", "--context-overlap", "8"],
                                         "context overlap"),
                                        (["--frames", "80", "--context-window", "0"], "context window")])
def test_bad_long_clip_options_say_what_to_fix(folders, tmp_path, capsys, args, says):
    from studio.cli import main

    (tmp_path / "notes.txt").write_text("not a picture")
    args = [str(tmp_path / a) if a.endswith((".png", ".txt")) else a for a in args]
    code = main(["generate", "--model", str(folders["if"]), "--prompt", "a red circle on a black background",
                 "--steps", "1", "--out", str(tmp_path / "x.mp4")] + args)
    assert code == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()
