"""Splits of the world: train, validation, and held-out attribute combinations never seen in training.

Train and validation share the same combinations and differ by their random streams (positions, phases,
captions); `heldout` clips each contain at least one pair of attributes listed in HELD_OUT_PAIRS, which
the train and validation streams never produce.
"""
from __future__ import annotations

import numpy as np

from .captions import caption
from .spec import ClipSpec, sample_spec

HELD_OUT_PAIRS = {
    ("shape", "colour"): {("circle", "purple"), ("square", "orange"), ("triangle", "cyan"),
                          ("star", "green"), ("ring", "red"), ("diamond", "yellow")},
    ("shape", "motion"): {("circle", "up-left"), ("square", "bounce"), ("triangle", "grow"),
                          ("star", "right"), ("ring", "down"), ("diamond", "shrink")},
    ("colour", "background"): {("blue", "sunset"), ("white", "checkerboard"), ("green", "gray")},
}
SPLITS = ("train", "val", "heldout")
_SPLIT_ID = {name: i for i, name in enumerate(SPLITS)}


def is_held_out(attrs: dict[str, str]) -> bool:
    """True if any attribute pair of one object is a held-out combination."""
    return any((attrs[a], attrs[b]) in pairs for (a, b), pairs in HELD_OUT_PAIRS.items())


def spec_is_held_out(spec: ClipSpec) -> bool:
    return any(is_held_out({**o.__dict__, "background": spec.background}) for o in spec.objects)


def split_rng(split: str, index: int, seed: int = 0) -> np.random.Generator:
    """The random stream of clip `index` of `split`: independent across splits, seeds and indices."""
    if split not in _SPLIT_ID:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    return np.random.default_rng([seed, _SPLIT_ID[split], index])


def sample_split_spec(split: str, index: int, seed: int = 0, n_objects: int = 1) -> tuple[ClipSpec, str]:
    """Clip `index` of `split`: its spec and a caption."""
    rng = split_rng(split, index, seed)
    if split == "heldout":
        spec = sample_spec(rng, n_objects=n_objects, allow=is_held_out)
    else:
        spec = sample_spec(rng, n_objects=n_objects, allow=lambda a: not is_held_out(a))
    return spec, caption(spec, rng)
