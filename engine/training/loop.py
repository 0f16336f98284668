"""The shared training loop: accelerate, a progress bar, EMA, resumable atomic checkpoints, a loss plot.

A trainer supplies `batch(step) -> dict` (the global batch) and `loss(batch) -> tensor`; the loop owns
everything else, so every model in Flipbook trains, checkpoints and resumes the same way.

Data-parallel under `accelerate launch` (several processes, GPUs or machines): every process builds the
step's global batch and keeps its own rows (`shard_batch`: process i of n takes the i-th n-th, and
`batch["rows"]` says which, so per-sample noise can be drawn for the global batch and sliced); the loss
closures run on the plain modules, and the loop averages the gradients over processes before clipping and
stepping (what DDP does during backward). Trainable weights start from process 0's. So n processes × B
samples take the same steps as 1 process × n·B, up to floating-point rounding; only process 0 writes.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from ..files import atomic_path
from .checkpoint import load_checkpoint, resume_schedule, save_checkpoint


def cosine_with_warmup(steps: int, warmup: int = 100):
    return lambda s: min(1.0, (s + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))


class EMA:
    """Exponential moving average of the trainable parameters (what gets saved as the asset)."""

    def __init__(self, params: list[torch.nn.Parameter], decay: float = 0.999):
        self.params = params
        self.decay = decay
        self.shadow = [p.detach().clone() for p in params]

    @torch.no_grad()
    def update(self, step: int):
        d = min(self.decay, (1 + step) / (10 + step))
        for s, p in zip(self.shadow, self.params):
            s.lerp_(p.detach(), 1 - d)

    @torch.no_grad()
    def shadow_from(self, params: list[torch.nn.Parameter]):
        for s, p in zip(self.shadow, params):
            s.copy_(p)

    @torch.no_grad()
    def copy_to_params(self):
        for s, p in zip(self.shadow, self.params):
            p.copy_(s)

    def state_dict(self):
        return {str(i): s for i, s in enumerate(self.shadow)}

    def load_state_dict(self, state):
        for i, s in enumerate(self.shadow):
            s.copy_(state[str(i)])

    def as_module(self) -> torch.nn.Module:
        """A module whose buffers are the shadow weights themselves (p0, p1, …): what a checkpoint saves and
        restores them through."""
        holder = torch.nn.Module()
        for i, s in enumerate(self.shadow):
            holder.register_buffer(f"p{i}", s, persistent=True)
        return holder


def save_loss_plot(losses: list[float], path: Path, title: str):
    # heavy: matplotlib loads only for the loss plot; the Agg backend is chosen before pyplot is imported
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # heavy too, and imported only after matplotlib.use("Agg")

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    ax.plot(losses, lw=0.6, alpha=0.4, label="step")
    k = max(1, len(losses) // 50)
    smooth = [sum(losses[max(0, i - k):i + 1]) / len(losses[max(0, i - k):i + 1]) for i in range(len(losses))]
    ax.plot(smooth, lw=1.5, label=f"mean of {k + 1}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _is_rows(value, n: int | None = None) -> bool:
    rows = (torch.is_tensor(value) and value.ndim > 0) or isinstance(value, (list, tuple))
    return rows and (n is None or len(value) == n)


def shard_batch(batch: dict, index: int = 0, count: int = 1) -> dict:
    """Process `index` of `count`'s share of a global batch: the same slice of every tensor and list whose
    length is the batch size (the first such value's); other values (the step's seed) stay whole.
    Adds `rows` = (start, stop, global batch size)."""
    n = next((len(v) for v in batch.values() if _is_rows(v)), None)
    if n is None:
        raise ValueError("a training batch needs at least one tensor or list with a row per sample")
    if n % count:
        raise ValueError(f"a global batch of {n} samples does not split evenly over {count} processes; "
                         f"use a batch size that is a multiple of {count}")
    start, stop = n * index // count, n * (index + 1) // count
    return {**{k: v[start:stop] if _is_rows(v, n) else v for k, v in batch.items()}, "rows": (start, stop, n)}


def _buckets(params: list[torch.nn.Parameter], limit: int):
    """Consecutive parameters of one gradient dtype and device, about `limit` elements a bucket."""
    bucket, size = [], 0
    for p in params:
        if bucket and (size + p.numel() > limit or (p.grad.dtype, p.grad.device) != (bucket[0].grad.dtype,
                                                                                     bucket[0].grad.device)):
            yield bucket
            bucket, size = [], 0
        bucket.append(p)
        size += p.numel()
    if bucket:
        yield bucket


@torch.no_grad()
def average_gradients(params: list[torch.nn.Parameter], accelerator: Accelerator, bucket: int = 2**24):
    """Replace every gradient by its mean over processes, all-reduced in flat buckets of about `bucket`
    elements. A parameter without a gradient on some process counts as zero there."""
    if accelerator.num_processes == 1:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    for group in _buckets(params, bucket):
        flat = accelerator.reduce(torch.cat([p.grad.flatten() for p in group]), "mean")
        for p, g in zip(group, flat.split([p.numel() for p in group])):
            p.grad.copy_(g.view_as(p.grad))


@torch.no_grad()
def broadcast_parameters(params: list[torch.nn.Parameter], accelerator: Accelerator):
    """Every process starts from process 0's trainable weights (as DDP does)."""
    if accelerator.num_processes > 1:
        for p in params:
            torch.distributed.broadcast(p.data, src=0)


def _check_same_start(step: int, work_dir: Path, accelerator: Accelerator):
    """Every process must resume from the same checkpoint (machines that do not share the work dir would not)."""
    if accelerator.num_processes > 1:
        steps = accelerator.gather(torch.tensor([step], device=accelerator.device)).tolist()
        if len(set(steps)) > 1:
            raise ValueError(f"processes found different checkpoints in {work_dir} (steps {steps}); put --work-dir on a "
                             "filesystem every machine shares, or copy process 0's checkpoint to every machine")


def _update(loss: torch.Tensor, params: list[torch.nn.Parameter], opt, sched, accelerator: Accelerator,
            max_grad_norm: float):
    """The optimiser's half of a step: backward, the gradients averaged over processes and clipped, a step of
    the optimiser and of its schedule."""
    opt.zero_grad(set_to_none=True)
    accelerator.backward(loss)
    average_gradients(params, accelerator)
    if max_grad_norm:
        accelerator.clip_grad_norm_(params, max_grad_norm)
    opt.step()
    sched.step()


def train_loop(models: dict[str, torch.nn.Module], batch: Callable[[int], dict], loss_fn: Callable[[dict], torch.Tensor],
               steps: int, work_dir: str | Path, lr: float = 5e-4, weight_decay: float = 0.01,
               checkpoint_every: int = 250, ema_decay: float | None = 0.999, title: str = "training",
               max_grad_norm: float = 1.0, mixed_precision: str | None = None,
               on_step: Callable[[int, float], None] | None = None) -> dict:
    """Train the trainable parameters of `models`; resume from work_dir/checkpoint; return the final state.

    `batch(step)` returns the global batch; under `accelerate launch` each process trains on its share
    (see the module's docstring). `mixed_precision` ('no', 'fp16', 'bf16'; default: what `accelerate
    launch` or `accelerate config` says) runs the loss under autocast. With EMA, the models hold the EMA
    weights when this returns, on every process. `on_step(step, loss)` sees every finished step (a live
    loss plot, a caller's progress: then no bar of its own); an exception from it stops training, and the last
    checkpoint stays as it was.
    """
    work_dir = Path(work_dir)
    accelerator = Accelerator(**({"mixed_precision": mixed_precision} if mixed_precision else {}))
    for m in models.values():
        m.to(accelerator.device)
    params = [p for m in models.values() for p in m.parameters() if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: every parameter is frozen")
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_with_warmup(steps))
    ema = EMA(params, ema_decay) if ema_decay else None
    ckpt_models = {**models, **({"ema": ema.as_module()} if ema else {})}
    state = load_checkpoint(work_dir / "checkpoint", ckpt_models, opt) or {"step": 0, "losses": []}
    _check_same_start(state["step"], work_dir, accelerator)
    resume_schedule(sched, state["step"])
    broadcast_parameters(params, accelerator)
    if ema and state["step"] == 0:
        ema.shadow_from(params)  # a resumed EMA comes from the checkpoint, the same file on every process
    opt = accelerator.prepare(opt)  # the models stay plain modules: the loss closures call them directly
    for m in models.values():
        m.train()
    bar = tqdm(range(state["step"], steps), initial=state["step"], total=steps, desc=title,  # unless on_step reports
               disable=not accelerator.is_local_main_process or on_step is not None)
    for step in bar:
        b = shard_batch(batch(step), accelerator.process_index, accelerator.num_processes)
        b = {k: v.to(accelerator.device) if torch.is_tensor(v) else v for k, v in b.items()}
        with accelerator.autocast():
            loss = loss_fn(b)
        _update(loss, params, opt, sched, accelerator, max_grad_norm)
        if ema:
            ema.update(step)
        value = accelerator.reduce(loss.detach().float(), "mean").item()  # the global batch's loss
        state["losses"].append(round(value, 5))
        state["step"] = step + 1
        bar.set_postfix(loss=f"{value:.4f}")
        if on_step is not None:
            on_step(state["step"], value)
        if state["step"] % checkpoint_every == 0 or state["step"] == steps:
            if accelerator.is_main_process:
                save_checkpoint(work_dir / "checkpoint", ckpt_models, opt, state)
                save_loss_plot(state["losses"], work_dir / "loss.png", title)
            accelerator.wait_for_everyone()
    for m in models.values():
        m.eval()
    if ema:
        ema.copy_to_params()
    return state
