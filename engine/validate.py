"""Checks on what a user hands the engine, shared by the command line and the studio.

Each failure is a ValueError (or FileNotFoundError) whose message says what to fix, which the CLI prints as
one line and the studio as one message; a check runs before any work, so a refused request writes nothing.
Weights are read from safetensors only: `read_safetensors` never unpickles, and says so when it meets a pickle.
"""
from __future__ import annotations

import math
import tempfile
import unicodedata
from pathlib import Path

MAX_PROMPT = 500  # characters; a word-level or CLIP tokenizer keeps the first 77 tokens anyway
MAX_SEED = 2**63 - 1
EXAMPLE = "a red circle moving left on a black background"
PICKLE_NAMES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def check_prompt(prompt, what: str = "the prompt", empty_ok: bool = False) -> str:
    """Plain text of at most MAX_PROMPT characters, stripped; empty only if `empty_ok`."""
    if prompt is None and empty_ok:
        return ""
    if not isinstance(prompt, str):
        raise ValueError(f"{what} must be text, got {type(prompt).__name__}")
    odd = next((c for c in prompt if unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") and not c.isspace()), None)
    if odd is not None:
        raise ValueError(f"{what} holds a control character or undecodable byte ({odd!r}); type it as plain text")
    text = prompt.strip()
    if not text and not empty_ok:
        raise ValueError(f"{what} is empty; describe a clip, e.g. '{EXAMPLE}'")
    if len(text) > MAX_PROMPT:
        raise ValueError(f"{what} has {len(text)} characters; keep it under {MAX_PROMPT}")
    return text


def check_number(value, name: str, low: float | None = None, high: float | None = None, whole: bool = False):
    """`value` as an int (`whole`) or a finite float within [low, high], or a ValueError naming `name`."""
    try:
        if isinstance(value, bool) or value is None or isinstance(value, str) and not value.strip():
            raise ValueError
        x = float(value)
        if whole:
            if not math.isfinite(x) or x != int(x):
                raise ValueError
            x = int(value) if isinstance(value, int) else int(x)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a {'whole ' if whole else ''}number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if (low is not None and x < low) or (high is not None and x > high):
        fmt = (lambda v: str(int(v))) if whole else (lambda v: f"{v:g}")
        span = f"between {fmt(low)} and {fmt(high)}" if low is not None and high is not None else \
            f"at least {fmt(low)}" if low is not None else f"at most {fmt(high)}"
        raise ValueError(f"{name} must be {span}, got {value!r}")
    return x


def check_seed(seed, name: str = "seed") -> int:
    return check_number(seed, name, 0, MAX_SEED, whole=True)


def check_folder(folder: str | Path, flag: str = "--out") -> Path:
    """A folder that exists and this process can create files in."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file, not a folder; choose another {flag}")
    if not folder.is_dir():
        raise FileNotFoundError(f"the folder {folder} does not exist; create it or choose another {flag}")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise PermissionError(f"cannot write in {folder} ({e.strerror or type(e).__name__}); "
                              f"choose another {flag}") from None
    return folder


def check_output(path: str | Path, suffixes: tuple[str, ...] = (".mp4", ".gif"), flag: str = "--out") -> Path:
    """An output file path: a known suffix (none for a folder output: `suffixes=()`), in a writable folder."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give {flag} a file name"
                                + (f" ending in {' or '.join(suffixes)}" if suffixes else ""))
    if suffixes and path.suffix.lower() not in suffixes:
        raise ValueError(f"cannot write {path.name or path}: use a file name ending in {' or '.join(suffixes)}")
    check_folder(path.parent, flag)
    return path


def read_safetensors(path: str | Path, what: str = "weights", metadata: bool = False) -> dict | tuple[dict, dict]:
    """The tensors of a safetensors file (with `metadata`, also its header's metadata: {str: str}); a file that is
    not one (a pickle, a damaged file) is a ValueError. Nothing here unpickles: safetensors reads a JSON header and
    raw tensor bytes."""
    # heavy: safetensors.torch loads torch, which the checks above (standard library only) do without
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        pickles = [p.name for p in path.parent.glob("*") if p.suffix in PICKLE_NAMES] if path.parent.is_dir() else []
        note = f" ({', '.join(pickles)} {'is' if len(pickles) == 1 else 'are'} pickle weights, which Flipbook never " \
               "loads)" if pickles else ""
        raise FileNotFoundError(f"{path.parent} has no {path.name}{note}; Flipbook loads {what} from safetensors only")
    try:
        if not metadata:
            return load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{path} is not a safetensors file ({str(e).splitlines()[0][:80]}); Flipbook loads {what} "
                         "from safetensors only: convert it, or make it again") from None
