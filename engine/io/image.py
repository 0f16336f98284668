"""Still images in: a user's first frame for image-to-video, as (3, H, W) float32 in [0, 1] at the clip's size.

A picture of another shape is cropped about its centre to the clip's aspect and resized (area-averaged when it
shrinks, bicubic when it grows); a file that cannot be read gives an ImageReadError that says what to fix.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

READABLE = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MAX_BYTES = 32 * 2**20
MAX_PIXELS = 4096 * 4096


class ImageReadError(ValueError):
    """A file that cannot be read as a still image; the message says why and what to do."""


def _pixels(path: Path) -> np.ndarray:
    """The file's pixels (H, W, 3) uint8 (Pillow reads it; a palette, grey or RGBA picture becomes RGB)."""
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ImageReadError(f"{path.name} is {image.width}×{image.height}; the limit is {MAX_PIXELS:,} "
                                     "pixels: scale it down first")
            return np.asarray(image.convert("RGB"))
    except ImageReadError:
        raise
    except Exception as e:  # Pillow says many things; the user needs to know the file is unreadable
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise ImageReadError(f"could not read {path.name} as an image ({first}); is it a complete png or jpg "
                             "file?") from None


def fit_image(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(3, h, w) in [0, 1] cropped about its centre to height:width and resized to height × width."""
    h, w = image.shape[-2:]
    crop_h, crop_w = (h, round(h * width / height)) if w * height > h * width else (round(w * height / width), w)
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    image = image[:, top:top + crop_h, left:left + crop_w]
    if (crop_h, crop_w) == (height, width):
        return image
    mode = "area" if crop_h >= height else "bicubic"
    return F.interpolate(image[None], size=(height, width), mode=mode)[0].clamp(0, 1)


def read_image(path: str | Path, height: int, width: int) -> torch.Tensor:
    """A user's image -> (3, height, width) float32 in [0, 1]. Raises ImageReadError with what to fix."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"no image at {path}")
    if path.suffix.lower() not in READABLE:
        raise ImageReadError(f"{path.name}: not an image file name; use one of {', '.join(READABLE)}")
    if not 0 < path.stat().st_size <= MAX_BYTES:
        raise ImageReadError(f"{path.name} is empty" if not path.stat().st_size else
                             f"{path.name} is over {MAX_BYTES // 2**20} MB: scale it down first")
    image = torch.from_numpy(_pixels(path).copy()).permute(2, 0, 1).float() / 255
    return fit_image(image, height, width)


def file_hash(path: str | Path) -> str:
    """The sha256 of a file's bytes (a sidecar's check that a replay reads the same first frame)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
