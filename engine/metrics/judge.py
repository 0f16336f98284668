"""The judge: a small video classifier trained on ground-truth world clips only.

It predicts every attribute of a clip (shape, colour, size, motion, background of the first object).
Its accuracy on a generated clip's prompt is Flipbook's text-alignment score (the papers' CLIPSIM), and
the Fréchet distance between its pooled features on two sets of clips is Flipbook's FVD-like score.
Any clip is first brought to the judge's view: `frames` evenly spaced frames at `size`×`size`.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from einops import rearrange
from torch import nn

from ..registry import ASSETS
from ..world.vocab import ATTRIBUTES

ASSET = ASSETS / "judge"


def _conv2d(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(8, cout), nn.SiLU())


def _conv3d(cin, cout, kernel=(3, 3, 3), stride=1):
    pad = tuple(k // 2 for k in kernel)
    return nn.Sequential(nn.Conv3d(cin, cout, kernel, stride, pad), nn.GroupNorm(8, cout), nn.SiLU())


def to_judge_view(video: torch.Tensor, frames: int = 8, size: int = 32) -> torch.Tensor:
    """(B, 3, F, H, W) in [0, 1] -> (B, 3, frames, size, size): evenly spaced frames, area/bilinear resize."""
    if video.ndim != 5 or video.shape[1] != 3:
        raise ValueError(f"expected a video batch shaped (B, 3, F, H, W), got {tuple(video.shape)}")
    if video.shape[2] < 2:
        raise ValueError("the judge needs at least 2 frames to see motion")
    idx = torch.linspace(0, video.shape[2] - 1, frames).round().long()
    x = rearrange(video[:, :, idx].float(), "b c f h w -> (b f) c h w")
    if x.shape[-2:] != (size, size):
        mode = "area" if min(x.shape[-2:]) >= size else "bilinear"
        x = F.interpolate(x, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))
    return rearrange(x, "(b f) c h w -> b c f h w", f=frames).clamp(0, 1)


def silhouette(x: torch.Tensor) -> torch.Tensor:
    """Colour-blind view (B, 1, F, H, W): contrast against the background, normalised per clip.

    The background is estimated per row from the left and right borders (solid, vertical gradients), and
    the contrast is the largest channel difference, scaled so the clip's strongest contrast is about 1.
    """
    background = (x[..., :1] + x[..., -1:]) / 2  # b c f h 1
    contrast = (x - background).abs().amax(dim=1, keepdim=True)
    return contrast / (contrast.amax(dim=(2, 3, 4), keepdim=True) + 0.05)


class ColourNet(nn.Module):
    """Per-pixel 1×1 convolutions with attention pooling: it cannot see shape, so it cannot use shape as a cue."""

    def __init__(self, classes: int, width: int = 24):
        super().__init__()
        self.pixel = nn.Sequential(nn.Linear(6, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU())
        self.objectness = nn.Linear(width, 1)
        self.logits = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x[:, :, ::2]  # colour does not change over time: every other frame is enough
        background = (x[..., :1] + x[..., -1:]) / 2
        pixels = rearrange(torch.cat([x, x - background], dim=1), "b c f h w -> b (f h w) c")
        h = self.pixel(pixels)  # b n w
        weights = torch.softmax(self.objectness(h), dim=1)  # b n 1: where the object is
        return (self.logits(h) * weights).sum(1), (h * weights).sum(1)


class ShapeNet(nn.Module):
    """A per-frame CNN on the silhouette, logits averaged over frames: it cannot see colour."""

    def __init__(self, classes: int, width: int = 24):
        super().__init__()
        w = width
        self.net = nn.Sequential(_conv2d(1, w), _conv2d(w, 2 * w, 2), _conv2d(2 * w, 2 * w), _conv2d(2 * w, 3 * w, 2),
                                 _conv2d(3 * w, 4 * w, 2))
        self.head = nn.Linear(4 * w, classes)

    def forward(self, sil: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = sil.shape[0]
        h = self.net(rearrange(sil, "b c f h w -> (b f) c h w")).mean(dim=(2, 3))  # (b f) d
        h = rearrange(h, "(b f) d -> b f d", b=b).mean(1)
        return self.head(h), h


class Judge(ModelMixin, ConfigMixin):
    """Three views of a clip, so that no head can lean on a correlation between attributes:
    shape from a colour-blind silhouette CNN, colour from a shape-blind per-pixel network, and size, motion
    and background from a (2+1)D CNN (per-frame 2D convs, then 3D convs over time)."""

    @register_to_config
    def __init__(self, width: int = 24, frames: int = 8, size: int = 32, feature_dim: int = 128):
        super().__init__()
        w = width
        self.frame_net = nn.Sequential(  # (b f) 6 32 32 -> (b f) 3w 8 8
            _conv2d(6, w), _conv2d(w, 2 * w, 2), _conv2d(2 * w, 2 * w), _conv2d(2 * w, 3 * w, 2))
        self.clip_net = nn.Sequential(  # b 3w f 8 8 -> b d f/2 4 4
            _conv3d(3 * w, 3 * w, (3, 1, 1)), _conv3d(3 * w, feature_dim, stride=(2, 2, 2)),
            _conv3d(feature_dim, feature_dim))
        self.shape_net = ShapeNet(len(ATTRIBUTES["shape"]), 16)
        self.colour_net = ColourNet(len(ATTRIBUTES["colour"]))
        self.heads = nn.ModuleDict({k: nn.Linear(feature_dim, len(ATTRIBUTES[k])) for k in ("size", "motion", "background")})

    def _views(self, video: torch.Tensor):
        x = to_judge_view(video, self.config.frames, self.config.size).to(self.dtype)
        diff = torch.cat([x[:, :, 1:] - x[:, :, :-1], torch.zeros_like(x[:, :, :1])], dim=2)
        b = x.shape[0]
        h = self.frame_net(rearrange(torch.cat([x * 2 - 1, diff * 2], 1), "b c f h w -> (b f) c h w"))
        trunk = self.clip_net(rearrange(h, "(b f) c h w -> b c f h w", b=b)).mean(dim=(2, 3, 4))
        shape_logits, shape_feat = self.shape_net(silhouette(x))
        colour_logits, colour_feat = self.colour_net(x)
        return trunk, shape_logits, shape_feat, colour_logits, colour_feat

    def features(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, F, H, W) in [0, 1], any F ≥ 2 and size -> (B, D): every view's pooled features."""
        trunk, _, shape_feat, _, colour_feat = self._views(video)
        return torch.cat([trunk, shape_feat, colour_feat], dim=1)

    def forward(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits per attribute: {attr: (B, classes)}."""
        trunk, shape_logits, _, colour_logits, _ = self._views(video)
        logits = {k: head(trunk) for k, head in self.heads.items()}
        return {"shape": shape_logits, "colour": colour_logits, **logits}

    @torch.no_grad()
    def predict(self, video: torch.Tensor) -> list[dict[str, str]]:
        """Attribute names predicted for each clip of the batch."""
        logits = self(video)
        idx = {k: v.argmax(-1).tolist() for k, v in logits.items()}
        return [{k: ATTRIBUTES[k][idx[k][i]] for k in ATTRIBUTES} for i in range(video.shape[0])]


def load_judge(path: str | Path | None = None, device: str = "cpu") -> Judge:
    """The judge from `path` (a folder saved by save_pretrained), by default the embedded one in assets/."""
    path = Path(path or ASSET)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no judge at {path}; train one with `flipbook train-judge --out {path}`")
    try:
        judge = Judge.from_pretrained(path, torch_dtype=torch.float32, use_safetensors=True)
    except (OSError, ValueError) as e:  # no safetensors weights (a pickle is never loaded), or damaged ones
        raise FileNotFoundError(f"cannot load the judge at {path}: {str(e).splitlines()[0][:160]} (Flipbook loads "
                                "safetensors weights only)") from None
    return judge.to(device).eval()
