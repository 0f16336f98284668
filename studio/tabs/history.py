"""History: this browser's outputs (kept across reloads), each downloadable with its JSON sidecar; a sidecar (from
the list or uploaded) restores its parameters in Generate (a cascade's with its depth), Compare (models or interpolation
methods), Interpolate, Upscale, Edit, Tune or World. A world clip comes back by its prompt and seed; uploaded
clips must be uploaded again (the sidecar names them)."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from ..cascade import STAGE_STEPS, TOPS
from ..clip_input import WORLD
from ..context import Studio
from ..fields import ERROR_SECONDS
from ..stages import interp_methods, upscale_modes
from ..work import LIMITS, motion_inputs
from . import tune
from .compare import METHODS, MODELS

HEADERS = ["#", "time", "kind", "prompt", "model(s)", "seed"]
RESTORABLE = ("generate", "cascade", "compare", "compare-interpolation", "interpolate", "upscale", "edit", "tune",
              "render")
NOT_RESTORABLE = ("Generate, Compare, Interpolate, Upscale, Edit, Tune and World sidecars can be restored (a "
                  "cascade's and an interpolation comparison's too)")
# `/restore`'s outputs after the tab to show, in this order: each tab's inputs (new tabs go last, so that the
# indices of the earlier ones stay as they were for scripts)
SECTIONS = (("generate", 9), ("compare", 8), ("cascade", 2), ("interpolate", 7), ("upscale", 7), ("edit", 12),
            ("compare_interp", 4),  # Compare's choice of models or interpolation methods, and the latter's inputs
            ("tune", 8), ("world", 5),
            ("motion", 6),  # Generate's motion, speed, path, plan method, cross-frame; Compare's motion plan
            ("edit_motion", 3),  # Edit's motion, speed, path
            ("long", 4),  # Generate's first frame, long-clip method, window overlap, frame rate
            ("translate", 2))  # Generate's translation side and detail σ


def table(history: list[dict] | None) -> list[list]:
    return [[i + 1, h["time"], h["kind"], h["prompt"], h["what"], h["seed"]] for i, h in enumerate(history or [])]


def read_record(path) -> dict:
    """A sidecar file's record, or a ValueError that says what is wrong with it."""
    path = Path(getattr(path, "name", path) or "")
    if not path.is_file():
        raise ValueError("upload a sidecar: the .json file that came with an output")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path.name} is not a JSON sidecar ({e})") from None
    if not isinstance(record, dict) or record.get("kind") not in RESTORABLE:
        kind = record.get("kind") if isinstance(record, dict) else None
        raise ValueError(f"{path.name} is {'a ' + repr(kind) if kind else 'not a Flipbook'} sidecar; {NOT_RESTORABLE}")
    if record["kind"] == "cascade" and not isinstance(record.get("settings"), dict):
        raise ValueError(f"{path.name} is a cascade sidecar without its settings; it cannot be restored")
    return record


def _mode_key(studio: Studio, record: dict, owner: str | None) -> str:
    for key in (record.get("tuned"), record.get("mode")):
        if key:
            try:
                return studio.resolve(key, owner=owner).key
            except ValueError:
                continue
    gr.Warning(f"the sidecar's model ({record.get('tuned') or record.get('mode')}) is not available here; "
               "the other parameters are restored")
    return gr.skip()


def _outputs(tab: str, sections: dict[str, list]) -> tuple:
    """(the tab to show, every section's values in SECTIONS order, gr.skip() for the sections not given)."""
    values = []
    for name, n in SECTIONS:
        part = sections.get(name, [gr.skip()] * n)
        assert len(part) == n, f"{name}: {len(part)} values for {n} inputs"
        values += part
    return (tab, *values)


def _clip(record: dict) -> list:
    """A clip picker's four inputs (source, world prompt, world seed, upload) from a sidecar."""
    world = record.get("world")
    if isinstance(world, dict) and world.get("prompt"):
        return [WORLD, world["prompt"], int(world.get("seed", 0)), gr.skip()]
    gr.Warning(f"the sidecar's clip was an upload ({record.get('input', 'a file')}): upload it again; the other "
               "parameters are restored")
    return [gr.skip()] * 4


def _trained_methods(studio: Studio, record: dict) -> list[str]:
    """The record's interpolation methods whose models are here (the others left out, with a warning)."""

    here = interp_methods(studio)
    methods = [m for m in record.get("methods", []) if m in here]
    if len(methods) < len(record.get("methods", [])):
        gr.Warning("interpolation models not trained here are left out")
    return methods


def _clip_tab(studio: Studio, record: dict) -> dict[str, list]:
    """Interpolate, Upscale or Edit inputs from their sidecar (models not here are left out, with a warning)."""

    kind, clip = record["kind"], _clip(record)
    if kind == "interpolate":
        return {kind: [*clip, _trained_methods(studio, record), record["steps"], record["seed"]]}
    if kind == "upscale":
        mode = record.get("mode")
        if mode not in upscale_modes(studio):
            gr.Warning(f"the super-resolution mode {mode!r} has no weights here; the other parameters are restored")
            mode = gr.skip()
        return {kind: [*clip, mode, record["steps"], record["seed"]]}
    tune_steps = record.get("tune_steps") or gr.skip()  # zero-shot edits tuned nothing
    return {kind: [*clip, record["source_prompt"], record["prompt"], record["mode"], tune_steps, record["strength"],
                   record["guidance"], record["steps"], record["seed"]],
            "edit_motion": motion_inputs(record)[:3]}  # edits before motion plans: none (the inversion alone)


def _tune(record: dict) -> list:
    """The Tune tab's inputs (mode, data, clips, caption, steps, batch size, learning rate, seed) from its sidecar."""

    uploaded = record.get("data") == "clips"
    if uploaded:
        gr.Warning(f"the tune was on uploaded clips ({', '.join(record.get('clip_files', []))}): upload them again")
    return [record["mode"], tune.UPLOADED if uploaded else tune.WORLD, gr.skip(), record.get("caption") or gr.skip(),
            record["steps"], record["batch_size"], record["lr"], record["seed"]]


def _long(record: dict) -> list:
    """Generate's Long clips inputs from its sidecar; the first frame, an upload this studio no longer offers, is
    cleared with a warning (it is not fetched back from a server path)."""
    if record.get("image"):
        gr.Warning("the clip started from an uploaded first frame: upload it again to make the same clip")
    fps = min(max(float(record.get("fps") or 2.0), LIMITS["fps"][0]), LIMITS["fps"][1])
    return [None, record.get("long_method") or "windows", int(record.get("context_overlap") or 4), fps]


def _translate(settings: dict) -> list:
    """A cascade's translation side and detail σ as the Generate tab's fields (0: none)."""
    top = settings.get("top") or 0
    if top not in TOPS:  # the command line takes any side
        gr.Warning(f"the sidecar translated up to {top} pixels; the page offers {', '.join(map(str, TOPS[1:]))}: "
                   "choose one (the other parameters are restored)")
        top = 0
    return [top, settings.get("detail_sigma") or 0]


def restore(studio: Studio, record: dict, owner: str | None = None) -> tuple:
    """(the tab to show, then every tab's inputs in SECTIONS order): the record's values in its tab's section,
    gr.skip() elsewhere; models as `owner` sees them. A cascade's sidecar (run_cascade's: its arguments under "settings") restores into Generate
    with its depth."""
    if record["kind"] in ("interpolate", "upscale", "edit"):
        return _outputs(record["kind"], _clip_tab(studio, record))
    if record["kind"] == "tune":
        return _outputs("tune", {"tune": _tune(record)})
    if record["kind"] == "render":  # the World tab's ground-truth clip
        return _outputs("world", {"world": [record[k] for k in ("prompt", "seed", "size", "fps", "frames")]})
    if record["kind"] == "cascade":
        settings = record["settings"]
        record = {**settings, "kind": "cascade", "prompt": record["prompt"], "tuned": settings.get("tuned")}
    if record.get("model") != studio.model.get("model"):
        gr.Warning(f"the sidecar was made with model {record.get('model') or 'embedded'}; this studio runs "
                   f"{studio.model.get('model') or 'the embedded one'}")
    common = [record["prompt"], record.get("negative_prompt") or "", record["seed"], record["frames"], record["steps"],
              record["guidance"], record["scheduler"]]
    motion = [*motion_inputs(record), gr.skip()]
    if record["kind"] == "generate":  # keyframes alone: the cascade's inputs back to their defaults
        return _outputs("generate", {"generate": [*common, _mode_key(studio, record, owner), bool(record.get("pyramid"))],
                                     "cascade": ["keyframes", STAGE_STEPS], "motion": motion, "long": _long(record),
                                     "translate": [0, 0]})
    if record["kind"] == "cascade":
        depth = [record["depth"], min(int(record["stage_steps"]), LIMITS["steps"][1])]  # the command line allows more
        return _outputs("generate", {"generate": [*common, _mode_key(studio, record, owner), False], "cascade": depth,
                                     "motion": motion, "translate": _translate(record)})
    if record["kind"] == "compare-interpolation":  # one mode's keyframes through the interpolation methods
        keyframes_by = _mode_key(studio, {"tuned": record.get("variant"), "mode": record.get("mode")}, owner)
        interp = [METHODS, keyframes_by, _trained_methods(studio, record),
                  min(int(record["interp_steps"]), LIMITS["steps"][1])]
        return _outputs("compare", {"compare": [*common, gr.skip()], "compare_interp": interp})

    models = []
    for key in record.get("variants", []):
        try:
            models.append(studio.resolve(key, owner=owner).key + ("+pyramid" if key.endswith("+pyramid") else ""))
        except ValueError:
            gr.Warning(f"{key} is not available here; left out of the comparison")
    plans = [*[gr.skip()] * 5, record.get("plans", "off")]  # comparisons before motion plans ran without
    return _outputs("compare", {"compare": [*common, models], "compare_interp": [MODELS, *[gr.skip()] * 3],
                                "motion": plans})


def build(studio: Studio, history: gr.State, tabs: gr.Tabs, inputs: dict[str, list]) -> dict:
    """`/restore`'s outputs: the tab to show, then `inputs` (each tab's input components) in SECTIONS order.
    Returns {"show": (fn, inputs, outputs)}: what draws the list from History."""
    for name, n in SECTIONS:
        assert len(inputs[name]) == n, f"History restores {n} {name} inputs; the tab has {len(inputs[name])}"
    with gr.Tab("History", id="history", elem_id="tab-history"):
        gr.Markdown("This browser's outputs from every tab, kept across reloads of the page while the studio runs. "
                    "Download any of them with its JSON sidecar; restore a sidecar's parameters from the list, or "
                    "upload one saved earlier.")
        listing = gr.Dataframe(headers=HEADERS, label="Outputs", interactive=False, wrap=True,
                               column_widths=["5%", "10%", "10%", "37%", "30%", "8%"])
        with gr.Row():
            with gr.Column(scale=1):
                entry = gr.Dropdown([], label="Output", info="choose one to see it and restore its parameters")
                restore_entry = gr.Button("Restore its parameters")
                upload = gr.File(label="Or load a sidecar (.json)", file_types=[".json"], type="filepath")
            with gr.Column(scale=1):
                shown = gr.Video(label="Chosen output", autoplay=True, loop=True, height=240, interactive=False)
                files = gr.File(label="Its files", file_count="multiple", interactive=False)
        everything = gr.File(label="Every file of this browser's outputs", file_count="multiple", interactive=False)
        kind = gr.State()

        def refresh(history):
            history = history or []
            options = [(f"#{i + 1} {h['kind']}: {h['prompt'] or h['what']}", i) for i, h in enumerate(history)]
            every = [f for h in history for f in h["files"]]
            return table(history) or None, gr.Dropdown(options, value=None), every or None

        def show(index, history):
            if index is None or not history or not 0 <= int(index) < len(history):
                return None, None
            h = history[int(index)]
            return h["shown"] or None, h["files"]

        def from_entry(index, history, request: gr.Request):
            if index is None or not history:
                raise gr.Error("choose an output first")
            record = history[int(index)]["record"]
            if record.get("kind") not in RESTORABLE:
                raise gr.Error(NOT_RESTORABLE.replace("sidecars", "outputs"))
            return restore(studio, record, studio.owner(request))

        def from_file(path, request: gr.Request):
            try:
                record = read_record(path)
            except ValueError as e:
                raise gr.Error(str(e), duration=ERROR_SECONDS, print_exception=False) from None
            return restore(studio, record, studio.owner(request))

        outputs = [kind, *(c for name, _ in SECTIONS for c in inputs[name])]
        history.change(refresh, history, [listing, entry, everything], api_visibility="private", queue=False)
        entry.change(show, [entry, history], [shown, files], api_visibility="private", queue=False)
        select_tab = lambda k: gr.Tabs(selected=k) if k else gr.skip()  # noqa: E731
        restore_entry.click(from_entry, [entry, history], outputs, api_visibility="private").success(
            select_tab, kind, tabs, api_visibility="private", queue=False)
        upload.upload(from_file, upload, outputs, api_name="restore").success(
            select_tab, kind, tabs, api_visibility="private", queue=False)
    return {"show": (refresh, [history], [listing, entry, everything])}  # the list, after History is set anew
