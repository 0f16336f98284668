"""Video files: mp4 (H.264, yuv420p, plays in browsers) and gif out; mp4, gif, webm, mov in.

Outputs are written atomically: to a temporary file beside the target, renamed into place when complete.
Reading a user's file gives (F, 3, H, W) float32 in [0, 1], or a VideoReadError that says what to fix.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import imageio.v2 as iio
import numpy as np
import torch
from PIL import Image

from ..files import atomic_path

WRITABLE = (".mp4", ".gif")
READABLE = (".mp4", ".gif", ".webm", ".mov", ".mkv", ".avi")
MAX_BYTES = 256 * 2**20  # a clip file read for editing or tuning (uploads are limited further by the studio)


class VideoReadError(ValueError):
    """A file that cannot be read as a video; the message says why and what to do."""


def to_uint8_frames(video: torch.Tensor) -> np.ndarray:
    """(F, 3, H, W) float in [0, 1] (or uint8) -> (F, H, W, 3) uint8."""
    if video.ndim != 4 or video.shape[1] != 3:
        raise ValueError(f"expected frames shaped (F, 3, H, W), got {tuple(video.shape)}")
    if video.dtype != torch.uint8:
        if not torch.isfinite(video).all():
            raise ValueError("the video has NaN or infinite values")
        video = (video.float().clamp(0, 1) * 255).round().to(torch.uint8)
    return video.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def _even(frames: np.ndarray) -> np.ndarray:
    """H.264 in yuv420p needs even sides: pad odd ones by repeating the last row/column."""
    h, w = frames.shape[1:3]
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge") if h % 2 or w % 2 else frames


def write_video(path: str | Path, video: torch.Tensor, fps: float = 8.0) -> Path:
    """Write (F, 3, H, W) frames to .mp4 or .gif atomically; returns the path.

    H.264 needs even sides, so an mp4 of an odd-sized clip gains one repeated row or column.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITABLE:
        raise ValueError(f"cannot write {path.name}: use a file name ending in {' or '.join(WRITABLE)}")
    if not 0 < fps <= 120:
        raise ValueError(f"fps must be in (0, 120], got {fps}")
    frames = to_uint8_frames(video)
    with atomic_path(path) as tmp:
        if suffix == ".mp4":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                writer = iio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                        pixelformat="yuv420p", macro_block_size=1,
                                        output_params=["-crf", "12", "-movflags", "+faststart"])
                with writer:
                    for frame in _even(frames):
                        writer.append_data(frame)
        else:
            iio.mimsave(tmp, list(frames), format="GIF", duration=1000.0 / fps, loop=0)
    return path


def read_video(path: str | Path, max_frames: int = 512, max_pixels: int = 1024 * 1024,
               max_bytes: int = MAX_BYTES) -> tuple[torch.Tensor, float]:
    """A user's video -> ((F, 3, H, W) float32 in [0, 1], fps). Raises VideoReadError with what to fix."""
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"no file at {path}")
    if path.suffix.lower() not in READABLE:
        raise VideoReadError(f"{path.name}: not a video file name; use one of {', '.join(READABLE)}")
    if path.stat().st_size == 0:
        raise VideoReadError(f"{path.name} is empty")
    if path.stat().st_size > max_bytes:
        raise VideoReadError(f"{path.name} is {path.stat().st_size / 2**20:,.0f} MB; the limit is "
                             f"{max_bytes / 2**20:,.0f} MB: trim or compress it first")
    frames, fps = [], None
    try:
        fmt = "GIF" if path.suffix.lower() == ".gif" else "FFMPEG"
        with iio.get_reader(path, format=fmt) as reader:
            meta = reader.get_meta_data()
            fps = meta.get("fps") or (1000.0 / meta["duration"] if meta.get("duration") else None)
            for frame in reader.iter_data():
                frame = np.asarray(frame)
                if frame.ndim == 2:
                    frame = np.stack([frame] * 3, -1)
                if frame.shape[0] * frame.shape[1] > max_pixels:
                    raise VideoReadError(f"{path.name} is {frame.shape[1]}×{frame.shape[0]}; the limit is "
                                         f"{max_pixels} pixels a frame: scale it down first")
                frames.append(frame[..., :3])
                if len(frames) > max_frames:
                    raise VideoReadError(f"{path.name} has more than {max_frames} frames: trim it first")
    except VideoReadError:
        raise
    except Exception as e:  # imageio/ffmpeg say many things; the user needs to know the file is unreadable
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise VideoReadError(f"could not read {path.name} as a video ({first}); "
                             "is it a complete mp4, gif or webm file?") from None
    if not frames:
        raise VideoReadError(f"{path.name} has no frames")
    declared = (meta.get("duration") or 0) * (fps or 0) if fmt == "FFMPEG" else 0
    if declared and len(frames) < 0.9 * declared - 1:
        raise VideoReadError(f"{path.name} looks truncated: its header promises about {declared:.0f} frames but "
                             f"only {len(frames)} decode; is it a complete mp4, gif or webm file?")
    if len({f.shape for f in frames}) > 1:
        raise VideoReadError(f"{path.name} changes frame size midway; re-encode it at one size")
    video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255
    return video, float(fps or 8.0)


def save_frame_grid(path: str | Path, videos: list[torch.Tensor], scale: int = 2) -> Path:
    """Rows of clips (each (F, 3, H, W)) as one PNG: a quick way to look at generated frames."""
    rows = [torch.cat(list(v.float().clamp(0, 1)), dim=2) for v in videos]  # each 3 h (f w)
    width = max(r.shape[-1] for r in rows)
    rows = [torch.nn.functional.pad(r, (0, width - r.shape[-1])) for r in rows]
    grid = (torch.cat(rows, dim=1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    img = Image.fromarray(grid)
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path
