import logging
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 2)))  # 1 while a training has the cores


# Files whose tests take longest, longest first (--durations, at one thread): they start first, so that in two
# test processes (scripts/test.sh: pytest-xdist, a file to a process, in this order) no long file is left for last
# while the other process sits idle. The rest follow in their usual order.
LONGEST_FIRST = ["test_notebooks.py", "test_studio.py", "test_load.py", "test_studio_cascade_tabs.py",
                 "test_motion.py", "test_cascade.py", "test_kill_resume.py"]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _library_logs_to_this_tests_stderr():
    """diffusers' and transformers' log handlers keep the stderr they were made with; made inside a test that
    captures it (capsys), they would write to a closed stream in every later test ("--- Logging error ---")."""
    for name in ("diffusers", "transformers"):
        for handler in logging.getLogger(name).handlers:
            if type(handler) is logging.StreamHandler:  # not pytest's own capturing handlers
                handler.setStream(sys.stderr)
    yield


@pytest.fixture(scope="session")
def judge():
    from engine.metrics import load_judge

    return load_judge()


def make_base(folder, channels=(16, 32, 32), seed=0):
    """A tiny base folder in diffusers format (16×16, random weights), built by the tests themselves."""
    from engine.models.base import base_unet
    from engine.models.text import build_text_encoder, build_tokenizer
    from engine.training.base import save_base, train_scheduler

    torch.manual_seed(seed)
    tok = build_tokenizer()
    te = build_text_encoder(tok, hidden=16, layers=1, heads=2)
    unet = base_unet(sample_size=16, cross_attention_dim=16, channels=channels)
    save_base(folder, unet, te, tok, dict(train_scheduler().config))
    return folder


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory):
    return make_base(tmp_path_factory.mktemp("tiny") / "base")
