"""TPDiff's temporal pyramid (§3). The paper's text lost its equations; they are derived here (notebook 3 derives
them again on live tensors and checks them by Monte Carlo).

Both diffusion forms write a noisy sample as x_t = a_t·x_0 + b_t·ε; a `NoiseForm` gives a and b:
DDIM (a = √ᾱ_t, b = √(1−ᾱ_t), t an integer timestep, −1 meaning clean) and flow matching (a = 1−σ, b = σ).
Time runs from noisy (large) to clean (small) in both.

K stages; stage k holds F/2^k frames, so the first stage visited (k = K−1) is the slowest and the last
(k = 0) is full rate. Stage k runs from its start s_k to its end e_k. Between stages the end of one is
upsampled (each frame repeated) and renoised to the start of the next with noise that is anti-correlated
within each repeated pair, so the next stage begins exactly where training puts it; that is only possible
if the next stage starts at half the signal-to-noise ratio where the last one ended, which `stages` builds in.

Training (stage-wise diffusion; `stage_target`). One noise ε at the stage's F/2^k frames serves both ends: the
start x̂_s = a_s·Up(Down(x_0, 2^{k+1})) + b_s·ε and the end x̂_e = a_e·Down(x_0, 2^k) + b_e·ε.
- DDIM: with ε constant within the stage, x_t = (a_t/a_s)·x̂_s + (b_t − a_t·b_s/a_s)·ε_k; putting t = e gives the
  stage's noise ε_k = (x̂_e − (a_e/a_s)·x̂_s) / (b_e − a_e·b_s/a_s), the regression target at a t drawn in the stage.
- Flow matching: each stage is a flow of its own, x_τ = τ·x̂_e + (1−τ)·x̂_s in local time τ, target x̂_e − x̂_s.
- Data-noise alignment keeps "ε constant within the stage" nearly true: within a batch, each clip gets the noise
  `linear_sum_assignment` pairs it with under the cost ‖x_i − ε_j‖² (engine/diffusion/align.py).

Sampling (`pyramid_sample`). Pure noise at F/2^{K−1} frames; each stage is solved with the ordinary sampler; between
stages the end is upsampled and renoised, x̂_{s'} = c·Up(x̂_e) + d·n′ with n′ ~ N(0, Σ′), Σ′ block-diagonal over
the repeated frame pairs with blocks [[1, ρ], [ρ, 1]] (`renoise`). Matching the training start point:
- mean: c·a_e = a_{s'}, so c = a_{s'}/a_e;
- covariance: c²b_e² + d² = b_{s'}² on the diagonal and c²b_e² + ρ·d² = 0 between the two copies (they must
  decorrelate);
- Σ′ is a covariance only if |ρ| ≤ 1, so b_{s'}² ≥ 2·c²·b_e². The least added noise is ρ = −1 (n′ = (z, −z) per
  pair) with d = c·b_e, and it fixes where the next stage starts: b_{s'} = √2·(a_{s'}/a_e)·b_e, half the
  signal-to-noise ratio at which the last stage ended.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from einops import reduce, repeat

from .loop import denoise_loop


def down(x: torch.Tensor, r: int) -> torch.Tensor:
    """Average groups of r frames: 'b c (f r) h w -> b c f h w'."""
    if x.shape[2] % r:
        raise ValueError(f"{x.shape[2]} frames cannot be grouped by {r}")
    return reduce(x, "b c (f r) h w -> b c f h w", "mean", r=r)


def up(x: torch.Tensor) -> torch.Tensor:
    """Repeat every frame twice (nearest): 'b c f h w -> b c (f 2) h w'."""
    return repeat(x, "b c f h w -> b c (f r) h w", r=2)


def randn(shape: tuple, generator: torch.Generator | list[torch.Generator] | None = None) -> torch.Tensor:
    """fp32 CPU noise from one generator, or one generator per sample (a list, as diffusers pipelines take)."""
    if isinstance(generator, list):
        return torch.cat([torch.randn((1, *shape[1:]), generator=g) for g in generator])
    return torch.randn(shape, generator=generator)


def noise_form(scheduler) -> "NoiseForm":
    """The form a diffusers scheduler samples: flow matching for the flow schedulers, DDIM (ᾱ) otherwise."""
    if "FlowMatch" in type(scheduler).__name__:
        return FlowForm()
    return DDIMForm(scheduler.alphas_cumprod)


def epsilon_from_v(alphas_cumprod: torch.Tensor, x: torch.Tensor, timestep, v: torch.Tensor) -> torch.Tensor:
    """ε from a v prediction at x_t = a·x_0 + b·ε (v = a·ε − b·x_0): ε = a·v + b·x_t."""
    ac = alphas_cumprod.to(x.device)[torch.as_tensor(timestep, device=x.device).long()].to(x.dtype)
    a, b = ac.sqrt(), (1 - ac).sqrt()
    shape = (-1,) + (1,) * (x.ndim - 1) if a.ndim else ()
    return a.reshape(shape) * v + b.reshape(shape) * x


class NoiseForm:
    """a(t), b(t) of x_t = a·x_0 + b·ε, the model's timestep for t, and the pure-noise and clean ends."""

    name: str
    noisiest: float
    clean: float

    def ab(self, t) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def timestep(self, t) -> torch.Tensor:
        raise NotImplementedError

    def snr(self, t) -> float:
        a, b = self.ab(t)
        return float(a**2 / b**2) if b > 0 else math.inf


class DDIMForm(NoiseForm):
    name = "ddim"

    def __init__(self, alphas_cumprod: torch.Tensor):
        self.alphas_cumprod = alphas_cumprod.double()
        self.noisiest, self.clean = len(alphas_cumprod) - 1, -1

    def ab(self, t):
        t = torch.as_tensor(t, dtype=torch.long)
        ab = torch.where(t >= 0, self.alphas_cumprod[t.clamp(min=0)], torch.ones((), dtype=torch.float64))
        return ab.sqrt().float(), (1 - ab).sqrt().float()

    def timestep(self, t):
        return torch.as_tensor(t, dtype=torch.long).clamp(min=0)

    def half_snr_after(self, t: int) -> int:
        """The first timestep after t whose SNR is at most half of t's."""
        target = self.snr(t) / 2
        later = [u for u in range(int(t) + 1, self.noisiest + 1) if self.snr(u) <= target]
        if not later:
            raise ValueError(f"no timestep has half the SNR of t={t}; use fewer stages")
        return later[0]

    def grid(self, start: int, end: int, steps: int) -> list[int]:
        """steps + 1 times from start to end, evenly spaced (integers, start and end included)."""
        return [round(start + (end - start) * i / steps) for i in range(steps + 1)]


class FlowForm(NoiseForm):
    name = "flow"
    noisiest, clean = 1.0, 0.0

    def ab(self, t):
        t = torch.as_tensor(t, dtype=torch.float32)
        return 1 - t, t

    def timestep(self, t):
        return torch.as_tensor(t, dtype=torch.float32) * 1000  # diffusers' flow models see σ·1000

    def half_snr_after(self, t: float) -> float:
        r = (1 - t) / t  # √SNR at t; the start wanted has √SNR = r/√2
        return 1 / (1 + r / math.sqrt(2))

    def grid(self, start: float, end: float, steps: int) -> list[float]:
        return [start + (end - start) * i / steps for i in range(steps + 1)]


@dataclass(frozen=True)
class Stage:
    k: int          # frames at F / 2**k
    start: float    # noisier end (the stage's x̂_s)
    end: float      # cleaner end (x̂_e)

    @property
    def stride(self) -> int:
        return 2**self.k


def stages(form: NoiseForm, count: int = 3, corrected: bool = True) -> list[Stage]:
    """The stages in the order sampling visits them (k = count−1 first), uniformly split in time.

    With `corrected`, each later stage starts at half the SNR where the previous one ended (the renoising
    constraint); without, it starts where the previous one ended (the no-renoising ablation).
    """
    if count < 1:
        raise ValueError("a pyramid needs at least one stage")
    span = form.noisiest - form.clean
    bounds = [form.clean + span * k / count for k in range(count + 1)]
    if form.name == "ddim":
        bounds = [round(b) for b in bounds]
    out = []
    for k in reversed(range(count)):
        start = bounds[k + 1]
        if k < count - 1 and corrected:
            start = form.half_snr_after(out[-1].end)
        out.append(Stage(k, start, bounds[k]))
    return out


def stage_clips(x0: torch.Tensor, stage: Stage, top: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """What a stage starts from and ends at, before noise: (U, D) at F/2^k frames.

    D = Down(x0, 2^k); U = Up(Down(x0, 2^{k+1})), or D itself for the first (top) stage, which starts from
    pure noise and is ordinary diffusion at the lowest frame rate.
    """
    d = down(x0, stage.stride)
    return (d if top else up(down(x0, 2 * stage.stride))), d


def stage_target(form: NoiseForm, stage: Stage, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor,
                 top: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage-wise diffusion: the noisy input x_t at per-sample times t in the stage, and the regression target.

    DDIM: the straight DDIM path from x̂_s = a_s·U + b_s·ε to x̂_e = a_e·D + b_e·ε, whose constant noise is
    ε_k = (x̂_e − (a_e/a_s)·x̂_s) / (b_e − a_e·b_s/a_s); written here without dividing by a tiny a_s:
    x_t = a_t·U + b_t·ε + a_e·w_t·(D − U), w_t = (a_s·b_t − a_t·b_s)/(a_s·b_e − a_e·b_s), ε_k = ε + a_e·a_s·(D − U)/(a_s·b_e − a_e·b_s).
    Flow: x_t on the line from x̂_s to x̂_e, target dx/dσ = (x̂_e − x̂_s)/(σ_e − σ_s) (what diffusers' flow
    scheduler integrates; the vanilla one-stage case is the usual ε − x0).
    """
    u, d = stage_clips(x0, stage, top)
    shape = (-1,) + (1,) * (x0.ndim - 1)
    a_s, b_s = form.ab(stage.start)
    a_e, b_e = form.ab(stage.end)
    a_t, b_t = (v.view(shape).to(x0) for v in form.ab(t))
    if form.name == "ddim":
        den = a_s * b_e - a_e * b_s
        w = (a_s * b_t - a_t * b_s) / den
        return a_t * u + b_t * noise + a_e * w * (d - u), noise + a_e * a_s * (d - u) / den
    x_s, x_e = a_s * u + b_s * noise, a_e * d + b_e * noise
    tau = (stage.start - t.view(shape).to(x0)) / (stage.start - stage.end)
    return (1 - tau) * x_s + tau * x_e, (x_e - x_s) / (stage.end - stage.start)


def renoise_coefficients(form: NoiseForm, previous: Stage, following: Stage) -> tuple[float, float, float]:
    """(c, d, ρ) of x̂_{s'} = c·Up(x̂_e) + d·n′ (see `renoise`): c = a_{s'}/a_e matches the mean,
    d² = b_{s'}² − c²b_e² the variance, ρ = −c²b_e²/d² cancels the correlation the repeat made.

    Raises if no covariance does it (|ρ| > 1: the next stage starts above half the SNR where the last ended).
    """
    a_e, b_e = form.ab(previous.end)
    a_s, b_s = form.ab(following.start)
    c = float(a_s / a_e)
    d2 = float(b_s**2 - (c * b_e) ** 2)
    rho = -float((c * b_e) ** 2) / d2 if d2 > 0 else -math.inf
    if not -1 - 1e-6 <= rho <= 0:
        raise ValueError(f"cannot renoise from t={previous.end} to t={following.start}: the next stage must start "
                         "at no more than half the signal-to-noise ratio (build the stages with corrected=True)")
    return c, math.sqrt(d2), max(rho, -1.0)


def renoise(form: NoiseForm, x_end: torch.Tensor, previous: Stage, following: Stage,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Upsample a stage's end x̂_e and renoise it to the next stage's start x̂_{s'}.

    x̂_{s'} = c·Up(x̂_e) + d·n′ with c = a_{s'}/a_e and n′ ~ N(0, Σ′), Σ′ block-diagonal over each repeated
    pair with blocks [[1, ρ], [ρ, 1]]: d² = b_{s'}² − c²b_e² keeps the variance, ρ = −c²b_e²/d² removes the
    correlation the repeat made. Needs SNR(s') ≤ SNR(e)/2 (then |ρ| ≤ 1), which `stages` guarantees.
    n′ is drawn as z₁ for the first copy and ρ·z₁ + √(1−ρ²)·z₂ for the second (z₁ then z₂ from `generator`).
    """
    c, d, rho = renoise_coefficients(form, previous, following)
    z1 = randn(x_end.shape, generator).to(x_end)  # drawn in fp32 on the CPU: the same on any device
    z2 = randn(x_end.shape, generator).to(x_end)
    pair = torch.stack([z1, rho * z1 + math.sqrt(1 - rho**2) * z2], dim=3)  # b c f 2 h w
    noise = pair.flatten(2, 3)  # each frame's two copies: 'b c f r h w -> b c (f r) h w'
    return c * up(x_end) + d * noise


def split_steps(total: int, count: int) -> list[int]:
    """Share `total` solver steps among `count` stages as evenly as possible (at least one each)."""
    if total < count:
        raise ValueError(f"{total} steps cannot cover {count} stages; give at least one step a stage")
    return [total // count + (i < total % count) for i in range(count)]


def stage_step(form: NoiseForm, x: torch.Tensor, pred: torch.Tensor, t, t_next, clip: bool = False) -> torch.Tensor:
    """One solver step inside a stage, from t to t_next (which need not reach clean).

    DDIM: x̂ = (x − b·ε)/a, then x' = a'·x̂ + b'·ε (with `clip`, x̂ clipped to [−1, 1] and ε recomputed from it,
    diffusers' `use_clipped_model_output`); flow: an Euler step of the predicted dx/dσ. These are the updates diffusers' DDIM and
    flow-Euler schedulers take; they are written out because those schedulers only step along their own grids
    to t = 0, and a stage ends part-way.
    """
    if form.name == "flow":
        return x + (t_next - t) * pred
    (a, b), (a2, b2) = form.ab(t), form.ab(t_next)
    x_hat = (x - b * pred) / a
    if clip:  # and the ε that goes with the clipped estimate, so that the step stays on one DDIM path
        x_hat = x_hat.clamp(-1, 1)
        pred = (x - a * x_hat) / b
    return a2 * x_hat + b2 * pred


@torch.no_grad()
def begin_part_way(form: NoiseForm, plan: list[Stage], steps: list[int], strength: float) -> tuple[int, float, int]:
    """Where sampling from a clip carried along a motion plan starts, the clip noised to `strength` (0 clean, 1 the
    noisiest): (the stage, in visiting order; its time; its share of the steps). Always the full-rate stage (the
    last), at that time or at the stage's start if that is less noisy: a lower-rate stage averages frames, and
    with them the plan's motion, away (entering at 0.7 in the lowest-rate stage of 3 took motion accuracy 0.94 →
    0.56 on 16 validation prompts; the full-rate stage keeps vanilla sampling's 0.94: engine/motion/README.md)."""
    i, stage = len(plan) - 1, plan[-1]
    t = min(form.clean + (form.noisiest - form.clean) * strength, stage.start)
    t = round(t) if form.name == "ddim" else t
    share = (t - stage.end) / (stage.start - stage.end) if stage.start != stage.end else 1.0
    return i, t, max(1, round(steps[i] * share))


def pyramid_steps(form: NoiseForm, count: int, steps: int, renoising: bool = True,
                  strength: float | None = None) -> int:
    """The solver steps `pyramid_sample` takes (what progress counts): all `steps`, or from a clip carried along a
    motion plan to `strength`, the full-rate stage's share from where it begins (`begin_part_way`)."""
    if strength is None:
        return steps
    return begin_part_way(form, stages(form, count, corrected=renoising), split_steps(steps, count), strength)[2]


def pyramid_sample(model, form: NoiseForm, shape: tuple, count: int = 3, steps: int = 24, renoising: bool = True,
                   generator: torch.Generator | None = None, callback=None, stop=None, device=None,
                   dtype=None, begin: tuple[torch.Tensor, torch.Tensor, float] | None = None) -> torch.Tensor:
    """Sample (B, C, F, H, W) through the pyramid: `model(x, timestep)` predicts ε (DDIM) or dx/dσ (flow).

    Starts from pure noise at F/2^(count−1) frames; solves each stage with its share of the steps; between
    stages upsamples and renoises (or, with renoising=False, only upsamples and goes on from the same time:
    the ablation). `callback(i, t, x)` sees every step and may return replacement latents; `stop()` true
    ends sampling after the current step. Noise is drawn in fp32 on the CPU, then moved to `device`/`dtype`.
    `begin` = (x0, noise, strength): start part-way from clip x0 (B, C, F, H, W) and noise like it (a motion
    plan's frame method), in the full-rate stage (`begin_part_way`), x0 noised at full rate to its time.
    """
    b, c, f, h, w = shape
    if f % 2 ** (count - 1):
        raise ValueError(f"{f} frames cannot make a {count}-stage pyramid; use a multiple of {2 ** (count - 1)}")
    plan, shares = stages(form, count, corrected=renoising), split_steps(steps, count)
    first, t0 = 0, plan[0].start
    if begin is None:
        x = randn((b, c, f // plan[0].stride, h, w), generator).to(device=device, dtype=dtype)
        x = x * form.ab(plan[0].start)[1]
    else:  # part-way: the clip noised at full rate to the full-rate stage's time (SDEdit through its last stage)
        x0, noise, strength = begin
        first, t0, shares[first] = begin_part_way(form, plan, shares, strength)
        x = stage_target(form, plan[first], x0.float(), noise.float(), torch.tensor([t0]), top=True)[0]
        x = x.to(device=device, dtype=dtype)
    i = 0
    on_step = None if callback is None else (lambda i, span, x: callback(i, span[0], x))
    for n, stage in list(zip(shares, plan))[first:]:
        if stage is not plan[first]:
            x = renoise(form, x, previous, stage, generator) if renoising else up(x)
        times = form.grid(t0 if stage is plan[first] else stage.start, stage.end, n)
        clip = form.name == "ddim" and stage is plan[0]
        solve = lambda i, span, x, pred: stage_step(form, x, pred, *span, clip=clip)  # noqa: E731
        x = denoise_loop(x, zip(times, times[1:]), lambda x, span: model(x, form.timestep(span[0])), solve, on_step,
                         stop, i)  # the stage's steps, (t, t_next) each, numbered on from the stage before
        i += len(times) - 1
        if stop is not None and stop():
            return x if x.shape[2] == f else repeat(x, "b c f h w -> b c (f r) h w", r=f // x.shape[2])
        previous = stage
    return x
