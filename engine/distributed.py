"""This process's place among several under `accelerate launch` (one process otherwise).

`process_state()` is accelerate's `PartialState`, created the way `Accelerator` creates it: with
ACCELERATE_USE_CPU set (CPU processes talking over gloo), a bare PartialState would otherwise miss the other
processes if it were made before the first Accelerator.
"""
from __future__ import annotations

from accelerate import PartialState
from accelerate.utils import parse_flag_from_env


def process_state() -> PartialState:
    """index, count, device and is_main_process of this process (shared: the same object every call)."""
    return PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
