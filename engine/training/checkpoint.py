"""Training checkpoints and run folders (atomic writes: engine.files).

Everything is safetensors, the optimizer's state too: its tensors by "state.INDEX.NAME", its parameter groups and
plain values as JSON in the file's metadata (`optimizer_files`), so nothing is ever unpickled. A checkpoint of an
older Flipbook whose optimizer state is a pickle (optimizer.pt) resumes its weights with a fresh optimizer state,
and says so. Files are written under a temporary name and renamed into place, and a checkpoint is
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
OPTIMIZER = "optimizer.safetensors"


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


def optimizer_files(state: dict) -> tuple[dict, dict]:
    """An optimizer's state_dict as safetensors can hold it: ({"state.INDEX.NAME": tensor}, {"optimizer": JSON of
    the parameter groups and the per-parameter values that are not tensors})."""
    tensors, plain = {}, {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"state.{index}.{name}"] = value.detach().contiguous().cpu()
            else:
                plain.setdefault(str(index), {})[name] = value
    return tensors, {"optimizer": json.dumps({"param_groups": state["param_groups"], "state": plain}, default=_number)}


def _number(value):
    """A one-element tensor in the parameter groups (a learning rate given as a tensor) as its number for JSON."""
    if torch.is_tensor(value) and value.numel() == 1:
        return value.item()
    raise TypeError(f"optimizer state holds a {type(value).__name__}, which a checkpoint cannot store")


def optimizer_state(tensors: dict, metadata: dict) -> dict:
    """The state_dict that `optimizer_files` took apart."""
    meta = json.loads(metadata["optimizer"])
    state = {int(index): dict(values) for index, values in meta["state"].items()}
    for key, tensor in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = tensor
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(directory: str | Path, model, optimizer=None, state: dict | None = None):
    """Write NAME.safetensors per model (`model` is a module or {name: module}), optimizer.safetensors and state.json
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
        tensors, metadata = optimizer_files(optimizer.state_dict())
        save_file(tensors, str(new / OPTIMIZER), metadata=metadata)
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
    if optimizer is not None:
        _load_optimizer(directory, optimizer)
    return json.loads((directory / "state.json").read_text())


def _load_optimizer(directory: Path, optimizer):
    """The optimizer's state from optimizer.safetensors; a pickled optimizer.pt (an older Flipbook's) is never read."""
    path = directory / OPTIMIZER
    if not path.exists():
        if (directory / "optimizer.pt").exists():
            warnings.warn(f"{directory / 'optimizer.pt'} is a pickle (an older Flipbook's checkpoint), which Flipbook "
                          "never loads: the run resumes its weights with a fresh optimizer state")
        return
    tensors, metadata = read_safetensors(path, "optimizer state", metadata=True)
    try:
        state = optimizer_state(tensors, metadata)
        optimizer.load_state_dict(state)
    except (KeyError, ValueError, TypeError) as e:
        raise ValueError(f"{path} is not optimizer state this program wrote for this run ({type(e).__name__}: "
                         f"{str(e)[:80]}); delete {directory.parent} to start the run again") from None
