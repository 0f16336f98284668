"""Torch datasets of world clips: (video, caption) at a chosen size, frame rate and frame count.

Clip i of a split is a pure function of (split, i, seed), so every epoch, process and machine sees the
same data with no files on disk.
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from .render import render
from .splits import sample_split_spec
from .vocab import ATTRIBUTES


class WorldVideos(Dataset):
    """Items: {"video": (3, F, H, W) float in [0, 1], "caption": str, "labels": {attr: class index}, "spec": dict}."""

    def __init__(self, split: str = "train", length: int = 10_000, size: int = 32, fps: float = 2.0,
                 frames: int = 8, seed: int = 0, n_objects: int = 1):
        self.split, self.length, self.size, self.fps, self.frames = split, length, size, fps, frames
        self.seed, self.n_objects = seed, n_objects

    def __len__(self):
        return self.length

    def __getitem__(self, index: int):
        if not 0 <= index < self.length:
            raise IndexError(index)
        spec, text = sample_split_spec(self.split, index, self.seed, self.n_objects)
        video = render(spec, self.size, self.fps, self.frames).permute(1, 0, 2, 3)  # f c h w -> c f h w
        attrs = spec.attributes()
        labels = {k: ATTRIBUTES[k].index(v) for k, v in attrs.items()}
        return {"video": video, "caption": text, "labels": labels, "spec": spec.to_dict()}


def collate(items: list[dict]) -> dict:
    """Batch items: video (B, 3, F, H, W), captions list, labels {attr: (B,)}, specs list."""
    return {
        "video": torch.stack([it["video"] for it in items]),
        "caption": [it["caption"] for it in items],
        "labels": {k: torch.tensor([it["labels"][k] for it in items]) for k in items[0]["labels"]},
        "spec": [it["spec"] for it in items],
    }
