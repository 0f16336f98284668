"""Files written whole or not at all: a file under a temporary name renamed into place (`atomic_path`), a folder
built beside its final place and swapped in (`atomic_folder`). Every writer of the project's outputs, assets and
checkpoints goes through these, so a crash or a refused input never leaves a half-written file under its final
name."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def readable(folder: str | Path):
    """Give every file and folder under `folder` the usual permissions (libraries such as diffusers write 0600)."""
    umask = _umask()
    for f in Path(folder).rglob("*"):
        f.chmod((0o777 if f.is_dir() else 0o666) & ~umask)


@contextmanager
def atomic_path(path: str | Path, suffix: str | None = None):
    """Yield a temporary path beside `path`; on success rename it to `path`, on failure remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a finished file gets the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> Path:
    """A text file (a report, a record) written whole or not at all."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


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
