"""Inflation and tuning modes on a tiny UNet2DConditionModel built here (random weights, real config)."""
import pytest
import torch
from diffusers import UNet2DConditionModel

from engine.models.attention import LatentShiftAttnProcessor, SpatioTemporalAttnProcessor
from engine.models.inflate import inflate
from engine.tuning import MODES, apply_mode

FRAMES = 4


def tiny_unet(seed: int = 0) -> UNet2DConditionModel:
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=16, in_channels=3, out_channels=3, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, attention_head_dim=4, norm_num_groups=8).eval()


@pytest.fixture(scope="module")
def inputs():
    g = torch.Generator().manual_seed(1)
    return (torch.randn(2, 3, FRAMES, 16, 16, generator=g), torch.tensor([10, 700]), torch.randn(2, 5, 16, generator=g))


@pytest.fixture(scope="module")
def image_outputs(inputs):
    x, t, text = inputs
    with torch.no_grad():
        return torch.stack([tiny_unet()(x[:, :, i], t, text).sample for i in range(FRAMES)], dim=2)


IDENTITY_MODES = [m for m in MODES if m != "simda"]


@pytest.mark.parametrize("mode", IDENTITY_MODES)
def test_untuned_video_unet_equals_the_image_unet_frame_by_frame(mode, inputs, image_outputs):
    x, t, text = inputs
    video = apply_mode(inflate(tiny_unet()), mode).eval()
    with torch.no_grad():
        out = video(x, t, text)
        one = video(x[:, :, :1], t, text)
    assert out.shape == x.shape
    torch.testing.assert_close(out, image_outputs, atol=2e-5, rtol=0)
    torch.testing.assert_close(one, image_outputs[:, :, :1], atol=2e-5, rtol=0)


def test_simda_is_the_image_unet_for_one_frame_and_mixes_frames_beyond(inputs, image_outputs):
    x, t, text = inputs
    video = apply_mode(inflate(tiny_unet()), "simda").eval()
    with torch.no_grad():
        one = video(x[:, :, :1], t, text)
        out = video(x, t, text)
    torch.testing.assert_close(one, image_outputs[:, :, :1], atol=2e-5, rtol=0)
    torch.testing.assert_close(out[:, :, 0], image_outputs[:, :, 0], atol=2e-5, rtol=0)  # frame 0 sees only itself
    assert (out[:, :, 1:] - image_outputs[:, :, 1:]).abs().max() > 1e-3  # later frames see their predecessor


def test_inflated_frames_are_independent_until_tuned(inputs):
    """Zero-shot: changing frame 2 changes no other frame's output; a tuned temporal module does."""
    x, t, text = inputs
    y = x.clone()
    y[:, :, 2] += 1.0
    zs = apply_mode(inflate(tiny_unet()), "zero-shot").eval()
    with torch.no_grad():
        diff = (zs(x, t, text) - zs(y, t, text)).abs().amax(dim=(0, 1, 3, 4))
    assert diff[[0, 1, 3]].max() == 0 and diff[2] > 0
    tuned = apply_mode(inflate(tiny_unet()), "temporal").eval()
    for p in tuned.added.parameters():
        torch.nn.init.normal_(p, std=0.05)
    with torch.no_grad():
        diff = (tuned(x, t, text) - tuned(y, t, text)).abs().amax(dim=(0, 1, 3, 4))
    assert diff[[0, 1, 3]].min() > 0


@pytest.mark.parametrize("mode", list(MODES))
def test_modes_train_what_they_say(mode):
    video = apply_mode(inflate(tiny_unet()), mode)
    trainable = {n for n, p in video.named_parameters() if p.requires_grad}
    counts = video.count_parameters()
    if mode == "zero-shot":
        assert not trainable
    elif mode == "full":
        assert counts["trainable"] == counts["total"]
    elif mode == "lora":
        assert trainable and all(n.startswith("added.") or "lora_" in n for n in trainable)
        assert any("lora_" in n for n in trainable)
    else:
        assert trainable and all(n.startswith("added.") for n in trainable)
        assert counts["trainable"] == counts["added"]


def test_temporal_mode_tunes_a_small_share():
    video = apply_mode(inflate(tiny_unet()), "temporal")
    counts = video.count_parameters()
    assert counts["trainable"] / counts["total"] < 0.15


def test_gradients_reach_only_trainable_modules(inputs):
    x, t, text = inputs
    video = apply_mode(inflate(tiny_unet()), "ff-conv1d-attn1d-blocks")
    video(x, t, text).square().mean().backward()
    assert all(p.grad is None for n, p in video.named_parameters() if not n.startswith("added."))
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in video.added.parameters())


def test_simda_ablation_switches_parts_off():
    full = apply_mode(inflate(tiny_unet()), "simda")
    no_ta = apply_mode(inflate(tiny_unet()), "simda", ablate={"ta"})
    no_lsa = apply_mode(inflate(tiny_unet()), "simda", ablate={"lsa"})
    assert any("temporal_adapter" in k for k in full.added) and not any("temporal_adapter" in k for k in no_ta.added)
    procs = lambda v: {type(p).__name__ for p in v.unet.attn_processors.values()}
    assert "LatentShiftAttnProcessor" in procs(full) and "LatentShiftAttnProcessor" not in procs(no_lsa)


def test_modes_are_checked():
    with pytest.raises(ValueError, match="unknown mode"):
        apply_mode(inflate(tiny_unet()), "turbo")
    video = apply_mode(inflate(tiny_unet()), "temporal")
    with pytest.raises(ValueError, match="already has mode"):
        apply_mode(video, "full")


def _attention_by_hand(attn, tokens_q, tokens_kv):
    q, k, v = attn.to_q(tokens_q), attn.to_k(tokens_kv), attn.to_v(tokens_kv)
    split = lambda z: z.view(z.shape[0], z.shape[1], attn.heads, -1).transpose(1, 2)
    w = torch.softmax(split(q) @ split(k).transpose(-1, -2) / split(q).shape[-1] ** 0.5, dim=-1)
    out = (w @ split(v)).transpose(1, 2).reshape(q.shape)
    return attn.to_out[0](out)


def test_latent_shift_keys_and_values_by_hand():
    from diffusers.models.attention_processor import Attention

    from engine.models.temporal import FrameContext

    torch.manual_seed(0)
    attn = Attention(query_dim=16, heads=2, dim_head=8).eval()
    ctx = FrameContext(frames=3)
    tokens = torch.randn(2 * 3, 5, 16)  # (b f) t c
    attn.set_processor(LatentShiftAttnProcessor(ctx))
    with torch.no_grad():
        got = attn(tokens)
        frames = tokens.view(2, 3, 5, 16)
        for b in range(2):
            for f in range(3):
                prev = frames[b, max(f - 1, 0)]
                kv = torch.cat([frames[b, f], prev])[None]
                want = _attention_by_hand(attn, frames[b, f][None], kv)
                torch.testing.assert_close(got[b * 3 + f], want[0], atol=1e-5, rtol=1e-5)
        attn.set_processor(SpatioTemporalAttnProcessor(ctx))
        full = attn(tokens)
        want = _attention_by_hand(attn, frames[0].reshape(1, 15, 16), frames[0].reshape(1, 15, 16))
        torch.testing.assert_close(full[:3].reshape(1, 15, 16), want, atol=1e-5, rtol=1e-5)


def test_added_modules_save_apart_from_the_base(tmp_path):
    from safetensors.torch import load_file, save_file

    video = apply_mode(inflate(tiny_unet()), "temporal")
    assert set(video.unet.state_dict()) == set(tiny_unet().state_dict()), "base keys unchanged"
    for p in video.added.parameters():
        torch.nn.init.normal_(p, std=0.05)  # stands in for tuning
    save_file(video.added_state_dict(), str(tmp_path / "temporal.safetensors"))
    again = apply_mode(inflate(tiny_unet()), "temporal")
    again.added.load_state_dict(load_file(str(tmp_path / "temporal.safetensors")))
    x, text = torch.randn(1, 3, 2, 16, 16), torch.randn(1, 3, 16)
    with torch.no_grad():
        torch.testing.assert_close(again(x, 5, text), video(x, 5, text))
        assert (video(x, 5, text) - apply_mode(inflate(tiny_unet()), "temporal")(x, 5, text)).abs().max() > 1e-4
