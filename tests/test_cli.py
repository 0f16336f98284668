import json

import pytest
import torch

from engine.io import read_video
from engine.world import ClipSpec, prompt_to_spec, render
from studio.cli import main


def test_render_command_from_the_issue(tmp_path, capsys):
    out = tmp_path / "x.mp4"
    assert main(["render", "--prompt", "a red circle moving left on a black background", "--size", "64",
                 "--fps", "8", "--frames", "16", "--seed", "0", "--out", str(out)]) == 0
    video, fps = read_video(out)
    assert video.shape == (16, 3, 64, 64) and fps == 8
    sidecar = json.loads(out.with_suffix(".json").read_text())
    spec = ClipSpec.from_dict(sidecar["spec"])
    assert spec == prompt_to_spec("a red circle moving left on a black background", 0)
    assert (video - render(spec, 64, 8, 16)).abs().mean() < 0.03
    assert str(out) in capsys.readouterr().out


def test_render_gif(tmp_path):
    assert main(["render", "--prompt", "a star", "--size", "32", "--frames", "4", "--out", str(tmp_path / "s.gif")]) == 0
    assert read_video(tmp_path / "s.gif")[0].shape == (4, 3, 32, 32)


@pytest.mark.parametrize("args, fragment", [
    (["--prompt", "a red hexagon"], "unknown words: 'hexagon'"),
    (["--prompt", ""], "empty"),
    (["--prompt", "a star", "--size", "5000"], "size must be between"),
])
def test_render_errors_are_one_line_and_leave_no_file(tmp_path, capsys, args, fragment):
    out = tmp_path / "x.mp4"
    assert main(["render", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_render_rejects_out_of_range_numbers(tmp_path, capsys):
    for bad in (["--frames", "0"], ["--fps", "nan"], ["--fps", "-1"]):
        with pytest.raises(SystemExit) as e:
            main(["render", "--prompt", "a star", *bad, "--out", str(tmp_path / "x.mp4")])
        assert e.value.code == 2
    assert list(tmp_path.iterdir()) == []


def test_eval_prints_the_table(tmp_path, capsys):
    prompts = ["a red circle moving left on a black background", "a big blue square falling on a gray background",
               "a small yellow star rotating over an ocean background"]
    videos = tmp_path / "clips"
    videos.mkdir()
    for i, p in enumerate(prompts):
        assert main(["render", "--prompt", p, "--seed", str(i), "--size", "32", "--fps", "2", "--frames", "8",
                     "--out", str(videos / f"c{i}.mp4")]) == 0
    (videos / "c2.json").unlink()  # one clip without a sidecar: judged, but no ground-truth frames to compare
    (tmp_path / "prompts.txt").write_text("\n".join(f"c{i}.mp4\t{p}" for i, p in enumerate(prompts)))
    capsys.readouterr()
    assert main(["eval", "--videos", str(videos), "--prompts", str(tmp_path / "prompts.txt"),
                 "--out", str(tmp_path / "table.md")]) == 0
    table = capsys.readouterr().out
    assert "| accuracy |" in table and "Fréchet distance" in table and "PSNR" in table
    assert "Mean against ground truth (2 clips)" in table
    accuracy_row = next(line for line in table.splitlines() if line.startswith("| accuracy"))
    assert float(accuracy_row.split("|")[-2]) >= 0.9
    assert (tmp_path / "table.md").read_text().strip() == table.strip()


def test_eval_errors(tmp_path, capsys):
    (tmp_path / "p.txt").write_text("a star\n")
    assert main(["eval", "--videos", str(tmp_path / "nowhere"), "--prompts", str(tmp_path / "p.txt")]) == 2
    assert "no folder" in capsys.readouterr().err
    (tmp_path / "v").mkdir()
    assert main(["eval", "--videos", str(tmp_path / "v"), "--prompts", str(tmp_path / "p.txt")]) == 2
    assert "holds no videos" in capsys.readouterr().err


def test_words(capsys):
    assert main(["words"]) == 0
    out = capsys.readouterr().out
    assert "shape:" in out and "checkerboard" in out


def test_generate_takes_the_readmes_verb_forms(tmp_path):
    """'rotate' as the README's table says it: the embedded word-level tokenizer gets the captions' 'rotating'."""
    out = tmp_path / "r.mp4"
    assert main(["generate", "--prompt", "a red circle rotate on a black background", "--steps", "2",
                 "--out", str(out)]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["plan"]["source"] == "prompt:rotate"
