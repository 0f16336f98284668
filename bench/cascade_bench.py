"""The cascade's cost: pixel-then-latent vs all-pixel at the top resolution (MPL-Video: 15 GB vs 72 GB), and each
stage's time and memory from a prompt.

1. Peak memory (`peak_memory`). Pixel-then-latent: the pixel SR model runs at its own output size (`--pixel`,
   128²), its clip is resized bilinearly to the top resolution and the latent expert translates it there (VAE
   encode, SDEdit, decode, in segments of 8 frames that carry one, as SR runs; `--decoder`, the image decoder by
   default, `--frame-chunk` frames at a time; `--detail-sigma` keeps the input's low frequencies). All-pixel: the pixel SR model itself produces the top resolution (from top/4). Each run is
   measured in a fresh process (engine.training.cost.PeakMemory: the growth of resident memory's high-water mark
   over the run, the models already loaded); the pixel-then-latent peak is the larger of its two stages, which run one after the other.
   The assets are used where they exist, else models of the same configurations with random weights (memory and
   time do not depend on the weights).
2. The cascade from `--prompts` prompts (`engine.cascade.run_cascade`, the embedded assets): each stage's seconds
   and peak memory, as the sidecar records them. Skipped, with the commands that train them, while assets are missing.

Writes bench/results/cascade.md.

    python bench/cascade_bench.py                                   # tops 128 and 256, 29 frames, 4 prompts
    python bench/cascade_bench.py --tops 64 --frames 8 --steps 2 --prompts 0   # a quick check that it runs
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.files import atomic_path  # noqa: E402
from engine.peak_memory import PeakMemory  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PROMPT = "a red star moving right on a checkerboard background"


def pixel_pipe():
    """The embedded pixel SR model, zero-shot inflated (or one of its configuration with random weights)."""
    from engine.models.sr import ASSET, sr_unet
    from engine.pipelines.upscale import VideoUpscalePipeline, upscale_pipeline

    if (ASSET / "image" / "sr.json").is_file():
        return upscale_pipeline("zero-shot")[0], "assets/sr/image"
    from engine.models.base import train_scheduler
    from engine.models.inflate import inflate
    from engine.models.text import build_text_encoder, build_tokenizer
    from engine.pipelines.load import SCHEDULERS

    tok = build_tokenizer()
    pipe = VideoUpscalePipeline(inflate(sr_unet()).eval(), build_text_encoder(tok).eval(), tok,
                                SCHEDULERS["dpm++"](dict(train_scheduler("sample").config), True))
    pipe.set_progress_bar_config(disable=True)
    return pipe, "random weights, the embedded configuration"


def expert_pipe(decoder: str = "image"):
    """The embedded expert with `decoder` (a variant, a folder, "image"; "best": the best embedded one), or one of its
    configuration with random weights and the image decoder."""
    from engine.models.expert import EXPERT_ASSET, EXPERT_RECORD, expert_unet, world_vae
    from engine.pipelines.translate import ExpertTranslationPipeline, translation_pipeline

    if (EXPERT_ASSET / "t900" / EXPERT_RECORD).is_file():
        pipe = translation_pipeline(decoder=None if decoder == "best" else decoder)[0]
        return pipe, f"assets/expert/t900 with the {pipe.decoder_name} decoder"
    from engine.models.base import train_scheduler
    from engine.models.inflate import inflate
    from engine.models.text import build_text_encoder, build_tokenizer
    from engine.pipelines.load import SCHEDULERS
    from engine.training.expert import EXPERT_MODE
    from engine.tuning import apply_mode

    tok = build_tokenizer()
    unet = apply_mode(inflate(expert_unet()), EXPERT_MODE).eval()
    pipe = ExpertTranslationPipeline(unet, build_text_encoder(tok).eval(), tok,
                                     SCHEDULERS["dpm++"](dict(train_scheduler("v_prediction").config), False),
                                     world_vae().eval())
    pipe.set_progress_bar_config(disable=True)
    return pipe, "random weights, the embedded configuration"


@torch.no_grad()
def probe(kind: str, size: int, frames: int, steps: int, chunk: int, detail_sigma: float | None = None,
          decoder: str = "image") -> dict:
    """One stage at output side `size` in this process: {"peak_mb", "seconds", "models"}. `kind`: "pixel" (the SR
    model producing size² from (size/4)²) or "expert" (translation at size², from a clip at that size, keeping its
    frequencies below `detail_sigma`, decoded by `decoder`)."""
    torch.manual_seed(0)
    pipe, models = pixel_pipe() if kind == "pixel" else expert_pipe(decoder)
    g = torch.Generator().manual_seed(0)
    if kind == "pixel":
        clip = lambda f, side: torch.rand(1, f, 3, side // pipe.config.scale, side // pipe.config.scale, generator=g)
        run = lambda x: pipe(x, PROMPT, steps, generator=g)
    else:
        clip = lambda f, side: torch.rand(1, f, 3, side, side, generator=g)
        run = lambda x: pipe(x, PROMPT, 0.5, steps, generator=g, decode_chunk_size=chunk, detail_sigma=detail_sigma)
    run(clip(2, 32))  # a small first call: the libraries' one-off buffers are not the stage's memory
    x = clip(frames, size)
    start = time.perf_counter()
    with PeakMemory() as peak:
        run(x)
    return {"peak_mb": peak.mb, "seconds": time.perf_counter() - start, "models": models}


def measured(kind: str, size: int, frames: int, steps: int, chunk: int, threads: int,
             detail_sigma: float | None = None, decoder: str = "image") -> dict:
    """`probe` in a fresh process, so that stages share no allocator state."""
    cmd = [sys.executable, __file__, "--probe", kind, "--size", str(size), "--frames", str(frames), "--steps", str(steps),
           "--frame-chunk", str(chunk), "--decoder", decoder] + (
           ["--detail-sigma", str(detail_sigma)] if detail_sigma is not None else [])
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_memory(top: int, pixel: int = 128, frames: int = 29, steps: int = 2, chunk: int = 1, threads: int = 1,
                detail_sigma: float | None = None, decoder: str = "image") -> dict:
    """Pixel-then-latent (pixel SR to `pixel`², then the expert at `top`²) vs all-pixel (pixel SR to `top`²):
    {"pixel_then_latent_mb", "all_pixel_mb", "ratio", and each run's figures}."""
    stages = {"pixel SR at the pixel size": measured("pixel", min(pixel, top), frames, steps, chunk, threads),
              "expert at the top size": measured("expert", top, frames, steps, chunk, threads, detail_sigma, decoder),
              "pixel SR at the top size": measured("pixel", top, frames, steps, chunk, threads)}
    ptl = max(stages["pixel SR at the pixel size"]["peak_mb"], stages["expert at the top size"]["peak_mb"])
    allpix = stages["pixel SR at the top size"]["peak_mb"]
    return {"top": top, "pixel": min(pixel, top), "pixel_then_latent_mb": ptl, "all_pixel_mb": allpix,
            "ratio": ptl / allpix if allpix else float("nan"), "stages": stages}


def cascade_rows(n: int, steps: int) -> list[dict]:
    """Each stage's seconds and peak memory for `n` prompts through the embedded cascade (its sidecar's record)."""
    from engine.cascade import run_cascade
    from engine.world import sample_split_spec

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            _, _, record = run_cascade(Path(tmp) / f"{i}.mp4", sample_split_spec("val", i)[1], seed=i, stage_steps=steps)
            rows.append(record)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tops", default="128,256", help="top resolutions (sides) to compare at")
    p.add_argument("--pixel", type=int, default=128, help="the pixel stage's output side in pixel-then-latent")
    p.add_argument("--frames", type=int, default=29, help="frames a clip (29: 8 keyframes interpolated)")
    p.add_argument("--steps", type=int, default=2, help="sampling steps (memory does not grow with them)")
    p.add_argument("--frame-chunk", type=int, default=1,
                   help="frames the VAE encodes and decodes at once (each frame alone either way: memory, not frames)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--detail-sigma", type=float, default=None,
                   help="the expert keeps its input's frequencies below this σ (translate --detail-sigma)")
    p.add_argument("--decoder", default="image",
                   help="the expert's decoder: image, a variant or folder, or best (the best embedded one)")
    p.add_argument("--prompts", type=int, default=4, help="prompts through the whole cascade (0: none)")
    p.add_argument("--stage-steps", type=int, default=20)
    p.add_argument("--out", default=str(RESULTS / "cascade.md"))
    p.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads if not args.probe else int(os.environ.get("OMP_NUM_THREADS", 1)))
    if args.probe:
        print(json.dumps(probe(args.probe, args.size, args.frames, args.steps, args.frame_chunk, args.detail_sigma,
                               args.decoder)))
        return

    lines = ["# The cascade's cost", "", f"`python bench/cascade_bench.py --tops {args.tops} --frames {args.frames} "
             f"--prompts {args.prompts} --detail-sigma {args.detail_sigma} --decoder {args.decoder}`, "
             f"{args.threads} thread(s).", "",
             "## Pixel-then-latent vs all-pixel at the top resolution (MPL-Video: 15 GB vs 72 GB)", "",
             f"{args.frames} frames; pixel SR (×4) and the expert each in segments of 8 that carry a frame, the "
             f"expert's VAE {args.frame_chunk} frames at a time, its decoder `{args.decoder}`, detail σ "
             f"{args.detail_sigma}; peak = growth of resident memory over the run, each run in its own process.", "",
             "| top | pixel-then-latent: SR to pixel size, then expert (MB) | all-pixel: SR to top (MB) | ratio | "
             "seconds (SR / expert / all-pixel SR) |", "|---|---|---|---|---|"]
    models = set()
    for top in (int(t) for t in args.tops.split(",")):
        r = peak_memory(top, args.pixel, args.frames, args.steps, args.frame_chunk, args.threads, args.detail_sigma,
                        args.decoder)
        s = r["stages"]
        models |= {v["models"] for v in s.values()}
        lines.append(f"| {top}² | {r['pixel']}² SR {s['pixel SR at the pixel size']['peak_mb']:.0f}, expert "
                     f"{s['expert at the top size']['peak_mb']:.0f} → **{r['pixel_then_latent_mb']:.0f}** | "
                     f"**{r['all_pixel_mb']:.0f}** | {r['ratio']:.2f} | "
                     f"{s['pixel SR at the pixel size']['seconds']:.1f} / {s['expert at the top size']['seconds']:.1f} / "
                     f"{s['pixel SR at the top size']['seconds']:.1f} |")
        print(lines[-1], flush=True)
    lines += ["", "Models: " + "; ".join(sorted(models)) + ".", ""]
    if args.prompts:
        lines += ["## The cascade from a prompt", ""]
        try:
            rows = cascade_rows(args.prompts, args.stage_steps)
        except FileNotFoundError as e:
            lines += [f"Not run: {e}.", ""]
        else:
            names = [s["stage"] for s in rows[0]["stages"]]
            lines += [f"{args.prompts} validation prompts, the embedded assets, {args.stage_steps} steps a later stage; "
                      "means over prompts.", "", "| stage | frames | size | seconds | peak MB |", "|---|---|---|---|---|"]
            for k, name in enumerate(names):
                mean = lambda key: sum(r["stages"][k][key] for r in rows) / len(rows)
                s = rows[0]["stages"][k]
                lines.append(f"| {name} | {s['frames']} | {s['size'][0]}² | {mean('seconds'):.1f} | "
                             f"{mean('peak_mb'):.0f} |")
            lines.append("")
    text = "\n".join(lines)
    with atomic_path(args.out) as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
