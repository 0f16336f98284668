"""Pictures for the browser: crisp enlargements, step previews, and labelled side-by-side clips."""
from __future__ import annotations

import time

import numpy as np
import torch
from einops import rearrange
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from engine.files import atomic_path

PREVIEW_SECONDS = 0.5  # at most two step previews a second (see `Previews`)
PREVIEW_FRAMES = 8  # a step preview shows at most this many frames (29 interpolated ones were thumbnails)
DISPLAY_SIZE = 256
TILE_SIZE = 192
LABEL_HEIGHT = 22


def enlarge(video: torch.Tensor, size: int = DISPLAY_SIZE) -> torch.Tensor:
    """Nearest-neighbour enlargement of (F, 3, H, W) by a whole factor, so tiny clips stay crisp in the browser."""
    scale = max(1, size // max(video.shape[-2:]))
    return F.interpolate(video, scale_factor=scale, mode="nearest") if scale > 1 else video


def noisy_frames(x: torch.Tensor) -> torch.Tensor:
    """A pixel pipeline's sample as frames (B, 3, F, H, W): the group model's slots (B, 3·3, G, H, W) unfolded.
    Latents stay as they are (no preview: they are not pictures)."""
    return rearrange(x, "b (m c) g h w -> b c (g m) h w", c=3) if x.shape[1] == 9 else x


def preview_strip(latents: torch.Tensor, height: int = 96, most: int = PREVIEW_FRAMES) -> np.ndarray | None:
    """A denoising step's sample (B, 3, F, h, w) of a pixel model as one RGB strip of at most `most` of its frames,
    evenly spaced from the first to the last (uint8 H×W×3). None for latent models (their latents are not pictures;
    decoding each step would cost a VAE pass)."""
    if latents.ndim != 5 or latents.shape[1] != 3:
        return None
    shown = torch.linspace(0, latents.shape[2] - 1, min(most, latents.shape[2])).round().long()
    frames = (latents[0, :, shown].float().cpu() / 2 + 0.5).clamp(0, 1)  # 3 f h w
    strip = torch.cat(list(frames.permute(1, 0, 2, 3)), dim=-1)  # 3 h (f w)
    scale = max(1, height // strip.shape[-2])
    strip = F.interpolate(strip[None], scale_factor=scale, mode="nearest")[0]
    return (strip.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def save_preview(strip: np.ndarray | None, path) -> str | None:
    """Write a preview strip to `path` whole (a temporary file renamed into place) and return the path.

    The page gets a file of this run's own, not an array: gradio caches an array under a name made from its
    content and rewrites that file in place, so two sessions with the same preview could read a torn file."""
    if strip is None:
        return None
    with atomic_path(path) as tmp:
        Image.fromarray(strip).save(tmp, format="PNG")
    return str(path)


class Previews:
    """One run's step previews, written to `path` at most once every `every` seconds (the first step and each
    pass's last step always, so the page is left with the finished sample).

    Each preview is a file that gradio copies into its cache and sends to the page: one at every step cost the
    studio's first Generate (25 steps of 0.17 s) about 3 s. The progress bar still moves at every step."""

    def __init__(self, path, every: float = PREVIEW_SECONDS):
        self.path, self.every, self.last = path, every, -float("inf")

    def __call__(self, latents: torch.Tensor, final: bool = False) -> str | None:
        """The preview's path when one is due (None otherwise, or for a latent model)."""
        now = time.perf_counter()
        if now - self.last < self.every and not final:
            return None
        self.last = now
        return save_preview(preview_strip(latents), self.path)


def _label(text: str, width: int) -> torch.Tensor:
    """A dark strip (3, LABEL_HEIGHT, width) with `text` in white, cut to fit."""
    img = Image.new("RGB", (width, LABEL_HEIGHT), (24, 24, 28))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=13)
    while text and draw.textlength(text, font=font) > width - 8:
        text = text[:-2] + "…" if len(text) > 2 else ""
    draw.text((4, 3), text, fill=(240, 240, 240), font=font)
    return torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255


def fit_tile(video: torch.Tensor, size: int) -> torch.Tensor:
    """(F, 3, H, W) scaled to fit a size × size tile, aspect kept (nearest when enlarging, area when shrinking), on
    the labels' dark ground."""
    h, w = video.shape[-2:]
    k = size / max(h, w)
    shape = (max(1, round(h * k)), max(1, round(w * k)))
    v = F.interpolate(video, size=shape, mode="nearest" if k >= 1 else "area") if shape != (h, w) else video
    if shape == (size, size):
        return v
    top, left = (size - shape[0]) // 2, (size - shape[1]) // 2
    ground = torch.tensor([24, 24, 28]).view(1, 3, 1, 1) / 255
    tile = ground.expand(v.shape[0], 3, size, size).clone()
    tile[..., top:top + shape[0], left:left + shape[1]] = v
    return tile


def side_by_side(videos: list[torch.Tensor], labels: list[str], size: int = TILE_SIZE, gap: int = 4) -> torch.Tensor:
    """Clips (each (F, 3, H, W), one frame count) as one clip of labelled tiles, so they play in step."""
    if not videos or len(videos) != len(labels):
        raise ValueError("give one label per clip")
    if len({v.shape[0] for v in videos}) > 1:
        raise ValueError(f"clips side by side need one frame count, got {[v.shape[0] for v in videos]}")
    tiles = []
    for video, label in zip(videos, labels):
        v = fit_tile(video.float(), size)
        foot = _label(label, size)[None].expand(v.shape[0], -1, -1, -1)  # below: the player's own label sits on top
        tiles.append(torch.cat([v, foot], dim=2))
        tiles.append(torch.full((v.shape[0], 3, size + LABEL_HEIGHT, gap), 1.0))
    return torch.cat(tiles[:-1], dim=3).clamp(0, 1)
