"""Generation for evaluation, split across processes.

Under `accelerate launch` each process generates its share of the prompts (accelerate's
`split_between_processes`: contiguous, as even as possible) and every process gets all the clips back in
prompt order. Prompt i is sampled with its own generator, seeded `seed + i`, so the clips do not depend on
how many processes share the work or how prompts are batched (up to floating-point rounding). In one
process this is plain batched generation.
"""
from __future__ import annotations

import torch
from accelerate.utils import gather_object

from ..distributed import process_state


def generate_split(pipe, prompts: list[str], seed: int = 0, batch_size: int = 8, **kwargs) -> torch.Tensor:
    """Frames (N, F, 3, H, W) in [0, 1] for every prompt, on every process; `kwargs` go to the pipeline."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    state = process_state()
    with state.split_between_processes(list(range(len(prompts)))) as mine:
        clips = []
        for start in range(0, len(mine), batch_size):
            rows = mine[start:start + batch_size]
            generators = [torch.Generator().manual_seed(seed + i) for i in rows]
            clips.extend(pipe([prompts[i] for i in rows], generator=generators, **kwargs).frames)
    if state.num_processes > 1:
        pairs = gather_object(list(zip(mine, clips)))  # every process's (index, clip), in process order
    else:
        pairs = list(zip(mine, clips))
    return torch.stack([clip for _, clip in sorted(pairs, key=lambda p: p[0])])
