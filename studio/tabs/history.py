"""History: this session's outputs, each downloadable with its JSON sidecar; a sidecar (from the list or
uploaded) restores its parameters in Generate (a cascade's with its depth) or Compare."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from ..cascade import STAGE_STEPS
from ..context import Studio
from ..work import LIMITS

HEADERS = ["#", "time", "kind", "prompt", "model(s)", "seed"]
RESTORABLE = ("generate", "cascade", "compare")


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
        raise ValueError(f"{path.name} is {'a ' + repr(kind) if kind else 'not a Flipbook'} sidecar; "
                         "Generate and Compare sidecars can be restored (a cascade's too)")
    if record["kind"] == "cascade" and not isinstance(record.get("settings"), dict):
        raise ValueError(f"{path.name} is a cascade sidecar without its settings; it cannot be restored")
    return record


def _mode_key(studio: Studio, record: dict) -> str:
    for key in (record.get("tuned"), record.get("mode")):
        if key:
            try:
                return studio.resolve(key).key
            except ValueError:
                continue
    gr.Warning(f"the sidecar's model ({record.get('tuned') or record.get('mode')}) is not available here; "
               "the other parameters are restored")
    return gr.skip()


def restore(studio: Studio, record: dict) -> tuple:
    """(the tab to show, the Generate tab's 9 inputs, the Compare tab's 8 inputs, the cascade depth and the later
    stages' steps): the record's values, gr.skip() elsewhere. A cascade's sidecar (run_cascade's: its arguments under
    "settings") restores into Generate with its depth."""
    if record["kind"] == "cascade":
        settings = record["settings"]
        record = {**settings, "kind": "cascade", "prompt": record["prompt"], "tuned": settings.get("tuned")}
    if record.get("model") != studio.model.get("model"):
        gr.Warning(f"the sidecar was made with model {record.get('model') or 'embedded'}; this studio runs "
                   f"{studio.model.get('model') or 'the embedded one'}")
    common = [record["prompt"], record.get("negative_prompt") or "", record["seed"], record["frames"], record["steps"],
              record["guidance"], record["scheduler"]]
    skip = [gr.skip()]
    if record["kind"] == "generate":  # keyframes alone: the cascade's inputs back to their defaults
        return ("generate", *common, _mode_key(studio, record), bool(record.get("pyramid")), *skip * 8,
                "keyframes", STAGE_STEPS)
    if record["kind"] == "cascade":
        return ("generate", *common, _mode_key(studio, record), False, *skip * 8, record["depth"],
                min(int(record["stage_steps"]), LIMITS["steps"][1]))  # the command line allows more
    models = []
    for key in record.get("variants", []):
        try:
            models.append(studio.resolve(key).key + ("+pyramid" if key.endswith("+pyramid") else ""))
        except ValueError:
            gr.Warning(f"{key} is not available here; left out of the comparison")
    return ("compare", *skip * 9, *common, models, *skip * 2)


def build(studio: Studio, history: gr.State, tabs: gr.Tabs, generate_inputs: list, compare_inputs: list,
          cascade_inputs: list):
    """`/restore`'s outputs: the Generate inputs, the Compare inputs, then the cascade's two (last, so that the
    indices of the first seventeen stay as they were)."""
    with gr.Tab("History", id="history", elem_id="tab-history"):
        gr.Markdown("This session's outputs. Download any of them with its JSON sidecar; restore a sidecar's "
                    "parameters from the list, or upload one saved earlier.")
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
        everything = gr.File(label="Every file of this session", file_count="multiple", interactive=False)
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

        def from_entry(index, history):
            if index is None or not history:
                raise gr.Error("choose an output first")
            record = history[int(index)]["record"]
            if record.get("kind") not in RESTORABLE:
                raise gr.Error("Generate and Compare outputs can be restored (a cascade's too)")
            return restore(studio, record)

        def from_file(path):
            try:
                record = read_record(path)
            except ValueError as e:
                raise gr.Error(str(e), duration=None, print_exception=False) from None
            return restore(studio, record)

        outputs = [kind, *generate_inputs, *compare_inputs, *cascade_inputs]
        history.change(refresh, history, [listing, entry, everything], api_visibility="private", queue=False)
        entry.change(show, [entry, history], [shown, files], api_visibility="private", queue=False)
        select_tab = lambda k: gr.Tabs(selected=k) if k else gr.skip()  # noqa: E731
        restore_entry.click(from_entry, [entry, history], outputs, api_visibility="private").success(
            select_tab, kind, tabs, api_visibility="private", queue=False)
        upload.upload(from_file, upload, outputs, api_name="restore").success(
            select_tab, kind, tabs, api_visibility="private", queue=False)
