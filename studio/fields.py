"""Form fields whose out-of-range values are answered with the field's name and range (gradio's own message,
'Value 0 is less than minimum value 1.', does not say which field).

The check wraps each instance's `preprocess` rather than subclassing: gradio writes a .pyi stub beside any
module that defines a component class, which a source tree (or a read-only install) should not get."""
from __future__ import annotations

import gradio as gr

ERROR_SECONDS = 12  # every error message in the page leaves by itself after this, so messages do not pile up


def _checked(component, payload):
    lo, hi = component.minimum, component.maximum
    name = component.label.split(' (')[0].lower()
    number = isinstance(payload, (int, float)) and not isinstance(payload, bool)
    if payload is not None and (not number or payload != payload):  # not a number, or NaN
        raise gr.Error(f"{name} must be a number, got {str(payload)[:40]!r}", duration=ERROR_SECONDS,
                       print_exception=False)
    if payload is not None and ((lo is not None and payload < lo) or (hi is not None and payload > hi)):
        span = f"between {lo:g} and {hi:g}" if lo is not None and hi is not None else \
            f"at least {lo:g}" if lo is not None else f"at most {hi:g}"
        raise gr.Error(f"{name} must be {span}, got {payload:g}", duration=ERROR_SECONDS,
                       print_exception=False)
    return payload


def _named_range(component):
    original = component.preprocess
    component.preprocess = lambda payload: original(_checked(component, payload))
    return component


def Slider(*args, **kwargs) -> gr.Slider:  # noqa: N802 - used like the component it makes
    return _named_range(gr.Slider(*args, **kwargs))


def Number(*args, **kwargs) -> gr.Number:  # noqa: N802
    return _named_range(gr.Number(*args, **kwargs))


def open_choices(component):
    """A Radio, Dropdown or CheckboxGroup (type "value") that leaves the choice to the tab's own check. Its choices
    are what was available when the page was built; the tab checks against what is available at call time (a
    model trained since) and answers a missing one with the command that makes it, where gradio would say only
    'not in the list of choices'."""
    component.preprocess = lambda payload: payload
    return component


def run_buttons(label: str) -> tuple[gr.Button, gr.Button]:
    """A tab's run button and Stop beside it."""
    with gr.Row():
        return gr.Button(label, variant="primary", scale=3), gr.Button("Stop", variant="stop", scale=1)


def result_column(key: str, video: str, files: str, headers: list[str], table: str, summary_id: str | None = None,
                  preview: str = "Step preview", height: int = 260) -> tuple:
    """A tab's results, top to bottom: the step preview, the clips side by side (elem_id KEY-video), a summary, a table
    of scores (KEY-table), the downloads and the sidecar: (preview, video, summary, table, files, record)."""
    shown = gr.Image(label=preview, height=96, interactive=False, buttons=[])
    clip = gr.Video(label=video, autoplay=True, loop=True, height=height, interactive=False, elem_id=f"{key}-video")
    summary = gr.Markdown(elem_id=summary_id or f"{key}-summary")
    scores = gr.Dataframe(headers=headers, label=table, interactive=False, elem_id=f"{key}-table")
    downloads = gr.File(label=f"Download ({files})", file_count="multiple", interactive=False)
    record = gr.JSON(label="Parameters (the sidecar)", max_height=240)
    return shown, clip, summary, scores, downloads, record
