"""Training checkpoints are one whole step's, whatever moment the process dies at."""
import torch

from engine.training.checkpoint import load_checkpoint, save_checkpoint


def _model(value: float):
    m = torch.nn.Linear(2, 2)
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(value)
    return m


def test_a_checkpoint_is_replaced_whole(tmp_path):
    ckpt = tmp_path / "checkpoint"
    save_checkpoint(ckpt, _model(1.0), state={"step": 1})
    save_checkpoint(ckpt, _model(2.0), state={"step": 2})
    m = _model(0.0)
    assert load_checkpoint(ckpt, m)["step"] == 2 and m.weight[0, 0] == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]  # no .new or .old left behind


def test_death_mid_swap_leaves_the_previous_step(tmp_path):
    ckpt = tmp_path / "checkpoint"
    save_checkpoint(ckpt, _model(1.0), state={"step": 1})
    # died after writing step 2 beside it and moving step 1 aside, before the last rename
    save_checkpoint(tmp_path / "checkpoint.new", _model(2.0), state={"step": 2})
    ckpt.rename(tmp_path / "checkpoint.old")
    m = _model(0.0)
    assert load_checkpoint(ckpt, m)["step"] == 1 and m.weight[0, 0] == 1.0
    # died while writing step 2's files: the half-written folder has no state.json and is never read
    (tmp_path / "checkpoint.new" / "state.json").unlink()
    assert load_checkpoint(ckpt, _model(0.0))["step"] == 1
    save_checkpoint(ckpt, _model(3.0), state={"step": 3})  # the next save cleans up
    assert load_checkpoint(ckpt, m)["step"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]
