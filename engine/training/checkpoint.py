"""Atomic files and training checkpoints.

Weights are safetensors; optimizer state (our own, never a user's file) is torch.save'd and read back with
weights_only=True. Every file is written under a temporary name and renamed into place, so a checkpoint
is either complete or absent, whenever the process dies.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


@contextmanager
def atomic_path(path: str | Path, suffix: str | None = None):
    """Yield a temporary path beside `path`; on success rename it to `path`, on failure remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a finished file gets the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(directory: str | Path, model, optimizer=None, state: dict | None = None):
    """Write NAME.safetensors per model (`model` is a module or {name: module}), optimizer.pt and state.json
    into `directory`, each atomically; state.json last, so its presence means the checkpoint is whole."""
    directory = Path(directory)
    models = model if isinstance(model, dict) else {"model": model}
    for name, m in models.items():
        with atomic_path(directory / f"{name}.safetensors") as tmp:
            save_file({k: v.detach().contiguous().cpu() for k, v in m.state_dict().items()}, str(tmp))
    if optimizer is not None:
        with atomic_path(directory / "optimizer.pt") as tmp:
            torch.save(optimizer.state_dict(), tmp)
    with atomic_path(directory / "state.json") as tmp:
        tmp.write_text(json.dumps(state or {}, indent=1))


def load_checkpoint(directory: str | Path, model, optimizer=None) -> dict | None:
    """Restore what save_checkpoint wrote; None when there is no complete checkpoint."""
    directory = Path(directory)
    if not (directory / "state.json").exists():
        return None
    models = model if isinstance(model, dict) else {"model": model}
    for name, m in models.items():
        m.load_state_dict(load_file(str(directory / f"{name}.safetensors")))
    if optimizer is not None and (directory / "optimizer.pt").exists():
        optimizer.load_state_dict(torch.load(directory / "optimizer.pt", weights_only=True))
    return json.loads((directory / "state.json").read_text())
