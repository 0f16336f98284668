"""Inflation Table 1 on the world: video super-resolution tuned zero-shot, full and temporal, against bicubic.

Quality: PSNR, SSIM and TCC against ground truth on validation clips (`sample_split_spec('val', i)`, each
rendered at the low size and at scale× for `--frames` frames at 8 fps, upscaled in segments of 8 with the last
frame carried), and on pans over a procedural photo-like image that is not from the world (multi-octave
colour noise with hard-edged discs and bands, panned a fraction of a pixel a frame at the low size). Cost,
measured side by side in this run, each mode in its own process (engine.training.cost's peak-RSS probe): tunable
parameters, train steps per second and peak memory of one training step of the video SR UNet on a batch of
`train-sr-video`'s size. Writes bench/results/sr.md (and sr.json).

    python bench/sr_bench.py [--clips 16] [--frames 15] [--steps 20] [--pans 4]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.metrics import psnr, ssim, tcc  # noqa: E402
from engine.models.sr import ASSET, VIDEO_MODES, load_sr  # noqa: E402
from engine.pipelines.upscale import upscale_pipeline  # noqa: E402
from engine.world import render, sample_split_spec  # noqa: E402

FPS = 8.0


def world_clips(n: int, frames: int, low: int, scale: int) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """(low (3, F, h, w), truth (3, F, H, W), caption) in [0, 1] for validation clips 0..n−1."""
    clips = []
    for i in range(n):
        spec, caption = sample_split_spec("val", i)
        video = lambda size: render(spec, size, FPS, frames).transpose(0, 1)  # c f h w
        clips.append((video(low), video(low * scale), caption))
    return clips


def photo(size: int = 320, seed: int = 0) -> torch.Tensor:
    """A photo-like image (3, size, size) in [0, 1]: smooth colour noise over several octaves, with hard-edged
    (anti-aliased) discs and bands of other colours: texture at every scale and edges at every angle."""
    g = torch.Generator().manual_seed(seed)
    img = torch.zeros(1, 3, size, size)
    for octave in range(2, 7):
        cells = 2 ** octave
        img += F.interpolate(torch.rand(1, 3, cells, cells, generator=g), size=(size, size), mode="bicubic",
                             align_corners=False) * 0.9 ** octave
    img = (img - img.min()) / (img.max() - img.min())
    y, x = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    for _ in range(10):
        cx, cy, r = (torch.rand(3, generator=g) * torch.tensor([size, size, size / 6])).tolist()
        if torch.rand(1, generator=g) < 0.5:
            dist = ((x - cx) ** 2 + (y - cy) ** 2).sqrt() - r - 4  # a disc
        else:
            a = torch.rand(1, generator=g).item() * 3.1416
            dist = ((x - cx) * torch.cos(torch.tensor(a)) + (y - cy) * torch.sin(torch.tensor(a))).abs() - r / 3  # a band
        alpha = (0.5 - dist).clamp(0, 1)
        colour = torch.rand(3, 1, 1, generator=g) * 0.8 + 0.1
        img = img * (1 - alpha) + colour * alpha
    return img[0].clamp(0, 1)


def pans(n: int, frames: int, low: int, scale: int) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """Pans over photos: the high-resolution window moves `scale`−1 pixels a frame (a fraction of a low-res
    pixel), the low-resolution clip is its area average (what a camera at the low resolution records)."""
    out, side = [], low * scale
    for i in range(n):
        img = photo(seed=i)
        dy, dx = (1, scale - 1) if i % 2 else (scale - 1, 2)
        crops = [img[:, k * dy:k * dy + side, k * dx:k * dx + side] for k in range(frames)]
        truth = torch.stack(crops, 1)  # 3 f H W
        small = F.avg_pool2d(rearrange(truth, "c f h w -> f c h w"), scale)
        out.append((rearrange(small, "f c h w -> c f h w"), truth, ""))
    return out


def bicubic(low: torch.Tensor, scale: int) -> torch.Tensor:
    frames = F.interpolate(rearrange(low, "c f h w -> f c h w"), scale_factor=scale, mode="bicubic", align_corners=False)
    return rearrange(frames, "f c h w -> c f h w").clamp(0, 1)


@torch.no_grad()
def upscaled(pipe, clips, steps: int, noise_level: int | None = None, segment: int = 8, **options) -> list[torch.Tensor]:
    videos = []
    for i, (low, _, caption) in enumerate(clips):
        g = torch.Generator().manual_seed(i)
        frames = pipe(low.transpose(0, 1)[None], caption, steps, noise_level=noise_level, segment_frames=segment,
                      generator=g, **options).frames[0]
        videos.append(frames.transpose(0, 1))  # f c h w -> c f h w
    return videos


def scores(videos, clips) -> dict:
    out = torch.stack(videos)
    truth = torch.stack([c[1] for c in clips])
    return {"psnr": psnr(out, truth).mean().item(), "ssim": ssim(out, truth).mean().item(),
            "tcc": tcc(out, truth).mean().item()}


REAL_SIZE = {"channels": (128, 256, 512, 1024), "layers": 2, "text_dim": 1024, "size": 64}  # IF stage II-sized


def measure(mode: str, steps: int, image: str | None, batch: int, frames: int, real: bool = False) -> dict:
    """One mode's training cost in this process (run through `--measure`), with engine.training.cost's peak-RSS
    probe: the embedded SR UNet on whole frames, or (`real`) an IF stage II-sized one (≈ 0.4 B parameters, random
    weights) on 64² frames."""
    from diffusers import DDPMScheduler, UNet2DConditionModel

    from engine.models.inflate import inflate
    from engine.models.sr import sr_unet
    from engine.training.cost import time_steps
    from engine.training.sr import sr_loss
    from engine.tuning import apply_mode

    torch.manual_seed(0)
    sr = load_sr(image)
    record, scale = sr.record, sr.scale
    if real:
        c = REAL_SIZE
        unet = UNet2DConditionModel.from_config({**sr_unet().config, "block_out_channels": c["channels"],
                                                 "layers_per_block": c["layers"], "cross_attention_dim": c["text_dim"],
                                                 "attention_head_dim": 8, "norm_num_groups": 32,
                                                 "down_block_types": ("DownBlock2D",) * 2 + ("CrossAttnDownBlock2D",) * 2,
                                                 "up_block_types": ("CrossAttnUpBlock2D",) * 2 + ("UpBlock2D",) * 2})
        side, text_dim = c["size"], c["text_dim"]
    else:
        unet, side, text_dim = sr_unet(record["high_size"], 64, record["channels"]), record["crop"], 64
    video = apply_mode(inflate(unet), mode).train()
    params = [p for p in video.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5) if params else None
    scheduler = DDPMScheduler.from_config(sr.scheduler_config)
    high = torch.rand(batch, 3, frames, side, side) * 2 - 1
    low, text = F.avg_pool3d(high, (1, scale, scale)), torch.randn(batch, 24, text_dim)

    def step():
        loss = sr_loss(video, text, high, low, scheduler, 0, record["max_noise_level"], 0.5, residual=sr.residual)
        if opt:
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

    counts = video.count_parameters()
    return {"mode": mode, "params_total": counts["total"], "params_trainable": counts["trainable"],
            **time_steps(step, steps)}


def cost(modes, args, real: bool = False) -> dict:
    """Each mode measured in its own process, side by side in this run."""
    results = {}
    for mode in modes:
        cmd = [sys.executable, __file__, "--measure", mode, "--cost-steps", str(args.cost_steps),
               "--threads", str(args.threads)] + (["--image", args.image] if args.image else [])
        cmd += ["--real"] if real else []
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def table(title: str, rows: dict, costs: dict | None) -> list[str]:
    head = "| method | PSNR ↑ | SSIM ↑ | TCC ↑ |"
    head += " tunable params (M) ↓ | train steps/s ↑ | peak memory (MB) ↓ |" if costs else ""
    lines = [f"### {title}", "", head, "|---" * (head.count("|") - 1) + "|"]
    for name in list(rows) + [m for m in (costs or {}) if m not in rows]:
        r = rows.get(name)
        line = f"| {name} | " + (f"{r['psnr']:.2f} | {r['ssim']:.4f} | {r['tcc']:.4f} |" if r else "not trained | – | – |")
        if costs:
            c = costs.get(name)
            line += (f" {c['params_trainable'] / 1e6:.3f} | {1 / c['step_s']:.2f} | {c['peak_mb']:.0f} |" if c
                     else " – | – | – |")
        lines.append(line)
    return lines + [""]


def ratios(costs: dict, what: str) -> list[str]:
    f, t = costs["full"], costs["temporal"]
    return [f"Training cost of temporal vs full, {what}: time {t['step_s'] / f['step_s']:.2f}×, memory "
            f"{t['peak_mb'] / f['peak_mb']:.2f}×, tunable parameters {t['params_trainable'] / f['params_trainable']:.2f}× "
            f"(full: {f['params_total'] / 1e6:.1f} M parameters, {f['step_s']:.2f} s a step, {f['peak_mb']:.0f} MB).", ""]


def verdicts(world: dict, photo: dict) -> list[str]:
    keys = ("psnr", "ssim", "tcc")
    beats = lambda a, b, rows: all(rows[a][k] > rows[b][k] for k in keys)
    checks = [(f"{m} beats zero-shot in PSNR, SSIM and TCC (world)", beats(m, "zero-shot", world))
              for m in ("full", "temporal") if m in world]
    checks += [(f"{m} beats bicubic in PSNR, SSIM and TCC (world)", beats(m, "bicubic", world))
               for m in world if m != "bicubic"]
    checks += [(f"{m} is no worse than bicubic on the photo pans (PSNR within 0.05 dB, SSIM and TCC within 0.002)",
                all(photo[m][k] >= photo["bicubic"][k] - (0.05 if k == "psnr" else 0.002) for k in keys))
               for m in photo if m != "bicubic"]
    return [f"- {'✓' if ok else '✗'} {text}" for text, ok in checks]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--frames", type=int, default=15, help="frames a clip at 8 fps (15: two segments of 8)")
    p.add_argument("--pans", type=int, default=4)
    p.add_argument("--steps", type=int, default=20, help="DPM-Solver++ steps")
    p.add_argument("--noise-level", type=int, default=None, help="condition augmentation (default: the model's)")
    p.add_argument("--segment-frames", type=int, default=8)
    p.add_argument("--noise-share", type=float, default=1.0, help="initial noise shared by a segment's frames")
    p.add_argument("--consistency", type=int, default=3, help="back-projection iterations (0: none)")
    p.add_argument("--image", default=None, help=f"image SR folder (default {ASSET / 'image'})")
    p.add_argument("--tuned", default=str(ASSET), help="folder holding video-full/ and video-temporal/")
    p.add_argument("--cost-steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "sr.md"))
    p.add_argument("--real-size", action="store_true",
                   help="also measure training cost on an IF stage II-sized UNet (≈ 0.4 B parameters; needs ~10 GB)")
    p.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    p.add_argument("--real", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.measure:
        print(json.dumps(measure(args.measure, args.cost_steps, args.image, batch=1, frames=8, real=args.real)))
        return

    sr = load_sr(args.image)
    low, scale = sr.record["low_size"], sr.scale
    modes = [m for m in VIDEO_MODES if m == "zero-shot" or (Path(args.tuned) / f"video-{m}" / "mode.json").is_file()]
    world, photos = world_clips(args.clips, args.frames, low, scale), pans(args.pans, args.frames, low, scale)
    rows_world, rows_photo, seconds = {"bicubic": scores([bicubic(c[0], scale) for c in world], world)}, \
        {"bicubic": scores([bicubic(c[0], scale) for c in photos], photos)}, {}
    options = {"noise_level": args.noise_level, "segment": args.segment_frames, "noise_share": args.noise_share,
               "consistency": args.consistency}
    for mode in modes:
        tuned = Path(args.tuned) / f"video-{mode}" if mode != "zero-shot" else None
        pipe, _ = upscale_pipeline(mode, args.image, tuned)
        start = time.perf_counter()
        rows_world[mode] = scores(upscaled(pipe, world, args.steps, **options), world)
        seconds[mode] = (time.perf_counter() - start) / len(world)
        rows_photo[mode] = scores(upscaled(pipe, photos, args.steps, **options), photos)
        print(mode, rows_world[mode], rows_photo[mode], flush=True)
    costs = cost(["full", "temporal"], args)  # measured from fresh weights: no tuned folder needed
    real_costs = cost(["full", "temporal"], args, real=True) if args.real_size else None

    trained = {m: json.loads((Path(args.tuned) / f"video-{m}" / "mode.json").read_text()) for m in modes[1:]}
    command = f"python bench/sr_bench.py --clips {args.clips} --frames {args.frames} --steps {args.steps} --pans {args.pans}"
    rec = sr.record
    recipes = [f"image SR: {rec.get('steps')} steps × {rec.get('batch_size')} stills ({rec.get('crop')}², "
               f"{rec.get('target', 'image')} target, {rec.get('prediction', 'v_prediction')} prediction, texture share "
               f"{rec.get('texture_share', 0)})"]
    recipes += [f"{m}: {r.get('steps')} steps × {r.get('batch_size')} clips of {r.get('frames')} frames, lr {r.get('lr')}"
                for m, r in trained.items()]
    lines = ["# Video super-resolution on the world (Inflation Table 1)", "",
             f"`{command}`, "
             f"{args.threads} thread(s). ×{scale}: {low}² → {low * scale}², {args.frames} frames at 8 fps in segments of "
             f"{args.segment_frames} (last frame carried), {args.steps} DPM-Solver++ steps, condition noise level "
             f"{sr.noise_level if args.noise_level is None else args.noise_level}, initial noise shared by "
             f"{args.noise_share:g}, {args.consistency} back-projection iterations, the clip's caption as prompt.", "",
             "Trained: " + "; ".join(recipes) + ".", ""]
    lines += table(f"Validation clips ({args.clips}, world val split)", rows_world, costs)
    lines += table(f"Pans over a photo-like image not from the world ({args.pans}, no prompt)", rows_photo, None)
    lines += ["Upscaling time per clip: " + ", ".join(f"{m} {s:.1f} s" for m, s in seconds.items()) + ".", ""]
    lines += ratios(costs, f"one clip of 8 frames a step as `train-sr-video` trains, {sr.record['crop']}², "
                           f"{args.threads} thread(s)")
    if real_costs:
        lines += ratios(real_costs, f"an IF stage II-sized UNet, one clip of 8 frames of {REAL_SIZE['size']}²")
    lines += ["## Acceptance", ""] + verdicts(rows_world, rows_photo) + [""]
    text = "\n".join(lines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    results = {"world": rows_world, "photo": rows_photo, "cost": costs, "cost_real_size": real_costs,
               "seconds_per_clip": seconds, "args": vars(args)}
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1))
    print(text)


if __name__ == "__main__":
    main()
