"""JSON sidecars: every output file gets NAME.json beside it with what made it, so it can be made again; how a
record names a folder (`recorded_path`) and a model's weights (`model_hash`)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .files import atomic_path

VERSION = "0.1.0"
REPO = Path(__file__).resolve().parents[1]


def sidecar_path(output: str | Path) -> Path:
    return Path(output).with_suffix(".json")


def write_sidecar(output: str | Path, record: dict) -> Path:
    path = sidecar_path(output)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"flipbook": VERSION, **record}, indent=1))
    return path


def read_sidecar(output_or_json: str | Path) -> dict | None:
    """The sidecar of an output (or a sidecar path itself); None if there is none."""
    p = Path(output_or_json)
    path = p if p.suffix == ".json" else sidecar_path(p)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path.name} is not valid JSON ({e}); restore it or delete it") from None


def recorded_path(path: str | Path) -> str:
    """How a record names a folder: relative to the repository when inside it (so that a clone elsewhere reads
    the same record), absolute otherwise; what is not a folder here (a hub id) as it was given."""
    if not Path(path).exists():
        return str(path)
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(REPO))
    except ValueError:
        return str(resolved)


def model_hash(module: torch.nn.Module) -> str:
    """A short content hash of a module's weights (what sidecars record)."""
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().to(torch.float16).contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]
