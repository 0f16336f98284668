"""Data-parallel training through `accelerate launch`: 2 CPU processes (gloo) against 1, same global batch."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from engine.training.loop import shard_batch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "multiprocess_tune.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(command: list[str], out: Path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "ACCELERATE_USE_CPU": "1", "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # gloo's hostname-based choice is flaky in containers
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return [load_file(str(p)) for p in sorted(out.glob("rank*.safetensors"))], \
           [json.loads(p.read_text()) for p in sorted(out.glob("rank*.json"))]


def test_shard_batch_splits_rows_and_keeps_the_rest():
    batch = {"pixels": torch.arange(8).view(4, 2), "captions": list("abcd"), "seed": 7}
    first, second = shard_batch(batch, 0, 2), shard_batch(batch, 1, 2)
    assert first["captions"] == ["a", "b"] and second["captions"] == ["c", "d"] and first["seed"] == second["seed"] == 7
    assert torch.equal(torch.cat([first["pixels"], second["pixels"]]), batch["pixels"])
    assert first["rows"] == (0, 2, 4) and second["rows"] == (2, 4, 4) and shard_batch(batch)["rows"] == (0, 4, 4)
    with pytest.raises(ValueError, match="multiple of 3"):
        shard_batch(batch, 0, 3)


@pytest.mark.slow
def test_two_processes_train_like_one_with_the_same_global_batch(base_dir, tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--num_cpu_threads_per_process", "1", "--main_process_port", str(_free_port())]
    (rank0, rank1), (log0, log1) = _run(launch + [str(SCRIPT), str(base_dir), str(two)], two)
    (single,), (log,) = _run([sys.executable, str(SCRIPT), str(base_dir), str(one)], one)
    assert log0["processes"] == log1["processes"] == 2 and log["processes"] == 1
    assert rank0.keys() == rank1.keys() == single.keys() and len(rank0) > 1
    for name in rank0:  # both ranks end with the same weights and the same clips ...
        assert torch.equal(rank0[name], rank1[name]), name
    assert log0["losses"] == log1["losses"]
    for name in rank0:  # ... which match one process with the same global batch
        if name != "frames":
            torch.testing.assert_close(rank0[name], single[name], atol=1e-5, rtol=0, msg=name)
    moved = max(float(single[n].abs().max()) for n in single if n.endswith("proj_out.weight"))  # zero at the start
    assert moved > 1e-4  # 100× the tolerance (without averaging gradients, the runs differ by ~3e-3)
    assert log0["losses"] == pytest.approx(log["losses"], abs=1e-4)
    assert rank0["frames"].shape == (3, 2, 3, 16, 16)  # every prompt, gathered from both processes, in order
    torch.testing.assert_close(rank0["frames"], single["frames"], atol=1e-4, rtol=0)
