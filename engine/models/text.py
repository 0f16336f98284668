"""The embedded text side: a word-level tokenizer over the world's vocabulary and a tiny CLIPTextModel,
both plain transformers classes (save_pretrained / from_pretrained), trained from scratch with the base.

Real checkpoints bring their own tokenizer and encoder; the pipelines only use the transformers API.
"""
from __future__ import annotations

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedTokenizerFast

from ..world.captions import BACKGROUND_FILLERS, FILLERS
from ..world.vocab import known_words

SPECIALS = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
GLUE = ["and", "on", "against", "over", "in", "front", "of"]
MAX_LENGTH = 24


def world_words() -> list[str]:
    words = {w for phrases in known_words().values() for p in phrases for w in p.split()}
    return sorted(words | FILLERS | BACKGROUND_FILLERS | set(GLUE))


def build_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {tok: i for i, tok in enumerate(SPECIALS + world_words())}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.Lowercase(), normalizers.Replace(Regex(r"[^a-z0-9 ]"), " ")])
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]", special_tokens=[("[BOS]", vocab["[BOS]"]), ("[EOS]", vocab["[EOS]"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="[BOS]", eos_token="[EOS]", pad_token="[PAD]",
                                   unk_token="[UNK]", model_max_length=MAX_LENGTH)


def build_text_encoder(tokenizer, hidden: int = 64, layers: int = 2, heads: int = 4) -> CLIPTextModel:
    config = CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                            num_hidden_layers=layers, num_attention_heads=heads, max_position_embeddings=MAX_LENGTH,
                            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                            eos_token_id=tokenizer.eos_token_id, projection_dim=hidden)
    return CLIPTextModel(config)


def encode_prompts(tokenizer, text_encoder, prompts: list[str]):
    """(B, L, D) token states: what the UNet's cross-attention reads."""
    ids = tokenizer(prompts, padding="max_length", max_length=min(tokenizer.model_max_length, 77),
                    truncation=True, return_tensors="pt").input_ids.to(text_encoder.device)
    return text_encoder(ids)[0]
