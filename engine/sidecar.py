"""JSON sidecars: every output file gets NAME.json beside it with what made it, so it can be made again."""
from __future__ import annotations

import json
from pathlib import Path

from .files import atomic_path

VERSION = "0.1.0"


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
