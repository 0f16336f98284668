"""Clips scored against the world: a table of clips against the world's ground truth (PSNR, SSIM, TCC) and the
time each took (the Interpolate and Upscale tabs, Compare's interpolation methods), the ground truth of a world
prompt, and the judge's attributes and TCC per clip (Compare)."""
from __future__ import annotations

import torch

from engine.world import SpecError, parse_prompt, prompt_to_spec, render

from .context import Studio

HEADERS = ["clip", "PSNR (dB)", "SSIM", "TCC", "seconds"]
PSNR_CAP = 60.0  # dB: a clip reproduced exactly (a still clip blended) would otherwise score infinity


def against_truth(video: torch.Tensor, truth: torch.Tensor, frames: list[int] | None = None) -> dict:
    """PSNR and SSIM over `frames` (default all), TCC over the whole clip; clips (F, 3, H, W) in [0, 1]."""
    # heavy: engine.metrics loads diffusers (the judge); this module otherwise needs only torch
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


def ground_truth(prompt: str, seed: int, like: torch.Tensor, fps: float) -> torch.Tensor | None:
    """The world's clip for a world prompt (what the prompt leaves open filled from `seed`), shaped like `like`."""
    try:
        spec = prompt_to_spec(prompt, seed)
    except (SpecError, ValueError):
        return None  # not a world prompt (a model of one's own takes any text)
    return render(spec, tuple(like.shape[-2:]), fps, like.shape[0])


def score(studio: Studio, prompt: str, clips: list[torch.Tensor], truth: torch.Tensor | None) -> list[dict]:
    """Per clip: attributes the judge finds as the prompt names them, and TCC against the ground truth."""
    # heavy: engine.metrics loads diffusers (the judge); this module otherwise needs only torch
    from engine.metrics import attribute_accuracy, tcc

    rows = [{"attributes right": "–", "judged wrong": "", "TCC": None} for _ in clips]
    batch = torch.stack([c.permute(1, 0, 2, 3) for c in clips])  # b c f h w
    try:
        judgeable = len(parse_prompt(prompt).objects) == 1
    except ValueError:
        judgeable = False
    if judgeable:
        acc = attribute_accuracy(studio.judge(), batch, [prompt] * len(clips))
        for row, clip in zip(rows, acc["per_clip"]):
            right = sum(clip["correct"].values())
            row["attributes right"] = f"{right}/{len(clip['correct'])}"
            row["judged wrong"] = ", ".join(f"{k}: {clip['judged'][k]} (not {v})" for k, v in clip["named"].items()
                                            if not clip["correct"][k])
    if truth is not None:
        values = tcc(batch, truth.permute(1, 0, 2, 3).unsqueeze(0).expand_as(batch))
        for row, v in zip(rows, values.tolist()):
            row["TCC"] = round(v, 3)
    return rows
