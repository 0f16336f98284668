"""Tune: a short fine-tune of one mode on world clips or on the user's clips, with a live loss plot; the result
becomes a choice in Generate and Compare. Below it, what each mode costs to train."""
from __future__ import annotations

import json
import time
from pathlib import Path

import gradio as gr
import pandas as pd
from transformers import AutoTokenizer

from engine.models.base import ASSET
from engine.pipelines.load import unknown_words
from engine.registry import MODE_RECORD
from engine.sidecar import write_sidecar
from engine.training.clips import LR, clip_batches, load_clips, world_batches
from engine.training.cost import measure_in_subprocess
from engine.training.loop import save_loss_plot
from engine.training.modes import KEYFRAMES
from engine.tune import tune_mode
from engine.tuning import MODES
from engine.world import UnknownWordsError

from ..context import Stopped, Studio, session_of
from ..fields import Number, run_buttons
from ..work import history_entry, in_background, number, user_errors

WORLD = "world clips (train split)"
UPLOADED = "my clips, one caption"
COST_MD = Path(__file__).resolve().parents[2] / "bench" / "results" / "cost.md"
COST_HEADERS = ["mode", "tunable params (M)", "share", "s / step", "peak MB"]


def base_clip(studio: Studio) -> dict:
    """The clip size, rate and length a tune trains on: the base's own resolution, 8 keyframes at 2 fps."""
    if not studio.own:
        return dict(KEYFRAMES)
    folder = Path(studio.model["model"])
    unet = json.loads((folder / "unet" / "config.json").read_text()) if (folder / "unet").is_dir() else {}
    vae = json.loads((folder / "vae" / "config.json").read_text()) if (folder / "vae").is_dir() else None
    scale = 2 ** (len(vae["block_out_channels"]) - 1) if vae else 1
    return {**KEYFRAMES, "size": int(unet.get("sample_size", 32)) * scale}


def check_caption(studio: Studio, caption) -> str:
    if not isinstance(caption, str) or not caption.strip():
        raise ValueError("give the clips a caption: what they show, in the world's words "
                         "(e.g. 'a red circle moving left on a black background')")
    source = studio.model.get("model") or ASSET
    tokenizer = AutoTokenizer.from_pretrained(source, subfolder="tokenizer")
    unknown = unknown_words(tokenizer, caption)
    if unknown:
        raise UnknownWordsError(unknown)
    return caption.strip()


def tune(studio: Studio, mode, data, clips, caption, steps, batch_size, lr, seed, history, request=None):
    """Generator: yields the loss so far while training, then (status, losses, tuned folder, files, history)."""
    with user_errors():
        if mode not in MODES or mode == "zero-shot":
            raise ValueError(f"choose a mode to tune: {', '.join(m for m in MODES if m != 'zero-shot')}")
        steps = number(steps, "steps", int, 1, 2000)
        batch_size = number(batch_size, "batch size", int, 1, 16)
        lr = number(lr, "learning rate", float, 1e-6, 1e-1)
        seed = number(seed, "seed", int, 0, 2**31 - 1)
        clip = base_clip(studio)
        if data == UPLOADED:
            paths = [getattr(f, "name", f) for f in (clips or [])]
            if not paths:
                raise ValueError("upload at least one clip (mp4, gif or webm), or choose the world clips")
            caption = check_caption(studio, caption)
            batches = clip_batches(load_clips(paths, clip["size"], clip["frames"]), caption, batch_size, seed)
            what = {"data": "clips", "caption": caption, "clip_files": [Path(p).name for p in paths]}
        elif data == WORLD:
            batches, what = world_batches(batch_size, seed, clip), {"data": "world train split"}
        else:
            raise ValueError(f"choose the data: {WORLD!r} or {UPLOADED!r}")
        stop = studio.stop_flag(session_of(request) + ":tune")
        stop.clear()
        out = studio.outputs.new(f"tuned-{mode}", "")
        losses: list[float] = []
        start = time.perf_counter()

        def work(emit):
            def on_step(step, loss):
                if stop.is_set():
                    raise Stopped(step, steps)
                losses.append(loss)
                emit("step", list(losses))

            return tune_mode(mode, out, batches, steps, lr, seed, base=studio.model.get("model"),
                             work_dir=out.with_name(out.name + "-work"), on_step=on_step,
                             record={"batch_size": batch_size, "clip": clip, **what})

        for item in in_background(work):
            if item[0] == "step":
                seen = item[1]
                yield (f"Training {mode}: step {len(seen)} of {steps}, loss {seen[-1]:.4f}", _frame(seen),
                       gr.skip(), gr.skip(), gr.skip())
    seconds = time.perf_counter() - start
    save_loss_plot(losses, out / "loss.png", f"{mode}, {steps} steps")
    key = studio.register(out, owner=studio.owner(request))
    record = {"kind": "tune", "mode": mode, "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
              "clip": clip, **what, "folder": str(out), "losses": [round(x, 5) for x in losses],
              "seconds": round(seconds, 2)}
    sidecar = write_sidecar(out, record)
    files = [str(out / "tuned.safetensors"), str(out / MODE_RECORD), str(out / "loss.png"), str(sidecar)]
    files = [f for f in files if Path(f).is_file()]
    status = (f"**Done**: {mode} tuned for {steps} steps in {seconds:.0f} s (last loss {losses[-1]:.4f}). "
              f"It is now a choice in Generate and Compare: *{studio.label(key)}*.")
    history = (history or []) + [history_entry("tune", {**record, "prompt": what.get("caption", "")}, files, "")]
    yield status, _frame(losses), key, files, history


def _frame(losses: list[float]):
    return pd.DataFrame({"step": range(1, len(losses) + 1), "loss": losses})


def cost_rows(path: Path = COST_MD) -> list[list]:
    """The embedded config's rows of the bench's cost table (bench/compare_modes.py), [] if it has not run."""
    if not path.is_file():
        return []
    rows, section = [], False
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            section = line.startswith("## Cost")
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if section and len(cells) >= 7 and cells[1] == "embedded":
            rows.append([cells[0], float(cells[2].split()[0]), cells[3], float(cells[4]), float(cells[6])])
    return rows


def measure_rows(modes) -> list[list]:
    """Measure each mode here (a fresh process each: engine.training.cost), the embedded config, 4 clips × 8 frames."""
    rows = []
    for m in modes:
        r = measure_in_subprocess(m, "embedded", frames=8, batch=4, steps=3)
        rows.append([m, round(r["params_trainable"] / 1e6, 3), f"{r['params_trainable'] / r['params_total']:.1%}",
                     round(r["step_s"], 3), round(r["peak_mb"])])
    return rows


def cost_chart(rows: list[list], path: Path) -> str | None:
    """Three bar charts (tunable parameters, seconds a step, peak memory) as a PNG; None without rows."""
    if not rows:
        return None
    # heavy: matplotlib loads only for the cost chart; the Agg backend is chosen before pyplot is imported
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # heavy too, and imported only after matplotlib.use("Agg")

    names = [r[0] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(11, 0.32 * len(rows) + 1.2), sharey=True)
    for ax, col, title in zip(axes, (1, 3, 4), ("tunable parameters (M)", "seconds per training step", "peak memory (MB)")):
        ax.barh(names, [r[col] for r in rows], color="#5b7bd5")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
    axes[0].invert_yaxis()  # shared: the first mode on top
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


# Over 60 lines: the tab's layout, top to bottom as the page shows it, then the events that wire it.
def build(studio: Studio, history: gr.State) -> dict:
    trainable = [m for m in MODES if m != "zero-shot"]
    clip = base_clip(studio)
    with gr.Tab("Tune", id="tune", elem_id="tab-tune"):
        gr.Markdown(f"A short fine-tune of one mode on {clip['frames']} frames at {clip['size']}×{clip['size']}, "
                    f"{clip['fps']:g} fps. On this CPU a step of 4 clips takes about a second; the result is "
                    "saved in this studio's temporary folder and appears in Generate and Compare.")
        with gr.Row():
            with gr.Column(scale=1):
                mode = gr.Dropdown([(f"{m}: {MODES[m].summary}", m) for m in trainable], value="temporal",
                                   label="Mode")
                data = gr.Radio([WORLD, UPLOADED], value=WORLD, label="Data")
                clips = gr.File(label="Clips (mp4, gif, webm)", file_count="multiple",
                                file_types=[".mp4", ".gif", ".webm", ".mov"], visible=False)
                caption = gr.Textbox(label="Caption of the clips", visible=False,
                                     placeholder="a red circle moving left on a black background")
                with gr.Row():
                    steps = Number(label="Steps", value=40, precision=0, minimum=1, maximum=2000, elem_id="tune-steps")
                    batch = Number(label="Batch size", value=2, precision=0, minimum=1, maximum=16, elem_id="tune-batch")
                with gr.Row():
                    lr = Number(label="Learning rate", value=LR, minimum=1e-6, maximum=0.1)
                    seed = Number(label="Seed", value=0, precision=0, minimum=0)
                go, stop = run_buttons("Tune")
            with gr.Column(scale=2):
                status = gr.Markdown("Choose a mode and data, then press Tune.", elem_id="tune-status")
                loss = gr.LinePlot(x="step", y="loss", title="Training loss", height=260, label="Loss",
                                   y_title="loss")
                folder = gr.Textbox(label="Tuned folder (its path selects it in Generate and Compare, and in the API)",
                                    interactive=False)
                files = gr.File(label="Download (tuned weights, mode.json, loss plot, JSON sidecar)",
                                file_count="multiple", interactive=False)
        with gr.Accordion("What each mode costs to train", open=True):
            rows = cost_rows()
            source = ("from `bench/results/cost.md` (`python bench/compare_modes.py`): the embedded UNet, "
                      "4 clips × 8 frames, 2 CPU cores" if rows else
                      "no bench results here yet; press Measure to time each mode on this machine (about a minute)")
            note = gr.Markdown(source)
            chart = gr.Image(label="Cost per mode", interactive=False, buttons=["fullscreen"], visible=bool(rows))
            table = gr.Dataframe(rows or None, headers=COST_HEADERS, label="Cost per mode", interactive=False)
            measure = gr.Button("Measure here", visible=not rows)

        def run(mode, data, clips, caption, steps, batch_size, lr, seed, history, request: gr.Request):
            yield from tune(studio, mode, data, clips, caption, steps, batch_size, lr, seed, history, request)

        def halt(request: gr.Request):
            studio.stop(session_of(request) + ":tune")

        def show_chart():
            path = studio.outputs.root / "cost.png"
            return cost_chart(cost_rows(), path) if not path.is_file() else str(path)

        def remeasure():
            with user_errors():
                found = measure_rows(trainable)
            return gr.Image(cost_chart(found, studio.outputs.root / "cost.png"), visible=True), found, \
                "measured here: the embedded UNet, 4 clips × 8 frames"

        data.change(lambda d: [gr.File(visible=d == UPLOADED), gr.Textbox(visible=d == UPLOADED)], data,
                    [clips, caption], api_visibility="private", queue=False)
        event = go.click(run, [mode, data, clips, caption, steps, batch, lr, seed, history],
                         [status, loss, folder, files, history], api_name="tune", concurrency_limit=1,
                         concurrency_id="tune", show_progress_on=status)
        stop.click(halt, None, None, api_visibility="private", queue=False)
        measure.click(remeasure, None, [chart, table, note], api_visibility="private", concurrency_id="tune")
    return {"event": event, "folder": folder, "chart": chart, "show_chart": show_chart,
            "inputs": [mode, data, clips, caption, steps, batch, lr, seed]}
