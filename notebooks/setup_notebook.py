"""What every teaching notebook does after its parameters cell: the CPU threads it asks for, a quiet load (no
"Loading weights" bars in the outputs), its seed, and the clock for its closing "ran in" line."""
import time

import diffusers
import torch
import transformers


def setup(threads: int, seed: int) -> float:
    """Set torch's CPU threads and global seed, silence diffusers' and transformers' progress bars; the time now."""
    torch.set_num_threads(threads)
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(seed)
    return time.time()
