"""Scores through the judge: attribute accuracy of clips against their prompts, and the Fréchet distance
between judge features of two sets of clips (Flipbook's CLIPSIM and FVD stand-ins)."""
from __future__ import annotations

import numpy as np
import torch
from scipy import linalg

from ..world.captions import parse_prompt
from .judge import Judge


@torch.no_grad()
def attribute_accuracy(judge: Judge, videos: torch.Tensor, prompts: list[str], batch_size: int = 64) -> dict:
    """Per attribute, the fraction of clips whose judged value matches what their prompt names.

    Returns {attr: accuracy, ..., "all": mean over every (clip, named attribute) pair, "per_clip": [...]}.
    Only one-object prompts can be judged (the judge sees the first object).
    """
    if len(videos) != len(prompts):
        raise ValueError(f"{len(videos)} videos but {len(prompts)} prompts")
    named = []
    for p in prompts:
        parsed = parse_prompt(p)
        if len(parsed.objects) != 1:
            raise ValueError(f"the judge scores one-object clips; {p!r} names {len(parsed.objects)}")
        named.append(parsed.attributes())
    preds = [pred for i in range(0, len(videos), batch_size) for pred in judge.predict(videos[i:i + batch_size])]
    hits: dict[str, list[bool]] = {}
    per_clip = []
    for want, got in zip(named, preds):
        clip = {k: got[k] == v for k, v in want.items()}
        per_clip.append({"named": want, "judged": got, "correct": clip})
        for k, ok in clip.items():
            hits.setdefault(k, []).append(ok)
    result = {k: float(np.mean(v)) for k, v in hits.items()}
    all_hits = [ok for v in hits.values() for ok in v]
    result["all"] = float(np.mean(all_hits)) if all_hits else float("nan")
    result["per_clip"] = per_clip
    return result


@torch.no_grad()
def judge_features(judge: Judge, videos: torch.Tensor, batch_size: int = 64) -> np.ndarray:
    return torch.cat([judge.features(videos[i:i + batch_size]) for i in range(0, len(videos), batch_size)]).double().numpy()


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^½) between two feature sets (N, D)."""
    if len(feats_a) < 2 or len(feats_b) < 2:
        raise ValueError("the Fréchet distance needs at least 2 clips in each set")
    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    cov_a, cov_b = np.cov(feats_a, rowvar=False), np.cov(feats_b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # nudge singular products, as the FID reference code does
        eps = np.eye(cov_a.shape[0]) * 1e-6
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = np.real(covmean)
    return float(max(0.0, ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean)))


def video_frechet_distance(judge: Judge, videos_a: torch.Tensor, videos_b: torch.Tensor) -> float:
    return frechet_distance(judge_features(judge, videos_a), judge_features(judge, videos_b))
