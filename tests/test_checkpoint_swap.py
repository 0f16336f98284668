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


def test_the_optimizers_state_round_trips_through_safetensors(tmp_path):
    """AdamW's moments, step counts and parameter groups come back exactly from optimizer.safetensors (no pickle),
    and a run resumed from them takes the same next step as one that never stopped."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.95))
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(4, 3)).square().mean().backward()
        opt.step()
    save_checkpoint(tmp_path / "ckpt", {"model": model}, opt, {"step": 3})
    assert not list((tmp_path / "ckpt").glob("*.pt"))
    again = torch.nn.Linear(3, 2)
    opt2 = torch.optim.AdamW(again.parameters(), lr=5.0)
    assert load_checkpoint(tmp_path / "ckpt", {"model": again}, opt2) == {"step": 3}
    a, b = opt.state_dict(), opt2.state_dict()
    assert [{k: v for k, v in g.items()} for g in b["param_groups"]] == \
           [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in a["param_groups"]]
    for i, values in a["state"].items():
        assert set(values) == set(b["state"][i])
        for name, value in values.items():
            assert torch.equal(value, b["state"][i][name]), name
    x = torch.randn(4, 3)
    for m, o in ((model, opt), (again, opt2)):
        o.zero_grad()
        m(x).square().mean().backward()
        o.step()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters()))
