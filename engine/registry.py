"""Which models Flipbook has and which is best: where the embedded models live (`ASSETS`: every model module's
folder is under it), the names of the tuning modes, the best-first orders, the models trained under a folder and
the command that trains each, which the CLI, the studio and the cascade ask (light: no torch, so
`flipbook --help` can list them).

The orders are measured: keyframe modes by `bench/compare_modes.py` and `bench/motion_bench.py` (the embedded
`ff-conv1d-attn1d-blocks` first), upscaling modes by `bench/sr_bench.py` (zero-shot has the best PSNR, 39.38 dB
against full's 39.28 and temporal's 39.24, and upscales 3× faster than the inflated modes).
"""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"

# engine.tuning's recipes, in its table's order (a test holds the two equal)
KEYFRAME_MODES = ("zero-shot", "full", "temporal", "simda", "ff-conv1d-attn1d-blocks", "ff-conv3d-attn1d-blocks",
                  "ff-conv1d-attn3d-blocks", "ff-conv1d-attn1d-layers", "lora")
KEYFRAME_ORDER = ("ff-conv1d-attn1d-blocks", "temporal", "simda", "ff-conv3d-attn1d-blocks", "full", "zero-shot")
# the embedded pyramid-trained keyframe folders under assets/modes, the best first (bench/results/pyramid.md and
# motion_pyramid.md: the DDIM-form pyramid samples with the base's own diffusion and keeps motion with plans)
PYRAMID_FOLDERS = ("pyramid-ddim", "pyramid-flow")
# the record each trained folder holds beside its weights (what says "trained here"); MODE_RECORD is a tuned
# folder's (a keyframe or upscaling mode, an expert's temporal modules: engine.tuning writes and reads it)
INTERP_RECORD, DECODER_RECORD, EXPERT_RECORD = "interp.json", "decoder.json", "expert.json"
MODE_RECORD = "mode.json"
# how a clip longer than the model's window is made (engine.diffusion.windows), the default first, and the frames
# two windows in a row share by default
LONG_METHODS = ("windows", "autoregressive", "chunks")
DEFAULT_OVERLAP = 4
INTERP_METHODS = ("group", "masked")  # the interpolation models, the best (FusionFrames' group) first
# interpolation with no model: each keyframe's object moved to the in-between time (engine.motion.tween), and the
# baseline every interpolation is measured against, linear blending of the two keyframes around a frame
INTERP_TWEEN, INTERP_BLEND = "tween", "blend"
MODEL_FREE_INTERP = (INTERP_TWEEN, INTERP_BLEND)
# the command that trains each model a stage needs (scripts/build_assets.sh has the embedded assets' exact recipes)
TRAINS = {
    "interp/group": "flipbook train-interp --method group --steps 3000 --lr 3e-4",
    "interp/masked": "flipbook train-interp --method masked --steps 1000 --batch-size 2",
    "sr/image": "flipbook train-sr --steps 3000",
    "expert": "flipbook train-vae && flipbook train-expert",
    "decoder": "flipbook train-decoder --variant conv3d-attn",
}
DECODER_ORDER = ("conv3d-attn", "conv1d-attn", "conv3d", "conv1d")  # temporal decoders: FusionFrames Table 3's order
UPSCALE_MODES = ("zero-shot", "full", "temporal")
# The cascade's defaults, chosen by measurement: a stage whose model does not beat what a stage with no model gives
# (moving or blending the keyframes; the clip as it comes out of pixel SR) on the bench is off by default, and
# MEASURED_WHY holds the evidence, which the CLI's help and run and the studio's notes give wherever a default is
# offered, each in its own words.
DEFAULT_INTERP = INTERP_TWEEN
CASCADE_DEPTH = "upscale"
STAGE_STEPS = 12  # the later stages' sampling steps (each segment's of pixel SR; translation runs its strength's share)
MEASURED_WHY = {
    "interpolate": "tweening (each keyframe's object moved to the in-between time) beats blending the keyframes "
                   "and the interpolation models do not (bench/results/interp.md, the cascade's keyframes: tween "
                   "35.8 dB, blending 33.3, group 31.2, masked 33.3; interp_fast.md, keyframes 2 s apart: tween 26.4 "
                   "dB and a translucent share of 0.07, blending 22.1 dB and 0.38, group 21.5 dB, masked 22.1 dB)",
    "translate": "expert translation scores below its own input (bench/results/expert.md: 31.8 dB after it against "
                 "39.7 dB before, at 128²)",
    "stage_steps": "pixel SR scores the same at 12 steps as at 20 and takes 0.6 of the time (teacher-forced, 4 "
                   "validation clips of 29 frames: 8 steps 40.59 dB, 12 steps 40.64, 20 steps 40.62)",
}
UPSCALE_ORDER = ("zero-shot", "full", "temporal")


def best_of(order: tuple[str, ...], have) -> str:
    """The first mode of `order` that is in `have` (zero-shot, which needs no weights, when none is)."""
    return next((m for m in order if m in have), "zero-shot")


def is_tuned_folder(folder: str | Path | None) -> bool:
    """Whether `folder` is a tuned folder: one that holds its mode record (False for None)."""
    return bool(folder) and (Path(folder) / MODE_RECORD).is_file()


def embedded_pyramid() -> Path | None:
    """The best embedded pyramid-trained keyframe folder (None when none is here)."""
    return next((ASSETS / "modes" / n for n in PYRAMID_FOLDERS if is_tuned_folder(ASSETS / "modes" / n)), None)


def interp_methods_here(root: str | Path | None = None) -> list[str]:
    """The interpolation methods whose models are under `root` (default assets/interp), the default first."""
    root = Path(root or ASSETS / "interp")
    return [m for m in INTERP_METHODS if (root / m / INTERP_RECORD).is_file()]


def decoders_here(root: str | Path | None = None) -> list[str]:
    """The temporal decoder variants under `root` (default assets/decoder), the best first."""
    root = Path(root or ASSETS / "decoder")
    return [v for v in DECODER_ORDER if (root / v / DECODER_RECORD).is_file()]


def upscale_modes_here(root: str | Path | None = None) -> list[str]:
    """The upscaling modes whose weights are under `root` (default assets/sr), the best first; none without the
    image SR model."""
    root = Path(root or ASSETS / "sr")
    if not (root / "image" / "sr.json").is_file():
        return []
    return [m for m in UPSCALE_ORDER if m == "zero-shot" or is_tuned_folder(root / f"video-{m}")]


def default_upscale_mode(model: str | None = None) -> str:
    """The best upscaling mode here (zero-shot for an image SR model of one's own)."""
    return "zero-shot" if model else best_of(UPSCALE_ORDER, upscale_modes_here())
