"""The clip a tab works on, shared by Edit, Interpolate and Upscale: an uploaded clip (checked for type, size and
origin before it is read) or a world clip (a world prompt and seed, rendered), the widgets that choose it, and the
player that shows it as the tab will use it. Upload paths come from gradio, never from a typed string."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gradio as gr
import torch
import torch.nn.functional as F
from gradio.utils import get_upload_folder

from engine.io import read_video, write_video
from engine.validate import check_prompt
from engine.world import ClipSpec, prompt_to_spec, render

from .context import Studio
from .examples import EXAMPLES
from .fields import Number
from .media import enlarge
from .work import number, user_errors

WORLD = "a world clip"
UPLOADED = "my clip"
UPLOAD_TYPES = (".mp4", ".gif", ".webm", ".mov")
UPLOAD_MAX_MB = 32
UPLOAD_MAX_FRAMES, UPLOAD_MAX_PIXELS = 96, 854 * 480  # read whole as float32: at most ~0.5 GB


def checked_upload(file, roots: tuple[Path, ...] | None = None) -> Path:
    """An uploaded clip's path: a video type, at most UPLOAD_MAX_MB, and (for the page) inside `roots`."""
    path = Path(getattr(file, "name", file) or "")
    if not file or not path.is_file():
        raise ValueError(f"upload a clip ({', '.join(t[1:] for t in UPLOAD_TYPES)}), or choose a world clip")
    if path.suffix.lower() not in UPLOAD_TYPES:
        raise ValueError(f"{path.name} is not a clip this tab takes; upload one of {', '.join(UPLOAD_TYPES)}")
    if path.stat().st_size > UPLOAD_MAX_MB * 2**20:
        raise ValueError(f"{path.name} is {path.stat().st_size / 2**20:.0f} MB; the limit is {UPLOAD_MAX_MB} MB: "
                         "trim or compress it first")
    if roots is not None and not any(path.resolve().is_relative_to(r.resolve()) for r in roots):
        raise ValueError(f"{path.name} was not uploaded to this studio; upload it again")
    return path


def upload_roots(studio: Studio) -> tuple[Path, ...]:
    """Where the page's uploads may come from: gradio's upload folder and this studio's own."""
    return Path(get_upload_folder()), studio.outputs.root


def world_clip(world_prompt, world_seed, size, fps: float, frames: int) -> tuple[torch.Tensor, dict]:
    """A world prompt and seed rendered: (frames (F, 3, H, W) in [0, 1], what it is for the sidecar)."""
    prompt = check_prompt(world_prompt)
    seed = number(world_seed, "world seed", int, 0, 2**31 - 1)
    spec = prompt_to_spec(prompt, seed)
    return render(spec, size, fps, frames), {"input": f"world: {prompt} (seed {seed})", "world": {
        "prompt": prompt, "seed": seed, "spec": spec.to_dict()}}


def world_truth(what: dict, size, fps: float, frames: int) -> torch.Tensor | None:
    """A world clip's ground truth at another size, rate or length (None for an uploaded clip)."""
    if "world" not in what:
        return None
    return render(ClipSpec.from_dict(what["world"]["spec"]), size, fps, frames)


def uploaded_clip(upload, roots=None) -> tuple[torch.Tensor, float, dict]:
    """An uploaded clip read within the limits: (frames (F, 3, H, W) in [0, 1], fps, what it is)."""
    path = checked_upload(upload, roots)
    video, fps = read_video(path, UPLOAD_MAX_FRAMES, UPLOAD_MAX_PIXELS, UPLOAD_MAX_MB * 2**20)
    return video, fps, {"input": path.name}


def load_clip(source, world_prompt, world_seed, upload, roots, world: dict) -> tuple[torch.Tensor, float, dict]:
    """The chosen clip: a world clip rendered at `world` (size, fps, frames), or the uploaded clip as read."""
    if source == WORLD:
        video, what = world_clip(world_prompt, world_seed, world["size"], world["fps"], world["frames"])
        return video, float(world["fps"]), what
    if source == UPLOADED:
        return uploaded_clip(upload, roots)
    raise ValueError(f"choose the clip: {WORLD!r} or {UPLOADED!r}")


def show_clip(studio: Studio, name: str, load: Callable, source, world_prompt, world_seed, upload, roots=None):
    """The chosen clip as the tab will use it (`load(...)` -> (frames (F, 3, H, W), fps)), enlarged for the page;
    None while no clip is uploaded yet."""
    if source == UPLOADED and not upload:
        return None
    with user_errors():
        video, fps = load(source, world_prompt, world_seed, upload, roots)
    return str(write_video(studio.outputs.new(f"{name}-input"), enlarge(video), fps))


@dataclass
class ClipPicker:
    source: gr.Radio
    world_prompt: gr.Dropdown
    world_seed: gr.Number
    upload: gr.File
    picked: gr.Video

    @property
    def inputs(self) -> list:
        return [self.source, self.world_prompt, self.world_seed, self.upload]


def clip_picker(studio: Studio, name: str, load: Callable, picked_label: str, roots, upload_note: str = "",
                examples: list[str] | None = None) -> ClipPicker:
    """The widgets that choose a tab's clip (inside the current column), wired so that the clip as the tab will use
    it plays below them. `load(source, world_prompt, world_seed, upload, roots)` -> (frames (F, 3, H, W), fps)."""
    examples = examples or EXAMPLES
    try:
        initial = show_clip(studio, name, load, WORLD, examples[0], 0, None)
    except gr.Error:
        initial = None  # a model of one's own whose size the world cannot render: the page starts without it
    source = gr.Radio([WORLD, UPLOADED], value=WORLD, label="Clip")
    with gr.Row():
        world_prompt = gr.Dropdown(examples, value=examples[0], allow_custom_value=True, scale=4,
                                   label="World clip (a world prompt)", elem_id=f"{name}-world")
        world_seed = Number(label="World seed", value=0, precision=0, minimum=0, scale=1, min_width=90)
    upload = gr.File(label=f"Your clip ({', '.join(UPLOAD_TYPES)}; up to {UPLOAD_MAX_MB} MB, {UPLOAD_MAX_FRAMES} "
                           f"frames, 480p{'; ' + upload_note if upload_note else ''})",
                     file_types=list(UPLOAD_TYPES), type="filepath", visible=False)
    picked = gr.Video(initial, label=picked_label, autoplay=True, loop=True, height=160, interactive=False)
    picker = ClipPicker(source, world_prompt, world_seed, upload, picked)

    def show(source, world_prompt, world_seed, upload):
        return show_clip(studio, name, load, source, world_prompt, world_seed, upload, roots)

    def chosen(source):
        return gr.Dropdown(visible=source == WORLD), gr.Number(visible=source == WORLD), \
            gr.File(visible=source == UPLOADED)

    source.change(chosen, source, [world_prompt, world_seed, upload], api_visibility="private", queue=False)
    for trigger in (source.change, world_prompt.change, world_seed.change, upload.change):
        trigger(show, picker.inputs, picked, api_visibility="private", concurrency_id=f"{name}-show")
    return picker


def scale_down(video: torch.Tensor, max_side: int) -> tuple[torch.Tensor, list[str]]:
    """Frames (F, 3, H, W) whose long side exceeds `max_side` scaled down (area, aspect kept): (frames, notes)."""
    h, w = video.shape[-2:]
    if max(h, w) <= max_side:
        return video, []
    k = max_side / max(h, w)
    size = (max(1, round(h * k)), max(1, round(w * k)))
    return F.interpolate(video, size=size, mode="area").clamp(0, 1), [
        f"scaled down from {w}×{h} to {size[1]}×{size[0]} (this tab works on clips up to {max_side} pixels a side)"]
