"""Atomic files and training checkpoints.

Weights are safetensors; optimizer state (our own, never a user's file) is torch.save'd and read back with
weights_only=True. Files are written under a temporary name and renamed into place, and a checkpoint is
a folder written whole beside the last one and swapped in, so it is either complete or absent (the last
one stays) whenever the process dies.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import save_file

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


@contextmanager
def atomic_folder(path: str | Path, keep: tuple[str, ...] = ("*.md",)):
    """Yield an empty temporary folder beside `path`; on success it replaces `path` whole (files of `path`
    matching `keep`, such as reports, are carried over), on failure it is removed and `path` stays as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if path.exists():
            for pattern in keep:
                for f in path.glob(pattern):
                    if not (tmp / f.name).exists():
                        shutil.copy2(f, tmp / f.name)
            shutil.rmtree(path)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
    from ..validate import read_safetensors

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
