"""A short data-parallel fine-tune and a split generation, run by tests/test_multiprocess.py as

    accelerate launch --multi_gpu --num_processes 2 tests/multiprocess_tune.py BASE OUT   (ACCELERATE_USE_CPU=1)
    python tests/multiprocess_tune.py BASE OUT                                            (one process)

Each process writes OUT/rank{i}.safetensors (its trainable weights after training, and the clips it got back
from the split generation) and OUT/rank{i}.json (the loss curve). The global batch is the same however many
processes share it.
"""
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from engine.distributed import process_state
from engine.models.base import load_base
from engine.models.inflate import inflate
from engine.models.text import encode_prompts
from engine.tuning import trainable_state
from engine.pipelines.distributed import generate_split
from engine.pipelines.load import SCHEDULERS
from engine.pipelines.text_to_video import TextToVideoPipeline
from engine.training.base import diffusion_loss
from engine.training.loop import train_loop
from engine.training.modes import video_batch
from engine.tuning import apply_mode

GLOBAL_BATCH, STEPS = 4, 3
PROMPTS = ["a red circle moving left", "a blue square moving up", "a green star rotating"]  # 3: an uneven split


def main(base_dir: str, out: str):
    torch.manual_seed(process_state().process_index)  # different on purpose: the loop starts every process from 0's
    base = load_base(base_dir)
    video = apply_mode(inflate(base.unet), "temporal")
    base.text_encoder.requires_grad_(False)
    scheduler = base.noise_scheduler()

    def loss(batch):
        with torch.no_grad():
            text = encode_prompts(base.tokenizer, base.text_encoder, batch["captions"])
            x0 = base.encode(batch["pixels"])
        return diffusion_loss(video, text, x0, scheduler, batch["seed"], 5.0, batch["rows"])

    state = train_loop({"video": video}, lambda s: video_batch(s, GLOBAL_BATCH, 0, size=16, fps=2.0, frames=4), loss,
                       STEPS, Path(out) / "work", lr=0.05, checkpoint_every=STEPS, ema_decay=0.9)
    pipe = TextToVideoPipeline(video, base.text_encoder, base.tokenizer,
                               SCHEDULERS["ddim"](base.scheduler.config, pixel=True))
    pipe.set_progress_bar_config(disable=True)
    frames = generate_split(pipe, PROMPTS, seed=5, batch_size=2, num_frames=2, num_inference_steps=2,
                            guidance_scale=2.0)
    rank = process_state().process_index
    tensors = {k: v.contiguous() for k, v in trainable_state(video).items()}
    save_file({**tensors, "frames": frames.contiguous()}, str(Path(out) / f"rank{rank}.safetensors"))
    (Path(out) / f"rank{rank}.json").write_text(json.dumps({"losses": state["losses"],
                                                            "processes": process_state().num_processes}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
