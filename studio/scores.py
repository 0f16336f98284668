"""A table of clips against the world's ground truth (PSNR, SSIM, TCC) and the time each took, shared by the
Interpolate and Upscale tabs and Compare's interpolation methods."""
from __future__ import annotations

import torch

HEADERS = ["clip", "PSNR (dB)", "SSIM", "TCC", "seconds"]
PSNR_CAP = 60.0  # dB: a clip reproduced exactly (a still clip blended) would otherwise score infinity


def against_truth(video: torch.Tensor, truth: torch.Tensor, frames: list[int] | None = None) -> dict:
    """PSNR and SSIM over `frames` (default all), TCC over the whole clip; clips (F, 3, H, W) in [0, 1]."""
    from engine.metrics import psnr, ssim, tcc

    g, t = video.permute(1, 0, 2, 3), truth.permute(1, 0, 2, 3)  # f c h w -> c f h w
    pick = frames if frames is not None else list(range(g.shape[1]))
    return {"PSNR (dB)": round(min(PSNR_CAP, float(psnr(g[:, pick], t[:, pick])[0])), 2),
            "SSIM": round(float(ssim(g[:, pick], t[:, pick])[0]), 4), "TCC": round(float(tcc(g, t)[0]), 4)}


def score_rows(clips: list[tuple[str, torch.Tensor, float | None]], truth: torch.Tensor | None,
               frames: list[int] | None = None) -> list[dict]:
    """One row per (name, clip, seconds): the metrics against `truth` (blank without one) and the time."""
    rows = []
    for name, video, seconds in clips:
        metrics = against_truth(video, truth, frames) if truth is not None else dict.fromkeys(HEADERS[1:4])
        rows.append({"clip": name, **metrics, "seconds": None if seconds is None else round(seconds, 2)})
    return rows


def table(rows: list[dict], headers: list[str] = HEADERS) -> dict:
    """Rows as a gr.Dataframe value."""
    return {"headers": headers, "data": [[row[h] for h in headers] for row in rows]}


def best(rows: list[dict], key: str = "PSNR (dB)") -> dict | None:
    """The row scoring highest on `key` (None without ground truth)."""
    scored = [r for r in rows if r.get(key) is not None]
    return max(scored, key=lambda r: r[key]) if scored else None
