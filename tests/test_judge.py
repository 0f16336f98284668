"""The embedded judge: loads from safetensors, and is accurate enough to trust on clean clips."""
import json

import pytest
import torch

from engine.metrics import load_judge
from engine.metrics.judge import ASSET, Judge, to_judge_view
from engine.training.judge import evaluate, training_batch


def test_embedded_judge_is_fp16_safetensors():
    assert (ASSET / "diffusion_pytorch_model.safetensors").exists()
    assert not list(ASSET.glob("*.bin")) and not list(ASSET.glob("*.pt"))
    from safetensors import safe_open

    with safe_open(str(ASSET / "diffusion_pytorch_model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}


@pytest.mark.parametrize("split, floor", [("val", 0.95), ("heldout", 0.88)])
def test_judge_accuracy_on_fresh_clips(judge, split, floor):
    acc = evaluate(judge, split, 200, (32, 2.0, 8), seed=123)  # a stream the report does not use
    assert min(acc.values()) >= floor, acc


def test_judge_view_accepts_any_size_and_length():
    v = torch.rand(2, 3, 29, 100, 60)
    assert to_judge_view(v).shape == (2, 3, 8, 32, 32)
    with pytest.raises(ValueError, match="at least 2 frames"):
        to_judge_view(torch.rand(1, 3, 1, 32, 32))


def test_judge_save_and_load_round_trip(tmp_path):
    from engine.training.judge import save_fp16

    model = Judge(width=8)
    save_fp16(model, tmp_path / "j")
    loaded = load_judge(tmp_path / "j")
    assert loaded.config.width == 8 and loaded.dtype == torch.float32
    x = torch.rand(2, 3, 8, 32, 32)
    assert torch.allclose(loaded.features(x), model.features(x), atol=5e-2)
    with pytest.raises(FileNotFoundError, match="train-judge"):
        load_judge(tmp_path / "missing")


def test_training_batches_are_deterministic_and_train_only():
    a, la = training_batch(3, 4)
    b, lb = training_batch(3, 4)
    assert torch.equal(a, b) and all(torch.equal(la[k], lb[k]) for k in la)
    assert a.shape == (4, 3, 8, 32, 32)


def test_judge_trainer_resumes_from_its_checkpoint(tmp_path):
    from engine.training.judge import train_judge

    work = tmp_path / "work"
    train_judge(tmp_path / "a", steps=2, batch_size=2, width=8, work_dir=work, checkpoint_every=1, log=None)
    state = json.loads((work / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2
    train_judge(tmp_path / "b", steps=3, batch_size=2, width=8, work_dir=work, checkpoint_every=1, log=None)
    assert json.loads((work / "checkpoint" / "state.json").read_text())["step"] == 3
    assert len(json.loads((work / "checkpoint" / "state.json").read_text())["losses"]) == 3
