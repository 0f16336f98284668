"""Which models the cascade's later stages have in this studio: the folders it looks in (its `interp_dir`, `sr_dir`,
`expert_dir` and `decoder_dir`, else the embedded assets) and the ones trained there, best first (engine.registry
decides the orders), shared by the Interpolate and Upscale tabs, the cascade and History."""
from __future__ import annotations

from pathlib import Path

from engine.registry import ASSETS, EXPERT_RECORD, decoders_here, interp_methods_here, upscale_modes_here

from .context import Studio

EXPERT = "t900"  # the expert trained on t ≤ 900 (MPL-Video §3.6)


def root(studio: Studio, stage: str) -> Path:
    """The folder `stage`'s models are in (interp, sr, expert, decoder): the studio's option, else assets/STAGE."""
    return Path(studio.model.get(f"{stage}_dir") or ASSETS / stage)


def interp_methods(studio: Studio) -> list[str]:
    """The interpolation methods trained here, the default first."""
    return interp_methods_here(root(studio, "interp"))


def upscale_modes(studio: Studio) -> list[str]:
    """The upscaling modes whose weights are here, the best first (none without the image SR model)."""
    return upscale_modes_here(root(studio, "sr"))


def decoders(studio: Studio) -> list[str]:
    """The temporal decoder variants here, best first."""
    return decoders_here(root(studio, "decoder"))


def has_expert(studio: Studio) -> bool:
    return (root(studio, "expert") / EXPERT / EXPERT_RECORD).is_file()
