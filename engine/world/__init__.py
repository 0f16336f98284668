"""The synthetic world: specs, a renderer, captions and a prompt parser, splits and datasets."""
from .captions import Prompt, UnknownWordsError, caption, parse_prompt, prompt_to_spec, world_wording
from .dataset import WorldVideos, collate
from .render import render, render_at
from .spec import ClipSpec, ObjectSpec, SpecError, sample_spec
from .splits import HELD_OUT_PAIRS, SPLITS, is_held_out, sample_split_spec, spec_is_held_out
from .vocab import ATTRIBUTES, CLIP_SECONDS, known_words
