"""Tuned modes saved apart from their base, the way motion modules and LoRA are.

A tuned folder holds `mode.json` (the mode, its ablations, the base it was tuned from and that base's
hash) and `tuned.safetensors` (fp16): the mode's trainable parameters only (the added modules; for
`full`, the UNet too; for `lora`, the LoRA matrices). Loading rebuilds the mode on the base and fills in
those tensors; anything missing or unexpected is an error that names the mismatch.

The record is written here (`save_tuned`) and read here (`read_tuned`, typed as a `TunedRecord`; `tuned_record`
for the plain dict); `is_tuned_folder` (engine.registry, light) says whether a folder holds one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..files import atomic_folder
from ..models.inflate import VideoUNet, inflate
from ..registry import ASSETS, MODE_RECORD, is_tuned_folder
from ..validate import read_safetensors
from .recipes import apply_mode

ASSET = ASSETS / "modes"


def trainable_state(video: VideoUNet) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in video.named_parameters() if p.requires_grad}


TEXT_ENCODER = "text_encoder.safetensors"


def save_tuned(video: VideoUNet, out: str | Path, base_hash: str, extra: dict | None = None, ablate=(),
               text_encoder: torch.nn.Module | None = None):
    """Write the folder whole or not at all (a temporary folder renamed into place). `text_encoder`: saved too
    (fp16) when the mode tuned it (see `train_mode`)."""
    if video.mode is None:
        raise ValueError("this video UNet has no mode; apply_mode first")
    with atomic_folder(out, keep=("*.png",)) as tmp:  # a loss plot written beside the weights stays
        tensors = {k: v.to(torch.float16).contiguous().cpu() for k, v in trainable_state(video).items()}
        if tensors:
            save_file(tensors, str(tmp / "tuned.safetensors"))
        if text_encoder is not None:
            save_file({k: v.detach().to(torch.float16).contiguous().cpu() for k, v in text_encoder.state_dict().items()},
                      str(tmp / TEXT_ENCODER))
        record = {"mode": video.mode, "ablate": sorted(ablate), "base_hash": base_hash, **(extra or {})}
        (tmp / MODE_RECORD).write_text(json.dumps(record, indent=1))


@dataclass(frozen=True)
class TunedRecord:
    """A tuned folder's record, typed where the code reads it; `raw` is the whole record (the base's hash, the
    ablations, the training settings…), empty for no folder. Each view reads `raw` as the callers always have:
    absent keys take the defaults below."""
    raw: dict = field(default_factory=dict, hash=False)

    @property
    def mode(self) -> str | None:
        """The tuned mode (None: the record names none)."""
        return self.raw.get("mode")

    @property
    def form(self) -> str:
        """What the modules were trained for: 'ddim' (the base's own diffusion) or 'flow' (flow matching)."""
        return self.raw.get("form", "ddim")

    @property
    def pyramid(self) -> int:
        """The temporal pyramid's stages it was trained for (1: trained without the pyramid)."""
        return int(self.raw.get("pyramid") or 1)

    @property
    def noise_share(self) -> float:
        """The share of one noise draw mixed into every frame in training (sampling starts from the same mix)."""
        return float(self.raw.get("noise_share", 0.0))

    def get(self, key: str, default=None):
        """Any other entry of the record."""
        return self.raw.get(key, default)


def read_tuned(folder: str | Path | None) -> TunedRecord:
    """A tuned folder's record (an empty one for no folder, or a folder without it); a damaged record is an
    error that says to tune again. The one reader of the record."""
    path = Path(folder) / MODE_RECORD if folder else None
    if not (path and path.is_file()):
        return TunedRecord()
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON ({e}); the tuned folder is damaged: tune it again") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path} must hold a JSON object naming the mode; the tuned folder is damaged: tune it again")
    return TunedRecord(record)


def tuned_record(folder: str | Path | None) -> dict:
    """A tuned folder's mode.json as a dict ({} for none): its mode, and for pyramid-trained models its form and
    stages (`read_tuned`'s record, untyped)."""
    return read_tuned(folder).raw


def load_tuned(unet, folder: str | Path | None, mode: str | None = None) -> VideoUNet:
    """Inflate `unet` (which this takes over) and apply a tuned folder, or a bare `mode` (zero-shot)."""
    if folder is None:
        return apply_mode(inflate(unet), mode or "zero-shot")
    folder = Path(folder)
    if not is_tuned_folder(folder):
        raise FileNotFoundError(f"{folder} is not a tuned mode (no mode.json); train one with `flipbook tune`")
    record = read_tuned(folder)
    video = apply_mode(inflate(unet), record.raw["mode"], set(record.get("ablate", ())))
    video.noise_share = record.noise_share  # trained on mixed noise: sample from it too
    expected = trainable_state(video)
    if not expected:
        return video
    tensors = read_safetensors(folder / "tuned.safetensors", "tuned weights")
    missing, unexpected = set(expected) - set(tensors), set(tensors) - set(expected)
    params = dict(video.named_parameters())
    wrong = [n for n in set(tensors) & set(expected) if params[n].shape != tensors[n].shape]
    if missing or unexpected or wrong:
        example = (sorted(missing) or sorted(wrong) or sorted(unexpected))[0]
        raise ValueError(f"{folder.name} does not fit this base ({len(missing)} tensors missing, {len(unexpected)} "
                         f"unexpected, {len(wrong)} of another shape, e.g. {example}): it was tuned on another base "
                         "or by another version; use it with its own base, or tune again")
    with torch.no_grad():
        for name, value in tensors.items():
            params[name].copy_(value.to(params[name].dtype))
    return video


def load_text_encoder(text_encoder, folder: str | Path | None) -> bool:
    """Put a tuned folder's text-encoder weights into `text_encoder` (True), or leave it (False: none saved)."""
    path = Path(folder) / TEXT_ENCODER if folder else None
    if path is None or not path.is_file():
        return False
    state = read_safetensors(path, "text-encoder weights")
    own = text_encoder.state_dict()
    wrong = [k for k in own if k not in state or state[k].shape != own[k].shape]
    if wrong or len(state) != len(own):
        raise ValueError(f"{Path(folder).name}: its text encoder does not fit this base's (e.g. {wrong[:2]}): it was "
                         "tuned on another base")
    text_encoder.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return True
