import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def judge():
    from engine.metrics import load_judge

    return load_judge()
