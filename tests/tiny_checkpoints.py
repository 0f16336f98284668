"""Tiny real-format checkpoints, built here with random weights: an SD-1.x-style latent pipeline folder and an
IF-style pixel pipeline folder, each written by diffusers' own pipeline `save_pretrained`.

- SD-style: unet/ (4-channel latent UNet2DConditionModel, CrossAttn blocks), vae/ (AutoencoderKL, 2× down),
  text_encoder/ (CLIPTextModel), tokenizer/ (a CLIP BPE tokenizer from a vocab.json and merges.txt written
  here), scheduler/ (PNDM, SD's scaled-linear schedule).
- IF-style: unet/ (3-channel pixel UNet with learned variance, SimpleCrossAttn blocks, T5 states projected
  by encoder_hid_proj, text-pooled added embedding), text_encoder/ (T5EncoderModel), tokenizer/ (a T5
  Unigram tokenizer built here), scheduler/ (DDPM, cosine, learned_range).
- IF stage II-style (super-resolution): an IFSuperResolutionPipeline folder, the same text side; unet/ takes the
  noisy frame and the upsampled low-resolution one (6 channels), the noise level as class labels (a timestep
  class embedding), learned variance; scheduler/ and image_noising_scheduler/ (both cosine).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

SD_TEXT_DIM, IF_TEXT_DIM, IF_CROSS_DIM = 32, 24, 32


def _world_words() -> list[str]:
    from engine.models.text import world_words

    return world_words()


def clip_tokenizer(folder: Path):
    """A byte-level BPE tokenizer in CLIP's format: every byte, every byte at a word's end, and merges that spell
    each world word whole (unknown words fall apart into letters, as with a real CLIP tokenizer)."""
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab = {tok: i for i, tok in enumerate(chars + [c + "</w>" for c in chars])}
    merges: list[str] = []
    for word in _world_words():
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            merge = f"{parts[0]} {parts[1]}"
            if merge not in merges:
                merges.append(merge)
            vocab.setdefault(parts[0] + parts[1], len(vocab))
            parts = [parts[0] + parts[1]] + parts[2:]
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return CLIPTokenizer.from_pretrained(folder, model_max_length=77)


def t5_tokenizer():
    """A Unigram tokenizer in T5's format: '▁'-prefixed world words, single characters for anything else."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("▁" + w, -2.0) for w in _world_words()]
    pieces += [(c, -8.0) for c in "▁abcdefghijklmnopqrstuvwxyz0123456789,.'-!?"]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=77)


def make_sd_folder(folder: str | Path, seed: int = 0, sample_size: int = 8) -> Path:
    """An SD-1.x-style StableDiffusionPipeline folder: latents 4×8×8 decode to 16×16 frames."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    folder = Path(folder)
    torch.manual_seed(seed)
    tok = clip_tokenizer(folder.parent / f".{folder.name}-bpe")
    text = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tok), hidden_size=SD_TEXT_DIM, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=77, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, projection_dim=SD_TEXT_DIM))
    unet = UNet2DConditionModel(
        sample_size=sample_size, in_channels=4, out_channels=4, block_out_channels=(16, 32, 32), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=SD_TEXT_DIM, attention_head_dim=4, norm_num_groups=8)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), latent_channels=4, norm_num_groups=4,
        sample_size=sample_size * 2, scaling_factor=0.18215)
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              num_train_timesteps=1000, set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def t5_text_encoder(tok):
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(T5Config(
        vocab_size=len(tok), d_model=IF_TEXT_DIM, d_kv=12, d_ff=48, num_layers=1, num_heads=2,
        relative_attention_num_buckets=8, feed_forward_proj="gated-gelu", pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.pad_token_id))


def make_if_folder(folder: str | Path, seed: int = 0, sample_size: int = 16) -> Path:
    """An IF-style (stage I) IFPipeline folder: 16×16 RGB, T5 states of width 24 projected to 32."""
    from diffusers import DDPMScheduler, IFPipeline, UNet2DConditionModel

    folder = Path(folder)
    torch.manual_seed(seed)
    tok = t5_tokenizer()
    text = t5_text_encoder(tok)
    unet = UNet2DConditionModel(
        sample_size=sample_size, in_channels=3, out_channels=6, block_out_channels=(16, 32, 32), layers_per_block=1,
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn", cross_attention_dim=IF_CROSS_DIM, attention_head_dim=8,
        encoder_hid_dim=IF_TEXT_DIM, encoder_hid_dim_type="text_proj", addition_embed_type="text",
        addition_embed_type_num_heads=2, resnet_time_scale_shift="scale_shift", act_fn="gelu", norm_num_groups=8)
    scheduler = DDPMScheduler(beta_schedule="squaredcos_cap_v2", variance_type="learned_range", thresholding=True,
                              dynamic_thresholding_ratio=0.95, sample_max_value=1.5, clip_sample=True)
    pipe = IFPipeline(tokenizer=tok, text_encoder=text, unet=unet, scheduler=scheduler, safety_checker=None,
                      feature_extractor=None, watermarker=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def make_if_sr_folder(folder: str | Path, seed: int = 0, sample_size: int = 32) -> Path:
    """An IF stage II-style IFSuperResolutionPipeline folder (the layout of DeepFloyd's IF-II, 64² → 256², at
    8² → 32²), its UNet configured as diffusers' own IF super-resolution tests configure theirs."""
    from diffusers import DDPMScheduler, IFSuperResolutionPipeline, UNet2DConditionModel

    folder = Path(folder)
    torch.manual_seed(seed)
    tok = t5_tokenizer()
    text = t5_text_encoder(tok)
    unet = UNet2DConditionModel(
        sample_size=sample_size, in_channels=6, out_channels=6, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn", cross_attention_dim=IF_CROSS_DIM, attention_head_dim=8,
        encoder_hid_dim=IF_TEXT_DIM, encoder_hid_dim_type="text_proj", addition_embed_type="text",
        addition_embed_type_num_heads=2, cross_attention_norm="group_norm", resnet_time_scale_shift="scale_shift",
        act_fn="gelu", class_embed_type="timestep", mid_block_scale_factor=1.414, time_embedding_act_fn="gelu",
        norm_num_groups=8)
    scheduler = DDPMScheduler(beta_schedule="squaredcos_cap_v2", variance_type="learned_range", thresholding=True,
                              dynamic_thresholding_ratio=0.95, sample_max_value=1.0, prediction_type="epsilon")
    noising = DDPMScheduler(beta_schedule="squaredcos_cap_v2")
    pipe = IFSuperResolutionPipeline(tokenizer=tok, text_encoder=text, unet=unet, scheduler=scheduler,
                                     image_noising_scheduler=noising, safety_checker=None, feature_extractor=None,
                                     watermarker=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
