"""Ghosting: what a linear blend of two keyframes leaves where an object moved further than its own size, two
half-transparent copies instead of one solid object. PSNR barely sees it (a ghost is half right twice); two
measures on a clip's frames against its ground truth do:

- **object count**: the connected regions of the foreground (pixels away from the known background, 8-connected,
  at least `MIN_AREA` pixels). A ghost shows two where the truth has one (`object_counts`);
- **translucent share**: of the foreground, the pixels that are neither the background nor any object's colour
  (a mix of the two), beyond what the truth's anti-aliased edges hold (`translucent_shares`).

`ghosting(out, truth, background, colours)` gives both per frame against the truth. The world renders flat colours
over a background it can render alone (`engine.world.render_background`), so both are exact there.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

THRESHOLD = 0.12  # a channel this far from the background (or from a colour) counts as away from it
MIN_AREA = 2      # pixels: smaller regions are noise, not objects
EIGHT = np.ones((3, 3), dtype=bool)


def _check(frames: torch.Tensor, background: torch.Tensor):
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"expected frames shaped (F, 3, H, W), got {tuple(frames.shape)}")
    if background.shape != frames.shape[1:]:
        raise ValueError(f"the background {tuple(background.shape)} must be one frame {tuple(frames.shape[1:])}")


def foreground(frames: torch.Tensor, background: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """(F, H, W) bool: the pixels of frames (F, 3, H, W) in [0, 1] away from the background (3, H, W)."""
    _check(frames, background)
    return (frames.float() - background.float()).abs().amax(1) > threshold


def object_counts(frames: torch.Tensor, background: torch.Tensor, threshold: float = THRESHOLD,
                  min_area: int = MIN_AREA) -> np.ndarray:
    """(F,) the number of foreground regions of at least `min_area` pixels in each frame."""
    counts = []
    for mask in foreground(frames, background, threshold).numpy():
        labels, n = ndimage.label(mask, structure=EIGHT)
        areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
        counts.append(int((areas >= min_area).sum()))
    return np.array(counts)


def translucent_shares(frames: torch.Tensor, background: torch.Tensor, colours: list[tuple[float, float, float]],
                       threshold: float = THRESHOLD) -> np.ndarray:
    """(F,) the share of each frame's foreground that is none of `colours` (each (r, g, b) in [0, 1]): a mix of an
    object and the background. 0 for a frame with no foreground."""
    fg = foreground(frames, background, threshold)
    if not colours:
        raise ValueError("give the objects' colours")
    near = torch.zeros_like(fg)
    for c in colours:
        near |= (frames.float() - torch.tensor(c).view(1, 3, 1, 1)).abs().amax(1) <= threshold
    mixed = (fg & ~near).flatten(1).sum(1).float()
    return (mixed / fg.flatten(1).sum(1).clamp(min=1)).numpy()


def ghosting(out: torch.Tensor, truth: torch.Tensor, background: torch.Tensor,
             colours: list[tuple[float, float, float]]) -> dict[str, np.ndarray]:
    """Per frame of `out` against `truth` (both (F, 3, H, W)): "count_error", |objects out − objects in the truth|;
    "extra_count", whether out shows more objects than the truth (a ghost: 1, else 0); "translucent", out's
    translucent share minus the truth's (its anti-aliased edges), at least 0."""
    if out.shape != truth.shape:
        raise ValueError(f"out {tuple(out.shape)} and truth {tuple(truth.shape)} differ in shape")
    n_out, n_truth = object_counts(out, background), object_counts(truth, background)
    excess = translucent_shares(out, background, colours) - translucent_shares(truth, background, colours)
    return {"count_error": np.abs(n_out - n_truth).astype(float), "extra_count": (n_out > n_truth).astype(float),
            "translucent": np.clip(excess, 0, None)}
