"""Real-format checkpoints: every pipeline runs from a tiny SD-style (latent) and a tiny IF-style (pixel)
folder that the tests build themselves and save with diffusers' own `save_pretrained`."""
import json

import pytest
import torch

from engine.models.base import load_base
from engine.models.inflate import inflate
from engine.tuning import save_tuned
from engine.sidecar import model_hash
from engine.pipelines.load import keyframe_pipeline
from engine.pipelines.memory import MemoryOptions
from engine.tuning import MODES, apply_mode
from studio.cli import main

from tiny_checkpoints import make_if_folder, make_sd_folder

KINDS = ("sd", "if")
PROMPT = "a red circle moving left on a black background"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    return {"sd": make_sd_folder(root / "sd"), "if": make_if_folder(root / "if")}


def tuned_folder(base_folder, out, mode: str, extra: dict | None = None):
    """A tuned folder for `mode` on this base, its trainable tensors drawn at random (standing in for tuning)."""
    video = apply_mode(inflate(load_base(base_folder).unet), mode)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in video.named_parameters():
            if p.requires_grad and not name.startswith("unet."):
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    save_tuned(video, out, model_hash(video.unet), extra)
    return out


def run(pipe, frames=4, steps=2, **kwargs):
    return pipe(PROMPT, num_frames=frames, num_inference_steps=steps, guidance_scale=3.0,
                generator=torch.Generator().manual_seed(0), **kwargs).frames


def test_folders_load_as_latent_and_pixel_models(folders):
    sd, if_ = load_base(folders["sd"]), load_base(folders["if"])
    assert sd.latent and sd.vae_scale_factor == 2 and sd.channels == 4
    assert type(sd.text_encoder).__name__ == "CLIPTextModel" and type(sd.tokenizer).__name__ == "CLIPTokenizer"
    assert not if_.latent and if_.vae is None and if_.unet.config.out_channels == 6  # learned variance
    assert type(if_.text_encoder).__name__ == "T5EncoderModel" and type(if_.tokenizer).__name__ == "T5Tokenizer"
    for folder in folders.values():
        assert json.loads((folder / "model_index.json").read_text())["_class_name"] in ("StableDiffusionPipeline",
                                                                                       "IFPipeline")
        assert list(folder.rglob("*.safetensors")) and not list(folder.rglob("*.bin"))
    clip = torch.rand(2, 3, 4, 16, 16) * 2 - 1
    latents = sd.encode(clip)
    assert latents.shape == (2, 4, 4, 8, 8) and sd.decode(latents).shape == clip.shape
    torch.testing.assert_close(sd.decode(latents, chunk=3), sd.decode(latents), atol=1e-5, rtol=1e-4)
    assert if_.encode(clip) is clip


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_generates_from_the_folder(folders, tmp_path, kind, mode):
    tuned = tuned_folder(folders[kind], tmp_path / mode, mode) if mode != "zero-shot" else None
    pipe, hashes = keyframe_pipeline(mode, "ddim", model=folders[kind], tuned=tuned)
    frames = run(pipe)
    assert frames.shape == (1, 4, 3, 16, 16) and frames.isfinite().all() and 0 <= frames.min() <= frames.max() <= 1
    assert ("vae" in hashes) == (kind == "sd") and ("tuned" in hashes) == (mode != "zero-shot")
    if mode not in ("zero-shot", "full"):  # the tuned file holds the added modules only: small
        base_bytes = sum(p.stat().st_size for p in (folders[kind] / "unet").glob("*.safetensors"))
        assert (tuned / "tuned.safetensors").stat().st_size < base_bytes / 2


@pytest.mark.parametrize("kind", KINDS)
def test_schedulers_and_the_pyramid_from_the_folder(folders, tmp_path, kind):
    ddim, _ = keyframe_pipeline("zero-shot", "ddim", model=folders[kind])
    dpm, _ = keyframe_pipeline("zero-shot", "dpm++", model=folders[kind])
    assert run(dpm, steps=3).shape == run(ddim, steps=3).shape == (1, 4, 3, 16, 16)
    assert run(ddim, steps=4, pyramid=2).shape == (1, 4, 3, 16, 16)
    flow = tuned_folder(folders[kind], tmp_path / "flow", "temporal", {"form": "flow", "pyramid": 2})
    pipe, _ = keyframe_pipeline("temporal", "flow", model=folders[kind], tuned=flow)
    assert run(pipe, steps=3).isfinite().all() and run(pipe, steps=4, pyramid=2).shape == (1, 4, 3, 16, 16)
    with pytest.raises(ValueError, match="trained for flow"):
        keyframe_pipeline("temporal", "ddim", model=folders[kind], tuned=flow)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_half_precision_on_cpu_follows_fp32(folders, tmp_path, kind, dtype):
    tuned = tuned_folder(folders[kind], tmp_path / "simda", "simda")
    full, _ = keyframe_pipeline("simda", "ddim", model=folders[kind], tuned=tuned)
    half, _ = keyframe_pipeline("simda", "ddim", model=folders[kind], tuned=tuned, dtype=dtype)
    expected = torch.bfloat16 if dtype == "bf16" else torch.float16
    assert half.unet.dtype == expected and all(p.dtype == expected for p in half.unet.added.parameters())
    assert half.text_encoder.dtype == expected
    if kind == "sd":  # the VAE asks for fp32 under fp16 (force_upcast), as SDXL's does
        assert half.vae.dtype == (torch.float32 if dtype == "fp16" else torch.bfloat16)
    a, b = run(full), run(half)
    assert b.dtype == torch.float32 and (a - b).abs().mean() < 0.05


@pytest.mark.parametrize("kind", KINDS)
def test_memory_options_do_not_change_the_frames(folders, tmp_path, kind):
    tuned = tuned_folder(folders[kind], tmp_path / "simda", "simda")  # its latent-shift processors must survive
    plain, _ = keyframe_pipeline("simda", "ddim", model=folders[kind], tuned=tuned)
    latent = kind == "sd"
    options = MemoryOptions(attention="sliced", vae_slicing=latent, frame_chunk=1)
    lean, _ = keyframe_pipeline("simda", "ddim", model=folders[kind], tuned=tuned, memory=options)
    processors = {type(m.processor).__name__ for m in lean.unet.modules() if hasattr(m, "processor")}
    assert "LatentShiftAttnProcessor" in processors or not latent  # IF's blocks have no self-attention to shift
    assert processors & {"SlicedAttnProcessor", "SlicedAttnAddedKVProcessor"}
    torch.testing.assert_close(run(lean), run(plain), atol=1e-4, rtol=0)
    plain.enable_model_cpu_offload(device="cpu")  # the offload hooks, exercised on the CPU
    torch.testing.assert_close(run(plain), run(lean), atol=1e-4, rtol=0)
    if latent:
        tiled, _ = keyframe_pipeline("zero-shot", "ddim", model=folders[kind], memory=MemoryOptions(vae_tiling=True))
        assert run(tiled, frames=2, height=48, width=48).shape == (1, 2, 3, 48, 48)  # larger than one tile
    else:
        with pytest.raises(ValueError, match="pixel-space model"):
            keyframe_pipeline("zero-shot", model=folders[kind], memory=MemoryOptions(vae_slicing=True))
    with pytest.raises(ValueError, match="needs --device cuda"):
        keyframe_pipeline("zero-shot", model=folders[kind], memory=MemoryOptions(cpu_offload=True))


def test_missing_models_say_what_to_do(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="no such folder.*diffusers-format folder"):
        load_base(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="hub could not provide it.*HF_HUB_OFFLINE"):
        load_base("flipbook-tests/no-such-model")  # the tests run with HF_HUB_OFFLINE=1
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no unet/config.json"):
        load_base(tmp_path / "empty")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="--device cuda: .*use --device cpu"):
            load_base(tmp_path / "empty", device="cuda")
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        load_base(tmp_path / "empty", dtype="fp8")
    assert main(["generate", "--prompt", "a star", "--model", "flipbook-tests/no-such-model",
                 "--out", str(tmp_path / "x.mp4")]) == 2
    assert "hub could not provide it" in capsys.readouterr().err


def test_generate_command_from_the_sd_folder(folders, tmp_path):
    out = tmp_path / "sd.mp4"
    assert main(["generate", "--model", str(folders["sd"]), "--prompt", PROMPT, "--frames", "4", "--steps", "2",
                 "--dtype", "bf16", "--attention", "sliced", "--vae-slicing", "--frame-chunk", "2",
                 "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["mode"] == "zero-shot" and record["dtype"] == "bf16" and record["model"] == str(folders["sd"])
    assert record["memory"]["attention"] == "sliced" and record["memory"]["frame_chunk"] == 2
    assert record["size"] == [16, 16] and "vae" in record["model_hashes"]
    assert main(["generate", "--from", str(out.with_suffix(".json")), "--out", str(tmp_path / "again.mp4")]) == 0
    from engine.io import read_video

    assert torch.equal(read_video(out)[0], read_video(tmp_path / "again.mp4")[0])


@pytest.mark.parametrize("kind", KINDS)
def test_train_mode_from_the_folder(folders, tmp_path, kind):
    from engine.training.modes import train_mode

    clip = {"size": 16, "fps": 2.0, "frames": 4}
    state = train_mode("temporal", tmp_path / "tuned", steps=2, batch_size=2, base=folders[kind], clip=clip,
                       work_dir=tmp_path / "work", checkpoint_every=10)
    assert state["step"] == 2 and all(v == v for v in state["losses"])
    pipe, hashes = keyframe_pipeline("temporal", "ddim", model=folders[kind], tuned=tmp_path / "tuned")
    assert run(pipe).shape == (1, 4, 3, 16, 16) and "tuned" in hashes


def test_studio_generates_from_the_folder(folders, tmp_path):
    from studio.app import Outputs, build_app, generate_clip

    model = {"model": str(folders["sd"]), "modes": None, "dtype": "bf16", "device": "cpu",
             "memory": {"attention": "sliced", "frame_chunk": 2}}
    build_app(Outputs(tmp_path), model=model)
    _, files, record = generate_clip(PROMPT, "", 1, 4, 2, 3.0, "ddim", "zero-shot", Outputs(tmp_path), {},
                                     model=model)
    assert record["model"] == str(folders["sd"]) and record["dtype"] == "bf16" and len(files) == 2
