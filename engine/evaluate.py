"""`flipbook eval`: score a folder of clips against their prompts and print a Markdown table.

Per clip: the attributes the judge finds right, and (when a sidecar gives the clip's spec) PSNR, SSIM and
TCC against the ground truth rendered at the clip's own size, frame rate and length. For the set: accuracy
per attribute, and the Fréchet distance between judge features of the clips and of their ground truths.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .io.video import READABLE, read_video
from .metrics import attribute_accuracy, judge_features, load_judge, psnr, ssim, tcc
from .metrics.alignment import frechet_distance
from .sidecar import read_sidecar
from .world import ClipSpec, prompt_to_spec, render
from .world.vocab import ATTRIBUTES


def read_prompts(path: str | Path, names: list[str]) -> dict[str, str]:
    """JSON {file: prompt}, lines 'file<TAB>prompt', or one prompt a line in file-name order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no prompts file at {path}")
    text = path.read_text()
    if path.suffix == ".json":
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path.name} is not valid JSON: {e}") from None
        if not isinstance(mapping, dict):
            raise ValueError(f"{path.name} must hold an object mapping file names to prompts")
    else:
        lines = [line for line in text.splitlines() if line.strip()]
        if all("\t" in line for line in lines):
            mapping = dict(line.split("\t", 1) for line in lines)
        elif len(lines) == len(names):
            mapping = dict(zip(names, lines))
        else:
            raise ValueError(f"{path.name} has {len(lines)} prompt lines for {len(names)} videos; give one a "
                             "video, or lines 'file<TAB>prompt'")
    missing = [n for n in names if n not in mapping]
    if missing:
        raise ValueError(f"no prompt for {', '.join(missing[:5])} in {path.name}")
    return {n: mapping[n].strip() for n in names}


def _ground_truth(sidecar: dict | None, video: torch.Tensor, fps: float) -> torch.Tensor | None:
    if not sidecar or "spec" not in sidecar:
        return None
    spec = ClipSpec.from_dict(sidecar["spec"])
    fps = float(sidecar.get("fps", fps))
    return render(spec, tuple(video.shape[-2:]), fps, video.shape[0], float(sidecar.get("t0", 0.0)))


def evaluate_folder(videos_dir: str | Path, prompts_file: str | Path, judge_path: str | None = None) -> str:
    folder = Path(videos_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder at {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in READABLE)
    if not files:
        raise ValueError(f"{folder} holds no videos ({', '.join(READABLE)})")
    prompts = read_prompts(prompts_file, [p.name for p in files])
    judge = load_judge(judge_path)
    rows, feats, ref_feats, quality = [], [], [], []
    accuracy: dict[str, list[bool]] = {}
    for i, path in enumerate(files):
        video, fps = read_video(path)  # f 3 h w
        clip = video.permute(1, 0, 2, 3).unsqueeze(0)  # 1 3 f h w
        acc = attribute_accuracy(judge, clip, [prompts[path.name]])
        for k, ok in acc["per_clip"][0]["correct"].items():
            accuracy.setdefault(k, []).append(ok)
        truth = _ground_truth(read_sidecar(path), video, fps)
        if truth is None:
            truth = render(prompt_to_spec(prompts[path.name], i), tuple(video.shape[-2:]), fps, video.shape[0])
            scores = ("–", "–", "–")
        else:
            t = truth.permute(1, 0, 2, 3).unsqueeze(0)
            q = (psnr(clip, t).item(), ssim(clip, t).item(), tcc(clip, t).item())
            quality.append(q)
            scores = tuple(f"{v:.2f}" if k == 0 else f"{v:.3f}" for k, v in enumerate(q))
        feats.append(judge_features(judge, clip))
        ref_feats.append(judge_features(judge, truth.permute(1, 0, 2, 3).unsqueeze(0)))
        wrong = [f"{k}≠{acc['per_clip'][0]['judged'][k]}" for k, ok in acc["per_clip"][0]["correct"].items() if not ok]
        rows.append(f"| {path.name} | {prompts[path.name]} | {acc['all']:.2f} {' '.join(wrong)} | " + " | ".join(scores) + " |")
    lines = ["| clip | prompt | attributes right | PSNR | SSIM | TCC |", "|---|---|---|---|---|---|", *rows, ""]
    summary = {k: float(np.mean(v)) for k, v in accuracy.items()}
    lines.append("| attribute | " + " | ".join(a for a in ATTRIBUTES if a in summary) + " | all |")
    lines.append("|---|" + "---|" * (len(summary) + 1))
    every = [ok for v in accuracy.values() for ok in v]
    lines.append("| accuracy | " + " | ".join(f"{summary[a]:.3f}" for a in ATTRIBUTES if a in summary)
                 + f" | {np.mean(every):.3f} |")
    if quality:
        m = np.mean(quality, axis=0)
        lines.append(f"\nMean against ground truth ({len(quality)} clips): PSNR {m[0]:.2f} dB, SSIM {m[1]:.3f}, TCC {m[2]:.3f}")
    if len(files) >= 2:
        fd = frechet_distance(np.concatenate(feats), np.concatenate(ref_feats))
        lines.append(f"Fréchet distance (judge features) to ground truth: {fd:.3f} over {len(files)} clips")
    return "\n".join(lines)
