"""What every tab shares: the output folder, the models the studio can run (its variants), the pipeline
cache and its lock, per-session Stop flags, each browser's History, and the judge.

A browser is known by an owner token the studio issues and the page keeps (gradio's BrowserState), so a reload
finds its History again; a folder the Tune tab made is a choice only for the browser that made it, unless the
studio was started with shared models (`flipbook studio --shared-models`). Requests without a token (API
clients) are their own owner, by their session.

A variant is what the Generate and Compare tabs run: zero-shot, a tuned folder under the modes folder
(assets/modes or --modes), or a folder the Tune tab made in this studio's output folder. The UI and the
API name it by key: the folder's name under the modes folder (`temporal`), or the tuned folder's path.
A pyramid-trained folder (mode.json with `pyramid` ≥ 2) also samples through its temporal pyramid: in
Compare its key with `+pyramid` appended is the pyramid run, the plain key the vanilla one.
"""
from __future__ import annotations

import itertools
import json
import re
import secrets
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.registry import KEYFRAME_ORDER, MODE_RECORD, best_of, is_tuned_folder

PYRAMID = "+pyramid"
DEFAULT_CLIP = {"size": 32, "fps": 2.0, "frames": 8}


class Outputs:
    """This app's output folder: fresh names from a counter, so no user string becomes a path."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or tempfile.mkdtemp(prefix="flipbook-studio-")).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def new(self, kind: str, suffix: str = ".mp4", model: str | None = None) -> Path:
        """A fresh path `KIND[-MODEL]-NNNNN-TIME.SUFFIX`: the model's name (letters, digits and dashes only) says in
        the download's name which model made it."""
        if not re.fullmatch(r"\w[\w+-]*", kind, re.ASCII) or not re.fullmatch(r"(\.\w+)?", suffix, re.ASCII):
            raise ValueError(f"an output name is a word and a suffix, never a path; got {kind!r} and {suffix!r}")
        tag = re.sub(r"[^A-Za-z0-9]+", "-", model or "").strip("-")[:60]
        with self._lock:
            n = next(self._count)
        return self.root / f"{kind}{'-' + tag if tag else ''}-{n:05d}-{int(time.time())}{suffix}"


class Stopped(Exception):
    """Raised from a step callback when the session pressed Stop."""

    def __init__(self, step: int, total: int):
        super().__init__(f"stopped at step {step} of {total}; nothing was saved")
        self.step, self.total = step, total


class Recent(OrderedDict):
    """A dict that keeps the `limit` most recently used entries (generate_video's pipe_cache; owners' state)."""

    def __init__(self, limit: int = 4):
        super().__init__()
        self.limit = limit

    def __getitem__(self, key):
        self.move_to_end(key)
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.move_to_end(key)  # a value set anew is the most recently used
        while len(self) > self.limit:
            self.popitem(last=False)


@dataclass(frozen=True)
class Variant:
    key: str  # what the UI and API pass
    label: str
    mode: str
    tuned: str | None  # the folder generate_video loads (None: zero-shot, or the embedded assets/modes/MODE)
    stages: int | None = None  # the folder's pyramid stages (None: not pyramid-trained)
    pyramid: bool = False  # sample through the pyramid
    form: str = "ddim"  # ddim or flow
    clip: dict = field(default_factory=lambda: dict(DEFAULT_CLIP))
    short: str = ""  # a few words for a tile of the side-by-side clip

    @property
    def fps(self) -> float:
        return float(self.clip.get("fps", 2.0))


class Studio:
    """Shared state of one studio app. `model`: the --model, --modes, --dtype, --device and memory options."""

    def __init__(self, outputs: Outputs | None = None, model: dict | None = None, sessions: int = 64,
                 shared_models: bool = False):
        self.outputs = outputs or Outputs()
        self.model = dict(model or {})
        self.own = self.model.get("model") is not None
        self.cache = Recent(2 if self.own else 6)
        self.lock = threading.Lock()  # one generation at a time: cached pipelines keep per-call scheduler state
        self._stops: dict[str, threading.Event] = {}
        self._judge = self._base_hash = None
        self.tuned: dict[str, tuple[str, str]] = {}  # path of a folder the Tune tab made -> (its label, its owner)
        self.shared = shared_models
        self._owners, self._histories = Recent(sessions), Recent(sessions)  # session -> owner; owner -> History

    # -- variants ----------------------------------------------------------------------------------
    @property
    def modes_dir(self) -> Path | None:
        # heavy: engine.tuning loads torch and diffusers, which studio.context otherwise does without
        from engine.tuning import ASSET

        if self.model.get("modes"):
            return Path(self.model["modes"]).resolve()
        return None if self.own else ASSET  # the embedded modes were tuned on the embedded base

    def _folder_variant(self, key: str, folder: Path, label: str) -> Variant:
        # heavy: engine.tuning loads torch and diffusers, which studio.context otherwise does without
        from engine.tuning import read_tuned

        record = read_tuned(folder)
        if "mode" not in record.raw:
            raise ValueError(f"{folder} is not a tuned folder (its mode.json names no mode)")
        stages = record.pyramid
        # the embedded assets/modes/MODE loads by its mode name alone (sidecars then match the CLI's)
        embedded = not self.model.get("modes") and not self.own and folder == self.modes_dir / record.mode
        return Variant(key, label, record.mode, None if embedded else str(folder),
                       stages if stages >= 2 else None, False, record.form,
                       {**DEFAULT_CLIP, **(record.get("clip") or {})}, label.split(" (")[0])

    def variants(self, owner: str | None = None) -> list[Variant]:
        """Every variant that can generate now: zero-shot, the modes folder's tuned folders, and the folders the
        Tune tab made for `owner` (for everyone with shared models)."""
        found = [Variant("zero-shot", "zero-shot (the inflated image model)", "zero-shot", None, short="zero-shot")]
        folder = self.modes_dir
        if folder is not None and folder.is_dir():
            for path in sorted(p.parent for p in folder.glob(f"*/{MODE_RECORD}")):
                try:
                    v = self._folder_variant(path.name, path, path.name)
                except (ValueError, json.JSONDecodeError):
                    continue
                found.append(v if v.mode == path.name else replace(v, label=f"{path.name} ({v.mode})"))
        for path, (label, made_for) in self.tuned.items():
            if self.shared or made_for == owner:
                found.append(self._folder_variant(path, Path(path), label))
        return found

    def choices(self, pyramid: bool = False, owner: str | None = None) -> list[tuple[str, str]]:
        """(label, key) for dropdowns; with `pyramid`, pyramid-trained folders also as their pyramid run."""
        out = []
        for v in self.variants(owner):
            out.append((v.label + (" — vanilla sampling" if pyramid and v.stages else ""), v.key))
            if pyramid and v.stages:
                out.append((f"{v.label} — {v.stages}-stage pyramid", v.key + PYRAMID))
        return out

    def default_key(self) -> str:
        return best_of(KEYFRAME_ORDER, [v.key for v in self.variants()])

    def resolve(self, key: str, pyramid: bool | None = None, owner: str | None = None) -> Variant:
        """The variant a key names for `owner` (a `+pyramid` suffix, or `pyramid`, asks for the pyramid run)."""
        if not isinstance(key, str) or not key.strip():
            raise ValueError("choose a tuning mode")
        key = key.strip()
        if key.endswith(PYRAMID):
            key, pyramid = key[:-len(PYRAMID)], True
        for v in self.variants(owner):
            if key in (v.key, v.label):
                if pyramid and not v.stages:
                    raise ValueError(f"{v.label} was not trained for the temporal pyramid; sample it without")
                return replace(v, pyramid=bool(pyramid))
        path = Path(key).expanduser()
        if path.is_absolute() and is_tuned_folder(path):
            path = path.resolve()
            if self.modes_dir is not None and path.parent == self.modes_dir:
                return self.resolve(path.name, pyramid, owner)
            if not path.is_relative_to(self.outputs.root):
                raise ValueError(f"{key} is outside this studio's folders; tuned folders load from the modes folder "
                                 "or from the Tune tab's results")
            if str(path) not in self.tuned:  # (another browser's is not found: it was not among the variants)
                return self.resolve(self.register(path, owner=owner), pyramid, owner)
        names = ", ".join(v.key for v in self.variants(owner) if v.key not in self.tuned)
        raise ValueError(f"no tuned model {key!r} here; available: {names}"
                         + (" (or a folder the Tune tab made)" if self.tuned else ""))

    def register(self, folder: str | Path, label: str | None = None, owner: str | None = None) -> str:
        """Make a tuned folder (in this studio's output folder) selectable for `owner`; returns its key."""
        # heavy: engine.tuning loads torch and diffusers, which studio.context otherwise does without
        from engine.tuning import read_tuned

        path = str(Path(folder).resolve())
        if path not in self.tuned:
            record = read_tuned(path)
            n = sum(made_for == owner for _, made_for in self.tuned.values()) + 1
            self.tuned[path] = (label or f"{record.get('mode', '?')} #{n} (tuned here, {record.get('steps', '?')} "
                                         "steps)", owner)
        return path

    def label(self, key: str) -> str:
        """A tuned folder's label (its key when it is not one of this studio's)."""
        return self.tuned.get(key, (key, None))[0]

    # -- owners and their History ------------------------------------------------------------------
    def owner(self, request) -> str:
        """Who a request comes from: the page's owner token once it has claimed one, else its session."""
        session = session_of(request)
        return self._owners.get(session, session)

    def claim(self, token: str | None, request) -> str:
        """Bind a page's session to its owner token: the one it kept if this studio issued it, else a new one."""
        if not (isinstance(token, str) and token in self._histories):
            token = secrets.token_urlsafe(24)
            self._histories[token] = []
        self._owners[session_of(request)] = token
        return token

    def history(self, owner: str) -> list:
        return list(self._histories.get(owner, []))

    def keep_history(self, owner: str, history: list | None):
        if owner in self._histories:
            self._histories[owner] = list(history or [])

    # -- stop flags and the judge ------------------------------------------------------------------
    def stop_flag(self, session: str | None) -> threading.Event:
        return self._stops.setdefault(session or "local", threading.Event())

    def stop(self, session: str | None):
        self.stop_flag(session).set()

    def base_hash(self) -> str:
        """The content hash of this studio's base UNet (what one-shot tuning keys its cache by), computed once."""
        if self._base_hash is None:
            # heavy: loading the base needs torch, diffusers and transformers; studio.context otherwise needs none
            from engine.models.base import load_base
            from engine.sidecar import model_hash

            self._base_hash = model_hash(load_base(self.model.get("model")).unet)
        return self._base_hash

    def judge(self):
        if self._judge is None:
            # heavy: the judge needs torch and diffusers, which studio.context otherwise does without
            from engine.metrics import load_judge

            self._judge = load_judge()
        return self._judge


def session_of(request) -> str:
    return getattr(request, "session_hash", None) or "local"
