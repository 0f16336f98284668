"""Whether a clip's object goes where it was asked to, measured without the judge or a region finder: the object's
track (the centre and area of the pixels of its colour that stand away from the background) frame by frame, against
the displacement and scale asked of it (a motion plan's `shift` and `scale`).

    '(F, 3, H, W) frames, colour (r, g, b), background (3, H, W)' -> centres (F, 2) in pixels, areas (F,)

`track_error` gives, over frames 1..F−1: "path", the mean distance in pixels between the object's displacement from
frame 0 and the one asked; "scale", the mean |√(area / area at frame 0) − the scale asked|. Both nan where the
object is not found in frame 0 (then the clip did not draw it, which the judge's attribute accuracy reports).
"""
from __future__ import annotations

import torch

COLOUR_DISTANCE = 0.3     # RGB distance within which a pixel has the object's colour
BACKGROUND_DISTANCE = 0.25  # ... and beyond which it stands away from the background


def object_track(frames: torch.Tensor, colour: tuple[float, float, float],
                 background: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres (F, 2) (x, y in pixels, pixel centres at k + 0.5; nan where none) and areas (F,) of the pixels of
    frames (F, 3, H, W) in [0, 1] near `colour` and away from `background` (3, H, W)."""
    if frames.ndim != 4 or frames.shape[1] != 3 or background.shape != frames.shape[1:]:
        raise ValueError(f"expected frames (F, 3, H, W) and one background frame, got {tuple(frames.shape)} and "
                         f"{tuple(background.shape)}")
    rgb = torch.tensor(colour, dtype=frames.dtype).view(1, 3, 1, 1)
    on = ((frames - rgb).norm(dim=1) <= COLOUR_DISTANCE) & ((frames - background).norm(dim=1) > BACKGROUND_DISTANCE)
    h, w = frames.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    area = on.flatten(1).sum(1).to(frames.dtype)
    weight = on.to(frames.dtype)
    centre = torch.stack([(weight * xs).sum((1, 2)), (weight * ys).sum((1, 2))], 1) / area[:, None]
    return centre, area


def track_error(frames: torch.Tensor, colour: tuple[float, float, float], background: torch.Tensor,
                shift: torch.Tensor, scale: torch.Tensor) -> dict[str, float]:
    """{"path": px, "scale": ratio error} of frames (F, 3, H, W) against the asked `shift` (F, 2) in frame units
    (x right, y down; frame 0 at 0) and `scale` (F,) relative to frame 0 (see the module docstring)."""
    centre, area = object_track(frames, colour, background)
    if area[0] == 0:
        return {"path": float("nan"), "scale": float("nan")}
    size = torch.tensor([frames.shape[-1], frames.shape[-2]], dtype=frames.dtype)  # frame units -> pixels
    moved = (centre[1:] - centre[:1]).nan_to_num(0) - shift[1:] * size
    grown = (area[1:] / area[0]).sqrt() - scale[1:]
    return {"path": moved.norm(dim=1).mean().item(), "scale": grown.abs().mean().item()}
