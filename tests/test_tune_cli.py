"""`flipbook tune` on a user's clips: captions, the tuned folder and where it is used, resume after SIGKILL."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from engine.tune import collect_clips
from engine.io import write_video
from engine.world import prompt_to_spec, render
from studio.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ["a red circle moving left on a black background", "a blue square falling on a gray background"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    for i, p in enumerate(PROMPTS):
        assert main(["render", "--prompt", p, "--size", "16", "--fps", "2", "--frames", "4", "--seed", str(i),
                     "--out", str(folder / f"c{i}.mp4")]) == 0  # c{i}.json holds the prompt
    return folder


def test_captions_come_from_the_flag_a_captions_file_or_sidecars(clips, tmp_path):
    paths, captions = collect_clips(clips)
    assert [p.name for p in paths] == ["c0.mp4", "c1.mp4"] and captions == PROMPTS
    assert collect_clips(clips, caption=" a star ")[1] == ["a star", "a star"]
    assert collect_clips(clips / "c1.mp4")[1] == [PROMPTS[1]]
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("a.mp4", "b.gif"):
        write_video(bare / name, render(prompt_to_spec("a star", 0), 16, 2.0, 3), 2.0)
    with pytest.raises(ValueError, match="no caption for a.mp4, b.gif: add them to captions.json"):
        collect_clips(bare)
    (bare / "captions.json").write_text(json.dumps({"a.mp4": "a green star", "b.gif": "a white ring"}))
    assert collect_clips(bare)[1] == ["a green star", "a white ring"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no clips"):
        collect_clips(tmp_path / "empty")


def test_tune_writes_a_folder_that_generate_edit_and_the_studio_take(base_dir, clips, tmp_path, capsys):
    out = tmp_path / "mine" / "shapes"
    out.parent.mkdir()
    args = ["tune", "--data", str(clips), "--mode", "temporal", "--steps", "3", "--batch-size", "2",
            "--checkpoint-every", "2", "--model", str(base_dir), "--out", str(out)]
    assert main(args) == 0
    assert {"mode.json", "tuned.safetensors", "loss.png"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "mode.json").read_text())["mode"] == "temporal"
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["kind"] == "tune" and len(record["losses"]) == 3 and record["captions"] == PROMPTS
    assert main(args) == 2
    assert "pass --resume to continue it, or choose another --out" in capsys.readouterr().err
    assert main(["generate", "--prompt", PROMPTS[0], "--model", str(base_dir), "--tuned", str(out), "--steps", "2",
                 "--frames", "4", "--out", str(tmp_path / "g.mp4")]) == 0
    assert json.loads((tmp_path / "g.json").read_text())["mode"] == "temporal"
    assert main(["edit", "--input", str(clips / "c0.mp4"), "--source-prompt", PROMPTS[0], "--prompt",
                 PROMPTS[0].replace("red", "green"), "--model", str(base_dir), "--tuned", str(out), "--steps", "3",
                 "--frames", "4", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "e.mp4")]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["tuned"] == str(out)
    from studio.context import Studio

    studio = Studio(model={"model": str(base_dir), "modes": str(out.parent)})
    assert studio.resolve("shapes").tuned == str(out.resolve())


def test_tune_errors_say_what_to_fix(base_dir, clips, tmp_path, capsys):
    common = ["--model", str(base_dir), "--steps", "1"]
    assert main(["tune", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o"), *common]) == 2
    assert "give --data a folder of clips or one clip file" in capsys.readouterr().err
    assert main(["tune", "--data", str(clips), "--caption", "a red hexagon", "--out", str(tmp_path / "o"), *common]) == 2
    assert "unknown words: 'hexagon'" in capsys.readouterr().err
    assert main(["tune", "--data", str(clips), "--mode", "zero-shot", "--out", str(tmp_path / "o"), *common]) == 2
    assert "choose a mode to tune from" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "o-work").exists()


def _tune_cmd(base_dir, clips, out, *extra):
    return [sys.executable, "-m", "studio.cli", "tune", "--data", str(clips), "--mode", "simda", "--steps", "12",
            "--batch-size", "2", "--checkpoint-every", "2", "--model", str(base_dir), "--out", str(out), *extra]


def test_a_tune_killed_midway_resumes_to_the_same_weights(base_dir, clips, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_tune_cmd(base_dir, clips, killed), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = killed.with_name("killed-work") / "checkpoint" / "state.json"
    deadline = time.time() + 120
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.15)  # somewhere in the next steps, maybe mid-save
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    work = killed.with_name("killed-work")
    saved = json.loads(next(d for d in (work / "checkpoint", work / "checkpoint.old")
                            if (d / "state.json").exists()).joinpath("state.json").read_text())["step"]
    assert 2 <= saved < 12 and saved % 2 == 0 and not killed.exists()  # a whole checkpoint, no tuned folder yet
    done = subprocess.run(_tune_cmd(base_dir, clips, killed, "--resume"), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    whole = tmp_path / "whole"
    torch.set_num_threads(1)
    assert main(["tune", *_tune_cmd(base_dir, clips, whole)[4:]]) == 0  # the same run, never interrupted
    a, b = load_file(str(killed / "tuned.safetensors")), load_file(str(whole / "tuned.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k].float(), b[k].float(), atol=2e-3, rtol=1e-2)  # fp16 storage
    losses = [json.loads(p.with_suffix(".json").read_text())["losses"] for p in (killed, whole)]
    assert len(losses[0]) == 12 and losses[0] == pytest.approx(losses[1], rel=1e-3, abs=1e-4)
