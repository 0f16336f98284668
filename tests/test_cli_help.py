"""The command line's own documentation: every option of every command has help and shows its default, the
everyday commands come before the trainers, `--version` answers, and the mode lists are the engine's."""
import argparse
import io

import pytest

from engine.registry import KEYFRAME_MODES
from engine.tuning import MODES
from studio.cli import TRAINING_HEADING, build_parser, main
from studio.cli.options import HelpFormatter, shows_default


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_option_has_help_and_shows_its_default(command):
    parser = _commands()[command]
    formatter = HelpFormatter(command)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help.strip(), f"{command} {action.option_strings} has no help"
        if shows_default(action):
            shown = formatter._get_help_string(action) % {"default": action.default}
            assert "default" in shown, f"{command} {action.option_strings} does not show its default"
    text = parser.format_help()
    assert "(default: " in text or command in ("words",)


def test_the_top_level_help_lists_everyday_commands_before_the_trainers(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    heading = out.index(TRAINING_HEADING)
    for everyday in ("generate", "interpolate", "upscale", "edit", "tune", "studio"):
        assert out.index(f"    {everyday} ") < heading
    for trainer in ("train-base", "train-mode", "train-sr", "train-judge"):
        assert out.index(f"    {trainer}") > heading


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0 and capsys.readouterr().out.startswith("flipbook ")


def test_mode_options_list_the_engines_modes(capsys):
    assert KEYFRAME_MODES == tuple(MODES)  # the registry's light list is the recipe table's
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(m in help_text for m in MODES)
    for shown in ("--steps STEPS sampling steps (default: 25)", "(default: 4.0)", "frames (default: 0)"):
        assert shown in help_text  # --steps, --guidance, --seed


def test_a_bad_mode_names_the_modes(capsys):
    assert main(["train-mode", "--mode", "bogus", "--steps", "1"]) == 2
    assert "ff-conv1d-attn1d-blocks" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_stage_progress_counts_steps_on_a_terminal_and_says_each_stage_in_a_log():
    from studio.cli.progress import StageProgress

    for stream in (_Terminal(), io.StringIO()):
        progress = StageProgress({"keyframes": 2, "interpolate": 3}, stream)
        for stage, steps in (("keyframes", 2), ("interpolate", 3)):
            progress.stage(stage)
            for i in range(steps):
                assert progress.step(None, i, 0, {"latents": 1}) == {"latents": 1}
        progress.close()
        text = stream.getvalue()
        assert "[1/2] keyframes: done in" in text and "[2/2] interpolate: done in" in text
        live = isinstance(stream, _Terminal)
        assert ("step 3 of 3" in text and "left" in text) == live  # a log gets no line per step
        assert ("[2/2] interpolate: 3 steps" in text) != live
