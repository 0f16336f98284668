"""Bad input against the command line and the studio: every case gets a short message that names the fix (no
traceback), leaves no output file behind, and the next valid request still works.

The CLI runs in-process (`studio.cli.main`); the studio through `gradio_client` against an app in this process.
A pickle offered as weights is never unpickled: it would create MARKER if it were.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import shutil
from pathlib import Path

import imageio.v2 as iio
import numpy as np
import pytest
import torch

from engine.io import write_video
from engine.world import prompt_to_spec, render
from studio.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "a red circle moving left on a black background"
EMBEDDED_MODE = ROOT / "assets" / "modes" / "ff-conv1d-attn1d-blocks"
LONG = "a red circle " * 800  # 10 400 characters
WORLD, UPLOADED = "world clips (train split)", "my clips, one caption"


class Trap:
    """Unpickling this creates the file it names: proof that a pickle was (or was not) loaded."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _clip(path: Path, frames: int = 4, size: int | tuple = 32, fps: float = 2.0) -> Path:
    h, w = (size, size) if isinstance(size, int) else size
    video = render(prompt_to_spec(PROMPT, 0), h, fps, frames)
    if w != h:
        video = torch.nn.functional.interpolate(video, size=(h, w), mode="bilinear")
    return write_video(path, video, fps)


@pytest.fixture(scope="module")
def files(tmp_path_factory, base_dir):
    """Good and bad inputs: clips, non-videos, damaged checkpoints and pickles."""
    d = tmp_path_factory.mktemp("inputs")
    f = {"dir": d, "marker": d / "UNPICKLED"}
    f["good"] = _clip(d / "good.mp4")
    f["good_png"] = d / "still.png"
    iio.imwrite(f["good_png"], np.full((16, 16, 3), 128, np.uint8))
    f["fake_png"] = d / "fake.png"
    f["fake_png"].write_text("this is not a picture\n" * 20)
    (d / "good.json").write_text(json.dumps({"prompt": PROMPT}))
    f["corrupt"] = d / "corrupt.mp4"
    f["corrupt"].write_bytes(os.urandom(20_000))
    whole = _clip(d / "long.mp4", frames=24, size=64).read_bytes()
    f["truncated"] = d / "truncated.mp4"
    f["truncated"].write_bytes(whole[:len(whole) // 2])
    f["text"] = d / "notes.mp4"
    f["text"].write_text("this is not a video\n" * 50)
    f["txt"] = d / "notes.txt"
    f["txt"].write_text("hello")
    f["png"] = d / "picture.mp4"
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 10, 10)).save(f["png"], format="PNG")
    f["huge"] = d / "huge.mp4"
    with open(f["huge"], "wb") as fh:  # sparse: 300 MB on paper (the limit is 256), nothing on disk
        fh.truncate(300 * 2**20)
    f["big_frames"] = _clip(d / "big.mp4", frames=2, size=(1200, 1000))
    f["one_frame"] = _clip(d / "one.mp4", frames=1)
    f["odd"] = _clip(d / "odd.mp4", frames=5, size=(17, 33))
    f["empty"] = d / "empty.mp4"
    f["empty"].write_bytes(b"")
    f["one_clip_dir"] = d / "one-frame-clips"
    f["one_clip_dir"].mkdir()
    shutil.copy(f["one_frame"], f["one_clip_dir"] / "a.mp4")
    f["corrupt_dir"] = d / "corrupt-clips"
    f["corrupt_dir"].mkdir()
    shutil.copy(f["corrupt"], f["corrupt_dir"] / "a.mp4")
    trap = pickle.dumps({"weights": Trap(f["marker"])})

    # tuned folders: a temporal mode tuned on the tiny base (1 step), and damaged copies of the embedded mode
    from engine.training.clips import world_batches
    from engine.tune import tune_mode

    f["tiny_tuned"] = d / "tiny-temporal"
    tune_mode("temporal", f["tiny_tuned"], world_batches(1, clip={"size": 16, "fps": 2.0, "frames": 2}), 1,
              base=base_dir, work_dir=d / "tiny-work")
    from safetensors.torch import load_file, save_file

    f["wrong_shapes"] = d / "wrong-shapes"
    shutil.copytree(EMBEDDED_MODE, f["wrong_shapes"])
    tensors = load_file(str(EMBEDDED_MODE / "tuned.safetensors"))
    name = next(k for k, v in tensors.items() if v.ndim == 2)
    tensors[name] = torch.zeros(tensors[name].shape[0] + 3, tensors[name].shape[1], dtype=tensors[name].dtype)
    save_file(tensors, str(f["wrong_shapes"] / "tuned.safetensors"))
    f["pickle_tuned"] = d / "pickle-tuned"
    f["pickle_tuned"].mkdir()
    shutil.copy(EMBEDDED_MODE / "mode.json", f["pickle_tuned"])
    (f["pickle_tuned"] / "tuned.safetensors").write_bytes(trap)
    f["pt_tuned"] = d / "pt-tuned"
    f["pt_tuned"].mkdir()
    shutil.copy(EMBEDDED_MODE / "mode.json", f["pt_tuned"])
    torch.save({"weights": Trap(f["marker"])}, f["pt_tuned"] / "tuned.pt")
    f["bad_json_tuned"] = d / "bad-json"
    f["bad_json_tuned"].mkdir()
    (f["bad_json_tuned"] / "mode.json").write_text("{mode: temporal")

    # base folders: the tiny base with its UNet weights as a pickle (.bin), or a pickle named .safetensors
    f["bin_base"] = d / "bin-base"
    shutil.copytree(base_dir, f["bin_base"])
    (f["bin_base"] / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    torch.save({"weights": Trap(f["marker"])}, f["bin_base"] / "unet" / "diffusion_pytorch_model.bin")
    f["fake_base"] = d / "fake-base"
    shutil.copytree(base_dir, f["fake_base"])
    (f["fake_base"] / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(trap)

    # sidecars for `generate --from`
    f["corrupt_sidecar"] = d / "corrupt-sidecar.json"
    f["corrupt_sidecar"].write_text('{"kind": "generate", "prompt": ')
    f["render_sidecar"] = d / "good.json"
    f["tampered"] = d / "tampered.json"
    f["tampered"].write_text(json.dumps({"kind": "generate", "prompt": PROMPT, "seed": 0, "frames": "many",
                                         "steps": 2, "guidance": 4.0, "mode": "zero-shot", "scheduler": "ddim",
                                         "fps": 2.0}))
    f["bad_json"] = d / "bad.json"
    f["bad_json"].write_text("{this is not json")
    f["prompts_bad"] = d / "prompts.json"
    f["prompts_bad"].write_text("{not json")
    return f


def _generate(*extra, out="{out}"):
    return ["generate", "--prompt", PROMPT, "--frames", "2", "--steps", "1", "--mode", "zero-shot",
            "--scheduler", "ddim", *extra, "--out", out]


def _edit(*extra, input="{good}", out="{out}"):
    return ["edit", "--input", input, "--source-prompt", PROMPT, "--prompt", PROMPT.replace("red", "blue"),
            "--tune-steps", "0", "--steps", "2", "--frames", "2", *extra, "--out", out]


def _tune(*extra, data="{clips}", out="{out_dir}"):
    return ["tune", "--data", data, "--model", "{tiny}", "--mode", "temporal", "--steps", "1", "--batch-size", "1",
            "--frames", "2", *extra, "--out", out]


def _render(*extra, prompt=PROMPT, out="{out}"):
    return ["render", "--prompt", prompt, "--size", "16", "--frames", "2", *extra, "--out", out]


# (id, argv, a fragment of the one-line message that names the fix)
CLI_CASES = [
    # prompts
    ("render-empty-prompt", _render(prompt=""), "the prompt is empty; describe a clip"),
    ("render-10k-prompt", _render(prompt=LONG), "keep it under 500"),
    ("render-control-chars", _render(prompt="\x00\x01\x02"), "type it as plain text"),
    ("render-emoji", _render(prompt="a red 🎈 moving left"), "unknown words"),
    ("render-unknown-word", _render(prompt="a red hexagon"), "unknown words: 'hexagon'"),
    ("generate-no-prompt", ["generate", "--out", "{out}"], "give --prompt"),
    ("generate-blank-prompt", _generate("--prompt", "   "), "the prompt is empty"),
    ("generate-10k-prompt", _generate("--prompt", LONG), "keep it under 500"),
    ("generate-binary-prompt", _generate("--prompt", "\udcff\x00garbage\x7f"), "type it as plain text"),
    ("generate-typo", _generate("--prompt", "a red circel"), "did you mean 'circle'"),
    ("generate-negative-10k", _generate("--negative-prompt", LONG),
     "the negative prompt has 10399 characters; keep it under 500"),
    ("edit-empty-source", ["edit", "--input", "{good}", "--source-prompt", "", "--prompt", PROMPT, "--out", "{out}"],
     "give both --source-prompt"),
    ("edit-unknown-prompt", _edit("--prompt", "a red hexagon"), "unknown words: 'hexagon'"),
    ("tune-empty-caption", _tune("--caption", " "), "--caption is empty"),
    ("tune-10k-caption", _tune("--caption", LONG), "keep it under 500"),
    ("tune-unknown-caption", _tune("--caption", "a red hexagon"), "unknown words: 'hexagon'"),
    # numbers out of range, NaN and inf
    ("render-size-0", _render("--size", "0"), "must be ≥ 1"),
    ("render-size-huge", _render("--size", "100000"), "size must be between"),
    ("render-frames-0", _render("--frames", "0"), "must be ≥ 1"),
    ("render-frames-huge", _render("--frames", "1000000"), "frames must be between"),
    ("render-fps-nan", _render("--fps", "nan"), "finite number > 0"),
    ("render-fps-inf", _render("--fps", "inf"), "finite number > 0"),
    ("render-fps-huge", _render("--fps", "5000"), "fps must be"),
    ("render-seed-negative", _render("--seed", "-1"), "seed"),
    ("render-seed-huge", _render("--seed", str(2**70)), "seed"),
    ("render-seed-text", _render("--seed", "abc"), "seed"),
    ("render-t0-nan", _render("--t0", "nan"), "--t0"),
    ("generate-frames-huge", _generate("--frames", "100000"), "frames must be between"),
    ("generate-cascade-first-frame", _generate("--cascade", "--image", "{good_png}"), "for keyframes alone"),
    ("generate-first-frame-fake", _generate("--image", "{fake_png}"), "could not read fake.png as an image"),
    ("generate-steps-0", _generate("--steps", "0"), "must be ≥ 1"),
    ("generate-steps-huge", _generate("--steps", "100000"), "steps must be between 1 and 1000"),
    ("generate-guidance-nan", _generate("--guidance", "nan"), "guidance"),
    ("generate-guidance-inf", _generate("--guidance", "inf"), "guidance"),
    ("generate-guidance-negative", _generate("--guidance", "-3"), "guidance"),
    ("generate-seed-huge", _generate("--seed", str(2**64 + 1)), "seed"),
    ("generate-pyramid-0", _generate("--pyramid", "0"), "must be ≥ 1"),
    ("edit-strength-0", _edit("--strength", "0"), "finite number > 0"),
    ("edit-strength-2", _edit("--strength", "2"), "--strength must be in (0, 1]"),
    ("edit-guidance-nan", _edit("--guidance", "nan"), "guidance"),
    ("edit-frames-1", _edit("--frames", "1"), "frames must be between 2 and 64"),
    ("tune-frames-1", _tune("--frames", "1"), "frames must be between 2 and 64"),
    ("tune-lr-nan", _tune("--lr", "nan"), "finite number > 0"),
    ("tune-mode-zero-shot", _tune("--mode", "zero-shot"), "choose a mode to tune from"),
    ("generate-mode-unknown", _generate("--mode", "warp"), "unknown mode 'warp'"),
    ("generate-scheduler-unknown", _generate("--scheduler", "euler"), "unknown scheduler 'euler'"),
    ("generate-device-unknown", _generate("--device", "tpu"), "use cpu or cuda"),
    # uploads: corrupt, truncated, huge, not a video, 1 frame
    ("edit-missing-input", _edit(input="{dir}/nowhere.mp4"), "no file at"),
    ("edit-corrupt-input", _edit(input="{corrupt}"), "is it a complete mp4, gif or webm file?"),
    ("edit-truncated-input", _edit(input="{truncated}"), "is it a complete mp4, gif or webm file?"),
    ("edit-text-as-mp4", _edit(input="{text}"), "is it a complete mp4, gif or webm file?"),
    ("edit-png-as-mp4", _edit(input="{png}"), "at least 2 frames"),
    ("edit-txt-input", _edit(input="{txt}"), "not a video file name"),
    ("edit-empty-input", _edit(input="{empty}"), "is empty"),
    ("edit-huge-input", _edit(input="{huge}"), "the limit is"),
    ("edit-huge-frames", _edit(input="{big_frames}"), "scale it down first"),
    ("edit-one-frame", _edit(input="{one_frame}"), "at least 2 frames"),
    ("tune-missing-data", _tune(data="{dir}/nowhere"), "give --data a folder of clips"),
    ("tune-corrupt-clip", _tune("--caption", PROMPT, data="{corrupt_dir}"), "a.mp4"),
    ("tune-one-frame-clip", _tune("--caption", PROMPT, data="{one_clip_dir}"), "at least 2 frames"),
    ("eval-corrupt-prompts", ["eval", "--videos", "{clips}", "--prompts", "{prompts_bad}"], "prompts"),
    # checkpoints: missing, for another mode, another base, wrong shapes, pickles, damaged records
    ("generate-tuned-missing", _generate("--tuned", "{dir}/nowhere", "--mode", "temporal"), "not a tuned folder"),
    ("generate-tuned-missing-no-mode", ["generate", "--prompt", PROMPT, "--tuned", "{dir}/nowhere", "--out", "{out}"],
     "not a tuned folder"),
    ("generate-tuned-other-mode", _generate("--tuned", str(EMBEDDED_MODE), "--mode", "temporal"),
     "drop --mode"),
    ("generate-tuned-other-base", ["generate", "--prompt", PROMPT, "--tuned", "{tiny_tuned}", "--frames", "2",
                                   "--steps", "1", "--out", "{out}"], "another base"),
    ("generate-tuned-wrong-shapes", _generate("--tuned", "{wrong_shapes}", "--mode", "ff-conv1d-attn1d-blocks"),
     "another base"),
    ("generate-tuned-pickle-as-safetensors",
     _generate("--tuned", "{pickle_tuned}", "--mode", "ff-conv1d-attn1d-blocks"), "safetensors"),
    ("generate-tuned-pt-only", _generate("--tuned", "{pt_tuned}", "--mode", "ff-conv1d-attn1d-blocks"),
     "safetensors"),
    ("generate-tuned-bad-json", _generate("--tuned", "{bad_json_tuned}", "--mode", "temporal"), "mode.json"),
    ("edit-tuned-missing", _edit("--tuned", "{dir}/nowhere"), "not a tuned folder"),
    ("generate-model-missing", _generate("--model", "{dir}/no-model"), "no model at"),
    ("generate-model-pickle-bin", _generate("--model", "{bin_base}"), "safetensors"),
    ("generate-model-pickle-as-safetensors", _generate("--model", "{fake_base}"), "safetensors"),
    ("tune-model-pickle-bin", _tune(), "safetensors"),  # --model replaced below
    ("generate-from-missing", ["generate", "--from", "{dir}/nowhere.json", "--out", "{out}"], "no sidecar at"),
    ("generate-from-corrupt", ["generate", "--from", "{corrupt_sidecar}", "--out", "{out}"], "not valid JSON"),
    ("generate-from-render-sidecar", ["generate", "--from", "{render_sidecar}", "--out", "{out}"],
     "not a generate sidecar"),
    ("generate-from-tampered", ["generate", "--from", "{tampered}", "--out", "{out}"], "frames must be a whole number"),
    # outputs that cannot be written
    ("render-out-missing-dir", _render(out="{tmp}/no/such/dir/x.mp4"), "does not exist"),
    ("render-out-suffix", _render(out="{tmp}/x.txt"), "ending in .mp4 or .gif"),
    ("render-out-is-a-dir", _render(out="{tmp}"), "ending in .mp4 or .gif"),
    ("render-out-unwritable", _render(out="/proc/flipbook-x.mp4"), "cannot write"),
    ("render-out-under-a-file", _render(out="{good}/x.mp4"), "not a folder"),
    ("generate-out-missing-dir", _generate(out="{tmp}/no/such/x.mp4"), "does not exist"),
    ("generate-out-unwritable", _generate(out="/proc/flipbook-x.mp4"), "cannot write"),
    ("edit-out-missing-dir", _edit(out="{tmp}/nowhere/x.mp4"), "does not exist"),
    ("edit-out-suffix", _edit(out="{tmp}/x.avi"), "ending in .mp4 or .gif"),
    ("tune-out-missing-dir", _tune(out="{tmp}/no/such/tuned"), "does not exist"),
    ("tune-out-unwritable", _tune(out="/proc/flipbook-tuned"), "cannot write"),
    ("eval-out-missing-dir", ["eval", "--videos", "{clips}", "--prompts", "{prompts_ok}", "--out", "{tmp}/no/t.md"],
     "does not exist"),
]
CLI_CASES = [(i, a + (["--model", "{bin_base}"] if i == "tune-model-pickle-bin" else []), m) for i, a, m in CLI_CASES]

VALID = {
    "render": _render(),
    "generate": _generate(),
    "edit": _edit("--cache-dir", "{tmp}/cache"),
    "tune": _tune(),
    "eval": ["eval", "--videos", "{clips}", "--prompts", "{prompts_ok}"],
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    _clip(d / "c0.mp4", frames=4, size=16)
    (d / "c0.json").write_text(json.dumps({"prompt": PROMPT}))
    return d


def _fill(argv, values):
    return [a.format(**values) if "{" in a and "}" in a else a for a in argv]


def _run(argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse: a bad flag value
        code = e.code
    return code, capsys.readouterr().err


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.is_dir() else set()


@pytest.mark.parametrize("case, argv, fix", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(case, argv, fix, files, clips, base_dir, tmp_path, capsys):
    prompts_ok = tmp_path / "prompts-ok.txt"
    prompts_ok.write_text(f"c0.mp4\t{PROMPT}\n")
    values = {**{k: str(v) for k, v in files.items()}, "clips": str(clips), "tiny": str(base_dir), "tmp": str(tmp_path),
              "out": str(tmp_path / "out.mp4"), "out_dir": str(tmp_path / "tuned"), "prompts_ok": str(prompts_ok)}
    before = _listing(tmp_path), _listing(clips), _listing(files["dir"])
    code, err = _run(_fill(argv, values), capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert "Traceback" not in err and lines, err
    message = lines[-1]
    assert message.startswith("flipbook ") and "error:" in message and len(message) < 500, message
    assert fix in message, message
    assert (_listing(tmp_path), _listing(clips), _listing(files["dir"])) == before  # nothing written, nothing left
    assert not files["marker"].exists(), "a pickle offered as weights was unpickled"
    command = argv[0]
    code, err = _run(_fill(VALID[command], values), capsys)  # the next valid request works
    assert code == 0, err


def test_odd_sized_and_short_clips_are_used_not_refused(files, base_dir, tmp_path, capsys):
    """A 17×33 clip of 5 frames is centre-cropped and resized: editing and tuning take it."""
    out = tmp_path / "odd-edit.mp4"
    assert main(_fill(_edit("--cache-dir", "{tmp}/cache", input=str(files["odd"]), out=str(out)),
                      {"tmp": str(tmp_path)})) == 0
    from engine.io import read_video

    assert read_video(out)[0].shape == (2, 3, 32, 32)
    assert main(_fill(_tune("--caption", PROMPT, data=str(files["odd"]), out=str(tmp_path / "t")),
                      {"tiny": str(base_dir)})) == 0
    assert (tmp_path / "t" / "tuned.safetensors").is_file()


# -- the studio ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from studio.app import Outputs, build_app

    outputs = Outputs(tmp_path_factory.mktemp("studio-outputs"))
    app = build_app(outputs)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    from gradio_client import Client

    yield Client(f"http://127.0.0.1:{port}/", verbose=False), outputs.root
    app.close()


def _gen(prompt=PROMPT, negative="", seed=0, frames=2, steps=1, guidance=4.0, scheduler="ddim", mode="zero-shot",
         pyramid=False, depth="keyframes", stage_steps=20, motion="as the prompt says", speed=1.0, path="",
         method="frame", cross_frame=False, image=None, long_method="windows", overlap=4, fps=0, top=0, detail=0.0):
    # every input: a raw request (the NaN cases) must send them all; gradio_client fills the defaults itself
    return (prompt, negative, seed, frames, steps, guidance, scheduler, mode, pyramid, depth, stage_steps, motion,
            speed, path, method, cross_frame, image, long_method, overlap, fps, top, detail), "/generate"


def _world(prompt=PROMPT, seed=0, size=16, fps=2, frames=2):
    return (prompt, seed, size, fps, frames), "/render"


def _tune_upload(files_, caption=PROMPT, steps=1, batch=1, lr=1e-3, seed=0, mode="temporal", data=UPLOADED):
    return (mode, data, files_, caption, steps, batch, lr, seed), "/tune"


def _cmp(models, frames=2, steps=1):
    return (PROMPT, "", 0, frames, steps, 4.0, "ddim", models), "/compare"


STUDIO_CASES = [
    ("generate-empty-prompt", _gen(prompt=""), "the prompt is empty"),
    ("generate-10k-prompt", _gen(prompt=LONG), "keep it under 500"),
    ("generate-number-prompt", _gen(prompt=12345), "unknown words: '12345'"),
    ("generate-unknown-word", _gen(prompt="a red circel"), "did you mean 'circle'"),
    ("generate-negative-control", _gen(negative="blurry\x00"), "the negative prompt holds a control character"),
    ("generate-frames-1", _gen(frames=1), "frames must be between 2 and 128"),
    ("generate-frames-huge", _gen(frames=10_000), "frames must be between 2 and 128"),
    ("generate-overlap-huge", _gen(frames=12, overlap=9), "window overlap must be between 0 and 7"),
    ("generate-fps-nan", _gen(fps=math.nan), "frame rate must be a number"),
    ("generate-long-method-unknown", _gen(frames=12, long_method="../../loop"), "not in the list of choices"),
    ("generate-first-frame-not-an-image", _gen(image="{fake_png}"), "could not read fake.png as an image"),
    ("generate-first-frame-not-a-picture-name", _gen(image="{text}"), "Invalid file type"),
    ("generate-first-frame-with-the-cascade", _gen(image="{good_png}", depth="interpolate"), "for keyframes alone"),
    ("generate-steps-0", _gen(steps=0), "steps must be between 1 and 100"),
    ("generate-steps-huge", _gen(steps=1e9), "steps must be between 1 and 100"),
    ("generate-guidance-nan", _gen(guidance=math.nan), "guidance must be a number, got 'nan'"),
    ("generate-guidance-inf", _gen(guidance=math.inf), "guidance must be between 0 and 20, got inf"),
    ("generate-guidance-negative", _gen(guidance=-1), "guidance must be between 0 and 20"),
    ("generate-seed-huge", _gen(seed=2.0**80), "seed"),
    ("generate-seed-text", _gen(seed="twelve"), "seed must be a number, got 'twelve'"),
    ("generate-scheduler-unknown", _gen(scheduler="euler"), "euler"),
    ("generate-mode-path-traversal", _gen(mode="../../etc"), "no tuned model '../../etc'"),
    ("generate-mode-absolute-outside", _gen(mode="/etc"), "no tuned model '/etc'"),
    ("generate-depth-unknown", _gen(depth="../../deeper"), "unknown cascade depth '../../deeper'"),
    ("generate-stage-steps-0", _gen(depth="interpolate", stage_steps=0), "steps of the later stages must be between"),
    ("generate-speed-nan", _gen(speed=math.nan), "speed must be a number, got 'nan'"),
    ("generate-detail-nan", _gen(depth="translate", detail=math.nan), "colours below σ must be a number, got 'nan'"),
    ("generate-detail-tiny", _gen(depth="translate", stage_steps=2, detail=0.05), "detail σ is 0 (off) or from 0.1"),
    ("generate-speed-huge", _gen(speed=100), "speed must be between 0.25 and 4"),
    ("generate-path-garbage", _gen(path="../../etc/passwd"), "a path is points 'x,y'"),
    ("generate-path-outside", _gen(path="0.2,0.2 3,3"), "path points must lie in the frame"),
    ("generate-motion-and-path", _gen(motion="left", path="0.2,0.2 0.8,0.8"), "either a motion"),
    ("generate-motion-unknown", _gen(motion="sideways"), "sideways is not in the list of choices"),
    ("render-size-huge", _world(size=100_000), "size must be between 8 and 256"),
    ("render-size-0", _world(size=0), "size must be between 8 and 256"),
    ("render-fps-nan", _world(fps=math.nan), "frames per second must be a number"),
    ("render-fps-inf", _world(fps=-math.inf), "frames per second must be between 1 and 24"),
    ("render-frames-huge", _world(frames=100_000), "frames must be between 2 and 64"),
    ("render-seed-nan", _world(seed=math.nan), "seed must be a number"),
    ("render-seed-negative", _world(seed=-4), "seed must be at least 0"),
    ("compare-one-model", _cmp(["zero-shot"]), "choose two to four models"),
    ("compare-traversal", _cmp(["zero-shot", "../../../etc/passwd"]), "no tuned model"),
    ("tune-no-upload", _tune_upload(None), "upload at least one clip"),
    ("tune-corrupt-upload", _tune_upload(["{corrupt}"]), "is it a complete mp4, gif or webm file?"),
    ("tune-truncated-upload", _tune_upload(["{truncated}"]), "is it a complete mp4, gif or webm file?"),
    ("tune-text-as-mp4", _tune_upload(["{text}"]), "is it a complete mp4, gif or webm file?"),
    ("tune-txt-upload", _tune_upload(["{txt}"]), "mp4"),
    ("tune-empty-upload", _tune_upload(["{empty}"]), "is empty"),
    ("tune-huge-frames-upload", _tune_upload(["{big_frames}"]), "scale it down first"),
    ("tune-one-frame-upload", _tune_upload(["{one_frame}"]), "at least 2 frames"),
    ("tune-steps-0", _tune_upload(None, data=WORLD, steps=0), "steps must be between 1 and 2000"),
    ("tune-lr-nan", _tune_upload(None, data=WORLD, lr=math.nan), "learning rate must be a number"),
    ("tune-batch-huge", _tune_upload(None, data=WORLD, batch=10_000), "batch size must be between 1 and 16"),
    ("tune-empty-caption", _tune_upload(["{good}"], caption=""), "give the clips a caption"),
    ("tune-mode-traversal", _tune_upload(None, data=WORLD, mode="../../tmp/x"), "not in the list of choices"),
    ("restore-not-a-json-file", (("{text}",), "/restore"), "Invalid file type"),
    ("restore-corrupt-json", (("{bad_json}",), "/restore"), "not a JSON sidecar"),
    ("restore-json-list", (("{list_json}",), "/restore"), "not a Flipbook sidecar"),
]


def _raw_error(client, api: str, args: list) -> str:
    """POST a request whose JSON holds NaN or Infinity (as Python's json writes them), as any HTTP client could,
    and return the error the server streams back."""
    import httpx

    body = json.dumps({"data": args})  # allow_nan: NaN, Infinity, -Infinity
    url = client.src.rstrip("/") + "/gradio_api/call" + api
    event = httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=60).json()["event_id"]
    with httpx.stream("GET", f"{url}/{event}", timeout=120) as stream:
        lines = list(stream.iter_lines())
    kinds = [line.split(":", 1)[1].strip() for line in lines if line.startswith("event:")]
    assert kinds and kinds[-1] == "error", lines
    data = [line.split(":", 1)[1].strip() for line in lines if line.startswith("data:")][-1]
    return str(json.loads(data))


def _upload(value, files_):
    from gradio_client import handle_file

    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return handle_file(str(files_[value[1:-1]]))
    if isinstance(value, list):
        return [_upload(v, files_) for v in value]
    return value


@pytest.mark.parametrize("case, request_, fix", STUDIO_CASES, ids=[c[0] for c in STUDIO_CASES])
def test_studio_bad_input(case, request_, fix, studio, files):
    client, root = studio
    (files["dir"] / "list.json").write_text("[1, 2, 3]")
    files = {**files, "list_json": files["dir"] / "list.json"}
    args, api = request_
    args = [_upload(a, files) for a in args]
    before = _listing(root)
    if any(isinstance(a, float) and not math.isfinite(a) for a in args):
        message = _raw_error(client, api, args)  # gradio_client will not send NaN or inf; a raw request can
    else:
        with pytest.raises(Exception) as e:
            client.predict(*args, api_name=api)
        message = str(e.value)
    assert fix in message and "Traceback" not in message and len(message) < 500, message
    assert _listing(root) == before  # no output left behind
    assert not files["marker"].exists()
    record = client.predict(*_world()[0], api_name="/render")[2]  # the next valid request works
    assert record["frames"] == 2
