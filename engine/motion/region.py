"""Where the object is: the region of a frame that differs from its background (engine/motion/README.md).

Backgrounds in the world, and in most stills, change slowly along a row (solid colours, vertical
gradients), so each row's median is a good estimate of the background there; the object is what stands
more than `threshold` away from it (RGB distance, frames in [0, 1]), grown by a pixel to take in its
anti-aliased edge. A background of two alternating colours (the world's checkerboard) defeats a row median: a
good part of every row stands away from it (93 % of a rendered checkerboard frame came out "object", so a plan
slid the whole board and the object on it moved half as far as planned and grew). Such a frame is told by what
stands away falling into many separate pieces (world frames: an object is 1 to 6 pieces, a checkerboard 28 to 80);
there the background is two colours, the medians of what is near its row medians and of what is not, and the object
is what stands away from both. Only the region moves under a plan; the background estimate fills what it uncovers.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from scipy import ndimage

THRESHOLD = 0.25
PIECES = 16  # what stands away from the row medians in this many separate pieces or more: a patterned background


@dataclass
class Region:
    mask: torch.Tensor        # (B, 1, H, W) float, 1 on the object
    centre: torch.Tensor      # (B, 2) the object's centre, pixel coordinates (x, y), pixel centres at k + 0.5
    background: torch.Tensor  # (B, 3, H, W) the background estimate, in [0, 1]

    @property
    def found(self) -> torch.Tensor:
        """(B,) whether any object pixel was found."""
        return self.mask.flatten(1).sum(1) > 0


def row_median(image: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    """Per row, the median colour (of the pixels in `keep`, where given and non-empty): (B, C, H, W)."""
    if keep is None:
        return image.median(dim=3, keepdim=True).values.expand_as(image)
    masked = torch.where(keep.bool(), image, torch.full_like(image, float("nan")))
    med = masked.nanmedian(dim=3, keepdim=True).values
    fallback = image.median(dim=3, keepdim=True).values
    return torch.where(torch.isnan(med), fallback, med).expand_as(image)


def patterned(far: torch.Tensor) -> torch.Tensor:
    """(B, 1, 1, 1): whether a frame's pixels away from its row medians (`far`, (B, 1, H, W)) fall into PIECES or
    more separate pieces (8-connected): a background pattern such as a checkerboard, not objects."""
    pieces = [ndimage.label(m[0].numpy(), structure=torch.ones(3, 3).numpy())[1] for m in far.cpu()]
    return torch.tensor([n >= PIECES for n in pieces], device=far.device).view(-1, 1, 1, 1)


def masked_median(image: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(B, C, 1, 1): each frame's median colour over the pixels in `keep` (B, 1, H, W); 0 where there are none."""
    masked = torch.where(keep, image, torch.full_like(image, float("nan")))
    return rearrange(masked, "b c h w -> b c (h w)").nanmedian(dim=2).values.nan_to_num(0)[..., None, None]


def find_region(image: torch.Tensor, threshold: float = THRESHOLD) -> Region:
    """The object region of frames (B, 3, H, W) in [0, 1]."""
    rough = row_median(image)
    first = (image - rough).norm(dim=1, keepdim=True) > threshold
    background = row_median(image, ~first)
    far = (image - background).norm(dim=1, keepdim=True) > threshold
    pattern = patterned(first)
    if pattern.any():
        colours = [masked_median(image, ~first), masked_median(image, first)]
        apart = torch.stack([(image - c).norm(dim=1, keepdim=True) > threshold for c in colours]).all(0)
        far = torch.where(pattern, apart, far)
        background = torch.where(pattern, row_median(image, ~apart), background)
    mask = F.max_pool2d(far.float(), 3, stride=1, padding=1)  # the anti-aliased edge too
    h, w = image.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    weight = far.float().flatten(1)
    total = weight.sum(1).clamp(min=1)
    centre = torch.stack([(weight * xs.flatten()).sum(1) / total, (weight * ys.flatten()).sum(1) / total], 1)
    centre = torch.where((weight.sum(1) > 0)[:, None], centre, torch.tensor([w / 2, h / 2]))
    return Region(mask, centre, background)


def bounding_box(mask: torch.Tensor) -> torch.Tensor:
    """(B, 4) x0, y0, x1, y1 of each mask's pixels (their outer edges, pixel units); the frame where empty."""
    h, w = mask.shape[-2:]
    on = rearrange(mask, "b 1 h w -> b h w") > 0
    boxes = []
    for m in on:
        ys, xs = torch.nonzero(m, as_tuple=True)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] if len(xs) else [0, 0, w, h])
    return torch.tensor(boxes, dtype=torch.float32)
