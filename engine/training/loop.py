"""The shared training loop: accelerate, a progress bar, EMA, resumable atomic checkpoints, a loss plot.

A trainer supplies `batch(step) -> dict` and `loss(batch) -> tensor`; the loop owns everything else, so
every model in Flipbook trains, checkpoints and resumes the same way.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from .checkpoint import atomic_path, load_checkpoint, save_checkpoint


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
    def copy_to_params(self):
        for s, p in zip(self.shadow, self.params):
            p.copy_(s)

    def state_dict(self):
        return {str(i): s for i, s in enumerate(self.shadow)}

    def load_state_dict(self, state):
        for i, s in enumerate(self.shadow):
            s.copy_(state[str(i)])


def save_loss_plot(losses: list[float], path: Path, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def train_loop(models: dict[str, torch.nn.Module], batch: Callable[[int], dict], loss_fn: Callable[[dict], torch.Tensor],
               steps: int, work_dir: str | Path, lr: float = 5e-4, weight_decay: float = 0.01,
               checkpoint_every: int = 250, ema_decay: float | None = 0.999, title: str = "training",
               max_grad_norm: float = 1.0) -> dict:
    """Train the trainable parameters of `models`; resume from work_dir/checkpoint; return the final state.

    With EMA, the models hold the EMA weights when this returns.
    """
    work_dir = Path(work_dir)
    accelerator = Accelerator()
    params = [p for m in models.values() for p in m.parameters() if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: every parameter is frozen")
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_with_warmup(steps))
    ema = EMA(params, ema_decay) if ema_decay else None
    ema_holder = torch.nn.Module()
    if ema:
        for i, s in enumerate(ema.shadow):
            ema_holder.register_buffer(f"p{i}", s, persistent=True)
    ckpt_models = {**models, **({"ema": ema_holder} if ema else {})}
    state = load_checkpoint(work_dir / "checkpoint", ckpt_models, opt) or {"step": 0, "losses": []}
    for _ in range(state["step"]):
        sched.step()
    prepared = accelerator.prepare(*models.values(), opt)
    opt = prepared[-1]
    for m in models.values():
        m.train()
    bar = tqdm(range(state["step"], steps), initial=state["step"], total=steps, desc=title,
               disable=not accelerator.is_local_main_process)
    for step in bar:
        b = {k: v.to(accelerator.device) if torch.is_tensor(v) else v for k, v in batch(step).items()}
        loss = loss_fn(b)
        opt.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if max_grad_norm:
            accelerator.clip_grad_norm_(params, max_grad_norm)
        opt.step()
        sched.step()
        if ema:
            ema.update(step)
        state["losses"].append(round(loss.item(), 5))
        state["step"] = step + 1
        bar.set_postfix(loss=f"{loss.item():.4f}")
        if state["step"] % checkpoint_every == 0 or state["step"] == steps:
            if accelerator.is_main_process:
                save_checkpoint(work_dir / "checkpoint", ckpt_models, opt, state)
                save_loss_plot(state["losses"], work_dir / "loss.png", title)
    for m in models.values():
        m.eval()
    if ema:
        ema.copy_to_params()
    return state
