"""The Flipbook studio: a gradio Blocks app, bound to 127.0.0.1 unless told otherwise.

Tabs: Generate, Compare, Interpolate, Upscale, Edit, Tune, World (ground truth) and History; each action has a
stable API name (`/generate`, `/compare`, `/compare_interpolation`, `/interpolate`, `/upscale`, `/edit`, `/tune`,
`/render`, `/restore`, `/stop`) for `gradio_client`. Every output lives in this app's own temporary folder under
names the app makes, never a user's string.

`model` (a dict) takes the --model, --modes, --dtype, --device and memory options, and optionally `interp_dir`,
`sr_dir`, `expert_dir` and `decoder_dir`: where the interpolation, super-resolution, expert and temporal decoder
models are looked up (default assets/interp, assets/sr, assets/expert, assets/decoder).
"""
from __future__ import annotations

import os
import threading

from engine.models.base import resolve_device, resolve_dtype

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr
import torch

from .context import Outputs, Studio
from .tabs import compare as compare_tab
from .tabs import edit as edit_tab
from .tabs import generate as generate_tab
from .tabs import history as history_tab
from .tabs import interpolate as interpolate_tab
from .tabs import tune as tune_tab
from .tabs import upscale as upscale_tab
from .tabs import world as world_tab
from .work import warm

CSS = """
.gradio-container {max-width: 1280px !important}
"""


def generate_clip(prompt, negative, seed, frames, steps, guidance, scheduler, mode, outputs: Outputs, cache: dict,
                  progress=None, model: dict | None = None):
    """One Generate action outside the page: (display video, [mp4, sidecar], sidecar record)."""
    studio = Studio(outputs, model)
    studio.cache = cache if cache is not None else studio.cache
    result = None
    for result in generate_tab.generate(studio, prompt, negative, seed, frames, steps, guidance, scheduler, mode,
                                        False, [], None, progress):
        pass
    return result[:3]


QUEUE_SIZE = 32  # requests waiting at once; more are refused with gradio's "Queue is full" message
MAX_SESSIONS = 64  # sessions whose state (History) is kept; gradio copies the page's config into each (~1 MB)
MAX_UPLOAD_MB = 32  # an uploaded file (clips, sidecars); uploads land in the app's own temp folder


def build_app(outputs: Outputs | None = None, model: dict | None = None, queue_size: int = QUEUE_SIZE,
              max_sessions: int = MAX_SESSIONS, shared_models: bool = False) -> gr.Blocks:
    studio = Studio(outputs, model, max_sessions, shared_models)
    with gr.Blocks(title="Flipbook", analytics_enabled=False) as app:
        gr.Markdown("# Flipbook\nImage diffusion models made into video models, on a synthetic world.")
        history = gr.State([])
        owner = gr.BrowserState("", storage_key="flipbook-owner")  # the token the studio gave this browser
        with gr.Tabs() as tabs:
            gen = generate_tab.build(studio, history)
            cmp = compare_tab.build(studio, history)
            cascade = [interpolate_tab.build(studio, history), upscale_tab.build(studio, history)]
            edit = edit_tab.build(studio, history)
            tune = tune_tab.build(studio, history)
            world = world_tab.build(studio.outputs, history)
            listing = history_tab.build(studio, history, tabs, {"generate": gen["inputs"], "compare": cmp["inputs"],
                                                      "cascade": gen["cascade"], "interpolate": cascade[0]["inputs"],
                                                      "motion": gen["motion"] + [cmp["plans"]],
                                                      "upscale": cascade[1]["inputs"], "edit": edit["inputs"],
                                                      "compare_interp": cmp["interp_inputs"], "tune": tune["inputs"],
                                                      "world": world["inputs"], "edit_motion": edit["motion"],
                                                      "long": gen["long"], "translate": gen["translate"]})

        def claim(token, request: gr.Request):
            """This browser's owner token (a new one for a new browser) and the History it kept, then its models:
            the tuned folders it made (any browser's with shared models) become choices in Generate and Compare."""
            token = studio.claim(token, request)
            return (token, studio.history(token), *choices_for(token))

        def choices_for(owner, chosen: dict | None = None, versus: dict | None = None):
            return (gr.Dropdown(choices=studio.choices(owner=owner), **(chosen or {})),
                    gr.Dropdown(choices=studio.choices(pyramid=True, owner=owner), **(versus or {})),
                    gr.Dropdown(choices=studio.choices(owner=owner), **(chosen or {})))

        def selected_after_tune(key, request: gr.Request):
            chosen = {"value": key} if key else {}
            versus = {"value": ["zero-shot", key]} if key else {}  # the new model against the inflated image model
            return choices_for(studio.owner(request), chosen, versus)

        def keep(history, request: gr.Request):
            studio.keep_history(studio.owner(request), history)

        modes = [gen["mode"], cmp["models"], cmp["keyframes_mode"]]
        tune["event"].success(selected_after_tune, tune["folder"], modes, api_visibility="private", queue=False)
        app.load(claim, owner, [owner, history, *modes], api_visibility="private", queue=False).then(
            *listing["show"], api_visibility="private", queue=False)
        history.change(keep, history, None, api_visibility="private", queue=False)
        app.load(tune["show_chart"], None, tune["chart"], api_visibility="private", queue=False)
        for tab in [gen, cmp, *cascade]:  # models trained since the studio started become choices
            app.load(tab["refresh"][0], None, tab["refresh"][1], api_visibility="private", queue=False)
    app.queue(default_concurrency_limit=2, max_size=queue_size)
    app.studio = studio
    return app


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, auth: str | None = None,
           model: dict | None = None, queue_size: int = QUEUE_SIZE, max_sessions: int = MAX_SESSIONS,
           max_upload_mb: float = MAX_UPLOAD_MB, shared_models: bool = False):
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 8)))
    credentials = None
    if auth:
        if ":" not in auth:
            raise ValueError("--auth takes USER:PASSWORD")
        credentials = tuple(auth.split(":", 1))
    if model:  # a wrong device or dtype fails here, before the server starts
        resolve_device(model.get("device"))
        resolve_dtype(model.get("dtype"))
    outputs = Outputs()  # private (0700): outputs, and gradio's uploads and cached copies, live under it
    os.environ.setdefault("GRADIO_TEMP_DIR", str(outputs.root / "gradio"))  # unless the user chose a folder
    app = build_app(outputs, model=model, queue_size=queue_size, max_sessions=max_sessions, shared_models=shared_models)
    threading.Thread(target=warm, args=(app.studio,), daemon=True).start()
    print(f"Flipbook studio on http://{host}:{port} (Ctrl+C stops it; outputs in {outputs.root})", flush=True)
    app.launch(server_name=host, server_port=port, share=share, auth=credentials, show_error=True, css=CSS,
               quiet=not share, max_file_size=int(max_upload_mb * 2**20), state_session_capacity=max_sessions)
