"""Training checkpoints and run folders (atomic writes: engine.files).

Weights are safetensors; optimizer state (our own, never a user's file) is torch.save'd and read back with
weights_only=True. Files are written under a temporary name and renamed into place, and a checkpoint is
a folder written whole beside the last one and swapped in, so it is either complete or absent (the last
one stays) whenever the process dies.
"""
from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..validate import read_safetensors

RUNS_VARIABLE = "FLIPBOOK_RUNS"


def run_folder(path: str | Path) -> Path:
    """Where a run keeps its checkpoints: a default 'runs/NAME' goes under $FLIPBOOK_RUNS when that is set (a
    folder outside the checkout, which survives the checkout being laid anew), else stays in ./runs; any other
    path is taken as given."""
    p = Path(path)
    root = os.environ.get(RUNS_VARIABLE)
    if root and not p.is_absolute() and p.parts[:1] == ("runs",):
        return Path(root).expanduser() / Path(*p.parts[1:])
    return p


def resume_schedule(scheduler, steps: int):
    """Move a learning-rate schedule on to where a resumed run left it. (PyTorch warns when a schedule steps
    before its optimizer has; moving it on before training resumes is the point here.)"""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
        for _ in range(steps):
            scheduler.step()


def save_checkpoint(directory: str | Path, model, optimizer=None, state: dict | None = None):
    """Write NAME.safetensors per model (`model` is a module or {name: module}), optimizer.pt and state.json
    into a fresh folder beside `directory`, then swap it into place: the checkpoint on disk is always one
    whole step's, whenever the process dies (the previous one survives as DIR.old during the swap)."""
    directory = Path(directory)
    models = model if isinstance(model, dict) else {"model": model}
    new, old = directory.with_name(directory.name + ".new"), directory.with_name(directory.name + ".old")
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    for name, m in models.items():
        save_file({k: v.detach().contiguous().cpu() for k, v in m.state_dict().items()}, str(new / f"{name}.safetensors"))
    if optimizer is not None:
        torch.save(optimizer.state_dict(), new / "optimizer.pt")
    (new / "state.json").write_text(json.dumps(state or {}, indent=1))
    _fsync_tree(new)
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    new.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def _fsync_tree(folder: Path):
    for f in folder.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def _complete(directory: Path) -> Path | None:
    """The whole checkpoint: DIR, or DIR.old when a swap was cut between its two renames."""
    for d in (directory, directory.with_name(directory.name + ".old")):
        if (d / "state.json").exists():
            return d
    return None


def load_checkpoint(directory: str | Path, model, optimizer=None) -> dict | None:
    """Restore what save_checkpoint wrote; None when there is no complete checkpoint."""
    directory = _complete(Path(directory))
    if directory is None:
        return None
    models = model if isinstance(model, dict) else {"model": model}
    for name, m in models.items():
        m.load_state_dict(read_safetensors(directory / f"{name}.safetensors", "checkpoints"))
    if optimizer is not None and (directory / "optimizer.pt").exists():
        try:  # weights_only: tensors and plain containers, never arbitrary objects
            state = torch.load(directory / "optimizer.pt", weights_only=True)
        except Exception as e:  # noqa: BLE001 - an UnpicklingError for anything but tensors, or a damaged file
            raise ValueError(f"{directory / 'optimizer.pt'} is not optimizer state this program wrote "
                             f"({type(e).__name__}); delete {directory.parent} to start the run again") from None
        optimizer.load_state_dict(state)
    return json.loads((directory / "state.json").read_text())
