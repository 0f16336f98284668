CELLS = [
("md", r'''
# 3 · Temporal pyramid renoising

*TPDiff: Temporal Pyramid Video Diffusion Model*, §3.2–3.5, whose equations were lost from our copy of the text;
`engine/diffusion/pyramid.py`'s docstring derives them, and this notebook derives them again on live tensors.

Early in sampling a video is mostly noise, and consecutive frames carry almost the same information. TPDiff
therefore samples the noisiest part at a **low frame rate** and doubles the rate stage by stage: with $K = 3$
stages and $F = 8$ frames, the stages run at 2, 4 and 8 frames. Between stages the frames are repeated and
**renoised**, so that each stage starts exactly from the distribution it was trained on.

Both diffusion forms write a noisy sample as $x_t = a_t\,x_0 + b_t\,\varepsilon$:

* DDIM: $a_t = \sqrt{\bar\alpha_t}$, $b_t = \sqrt{1-\bar\alpha_t}$, $t$ an integer timestep ($-1$ = clean);
* flow matching: $a_\sigma = 1-\sigma$, $b_\sigma = \sigma$.

The engine: `engine/diffusion/pyramid.py` (`DDIMForm`, `FlowForm`, `down`, `up`, `stages`, `stage_target`,
`renoise_coefficients`, `renoise`, `pyramid_sample`).
'''),
("code", r'''
K = 3               # pyramid stages (TPDiff uses 3)
FRAMES = 8          # full-rate frames (a multiple of 2^(K-1))
STEPS = 48          # solver steps, in total over the stages, for the exact toy model
N_SAMPLES = 20_000  # renoised draws for the covariance check
R = 0.7             # frame-to-frame correlation of the toy Gaussian video
BASE_STEPS = 12     # solver steps with the embedded base
GUIDANCE = 4.0
PROMPT = "a large red circle moving right on a black background"
SEED = 0
THREADS = 1
''', "parameters"),
("code", r'''
import math
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from einops import rearrange, reduce, repeat
from IPython.display import display

from setup_notebook import setup  # notebooks/setup_notebook.py

started = setup(THREADS, SEED)    # CPU threads, no "Loading weights" bars in the outputs, the seed, the clock

from engine.diffusion.pyramid import (DDIMForm, FlowForm, down, noise_form, pyramid_sample, renoise,
                                      renoise_coefficients, split_steps, stage_target, stages, up)
from engine.models.base import load_base, train_scheduler
from engine.models.inflate import inflate
from engine.models.text import encode_prompts
from engine.world import prompt_to_spec, render

ddim = DDIMForm(train_scheduler().alphas_cumprod)   # the embedded models' cosine schedule
flow = FlowForm()
FORMS = {"ddim": ddim, "flow": flow}
'''),
("md", r'''
## The two noise forms

Checked by hand: $a_t = \sqrt{\bar\alpha_t}$ and $b_t = \sqrt{1-\bar\alpha_t}$ from the scheduler's
`alphas_cumprod`, and $a_\sigma = 1-\sigma$, $b_\sigma = \sigma$.
'''),
("code", r'''
alphas = train_scheduler().alphas_cumprod
for t in (0, 250, 500, 999):
    a, b = ddim.ab(t)
    assert torch.allclose(a, alphas[t].sqrt()) and torch.allclose(b, (1 - alphas[t]).sqrt())
    print(f"DDIM t={t:3d}: a={a.item():.4f} b={b.item():.4f} SNR={ddim.snr(t):.3g}")
for s in (0.0, 0.25, 0.5, 1.0):
    a, b = flow.ab(s)
    assert float(a) == 1 - s and float(b) == s
    print(f"flow σ={s:.2f}: a={float(a):.2f} b={float(b):.2f} SNR={flow.snr(s):.3g}")
'''),
("md", r'''
## Down and Up on a live clip

$\mathrm{Down}(x, r)$ averages groups of $r$ frames, `'b c (f r) h w -> b c f h w'`; $\mathrm{Up}(y)$ repeats
each frame, `'b c f h w -> b c (f 2) h w'` (nearest). Stage $k$ runs at $F/2^k$ frames; its clean end is
$D_k = \mathrm{Down}(x_0, 2^k)$ and its start, before noise, $U_k = \mathrm{Up}(\mathrm{Down}(x_0, 2^{k+1}))$:
the previous stage's end, repeated.
'''),
("code", r'''
truth = render(prompt_to_spec(PROMPT, SEED), 32, 2.0, FRAMES)       # f c h w in [0, 1]
x0 = rearrange(truth, "f c h w -> 1 c f h w") * 2 - 1
by_hand = (x0[:, :, 0::2] + x0[:, :, 1::2]) / 2                   # average each pair of frames
assert torch.allclose(down(x0, 2), by_hand) and torch.equal(up(by_hand)[:, :, 0::2], up(by_hand)[:, :, 1::2])

fig, axes = plt.subplots(K, FRAMES, figsize=(1.1 * FRAMES, 1.2 * K + 0.3), squeeze=False)
for k in range(K):
    clip = down(x0, 2**k)
    for _ in range(k):
        clip = up(clip)                                             # back to F frames, for display
    for i in range(FRAMES):
        axes[k, i].imshow((clip[0, :, i] / 2 + 0.5).clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
        axes[k, i].set_xticks([]), axes[k, i].set_yticks([])
    axes[k, 0].set_ylabel(f"k={k}: {FRAMES // 2**k} fr.", rotation=0, ha="right", va="center", fontsize=9)
fig.suptitle("Down(x0, 2^k), shown repeated back to full rate", fontsize=10)
fig.tight_layout()
plt.show()
'''),
("md", r'''
## Stages and their windows on the noise schedule

Time is split uniformly into $K$ windows (TPDiff: "uniform split"), visited noisiest first. A stage ends at
$e_k$; the next one would naively start there. But the renoising below only exists if the next stage starts at
**half the signal-to-noise ratio** where the last one ended (we derive why in the next section), so the engine
moves each later start $s'_k$ back to that point: a short stretch of time is solved twice, at two frame rates.

For flow matching, $\sqrt{\mathrm{SNR}(\sigma)} = (1-\sigma)/\sigma = r$, and half the SNR is $r/\sqrt2$:
$s' = 1/(1 + r/\sqrt2)$. For DDIM, $s'$ is the first integer timestep whose SNR is at most half.
'''),
("code", r'''
for name, form in FORMS.items():
    plan, plain = stages(form, K), stages(form, K, corrected=False)
    print(f"{name}: stage  frames   start (uniform)  start (half SNR)        end   SNR(end)/SNR(next start)")
    for i, (st, naive) in enumerate(zip(plan, plain)):
        ratio = f"{form.snr(st.end) / form.snr(plan[i + 1].start):.3f}" if i + 1 < len(plan) else "-"
        print(f"      k={st.k}  {FRAMES // st.stride:5d}   {naive.start:14.4g}  {st.start:16.4g}  {st.end:9.4g}   {ratio}")
    for prev, st in zip(plan, plan[1:]):
        if name == "flow":
            r = (1 - prev.end) / prev.end
            assert math.isclose(st.start, 1 / (1 + r / math.sqrt(2)), rel_tol=1e-9)
        else:
            half = ddim.snr(prev.end) / 2
            assert st.start == next(u for u in range(prev.end + 1, 1000) if ddim.snr(u) <= half)
'''),
("code", r'''
STAGE_COLOURS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3"]


def draw_stages(count=K):
    """log SNR along each form's time axis, with each stage's window (corrected, and uniform for comparison)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    for ax, (name, form) in zip(axes, FORMS.items()):
        ts = torch.arange(0, 1000) if name == "ddim" else torch.linspace(0.001, 0.999, 999)
        snr = [form.snr(int(t) if name == "ddim" else float(t)) for t in ts]
        ax.plot(ts.numpy(), torch.tensor(snr).log10().numpy(), color="black", lw=1)
        plan, plain = stages(form, count), stages(form, count, corrected=False)
        for i, (st, naive) in enumerate(zip(plan, plain)):
            colour = STAGE_COLOURS[st.k % len(STAGE_COLOURS)]
            ax.axvspan(max(st.end, 0), st.start, ymin=0.5, ymax=1, color=colour, alpha=0.35)
            ax.axvspan(max(naive.end, 0), naive.start, ymin=0, ymax=0.5, color=colour, alpha=0.15)
            ax.text((max(st.end, 0) + st.start) / 2, 0.93, f"k={st.k}\n{FRAMES // st.stride} fr.",
                    transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=8)
        ax.set_xlabel("timestep t" if name == "ddim" else "σ"), ax.set_ylabel("log₁₀ SNR")
        ax.set_title(f"{name}: stage windows (top: half-SNR starts; bottom: uniform)", fontsize=9)
        ax.invert_xaxis()                                   # sampling runs from noisy (left) to clean (right)
    fig.tight_layout()
    plt.show()


draw_stages(K)
'''),
("code", r'''
display(widgets.interactive(draw_stages, count=widgets.IntSlider(min=1, max=4, value=K, description="stages K")))
'''),
("md", r'''
## Renoising, derived

Training puts stage $k'$'s start at $\hat x_{s'} = a_{s'}\,U + b_{s'}\,\varepsilon$, $\varepsilon \sim N(0, I)$.
Sampling arrives at the previous stage's end $\hat x_e = a_e\,D + b_e\,\varepsilon'$ with half as many frames, and
$U = \mathrm{Up}(D)$. We look for

$$\hat x_{s'} = c\cdot\mathrm{Up}(\hat x_e) + d\cdot n', \qquad n' \sim N(0, \Sigma'),\quad
\Sigma' = \mathrm{blockdiag}\begin{pmatrix}1 & \rho\\ \rho & 1\end{pmatrix}\ \text{over each repeated pair.}$$

1. **Mean.** $E[c\,\mathrm{Up}(\hat x_e)] = c\,a_e\,U$ must equal $a_{s'}U$: $\;c = a_{s'}/a_e$.
2. **Variance** of one frame: $c^2b_e^2 + d^2 = b_{s'}^2$: $\;d^2 = b_{s'}^2 - c^2b_e^2$.
3. **Correlation** of the two copies of a frame: the repeat gives them the *same* noise, covariance $c^2b_e^2$;
   training has independent noise, covariance $0$: $\;c^2b_e^2 + \rho\,d^2 = 0$, $\;\rho = -c^2b_e^2/d^2$.
4. $\Sigma'$ is a covariance only if $|\rho| \le 1$, i.e. $d^2 \ge c^2b_e^2$, i.e. $b_{s'}^2 \ge 2c^2b_e^2$, i.e.
   $\mathrm{SNR}(s') = a_{s'}^2/b_{s'}^2 \le \tfrac12\,a_e^2/b_e^2 = \tfrac12\,\mathrm{SNR}(e)$. The least noise is
   added at equality: $\rho = -1$, $d = c\,b_e$, $n' = (z, -z)$ per pair. This is why the stages above start at
   half the SNR.

By hand, at every stage boundary of both forms, against the engine's `renoise_coefficients`:
'''),
("code", r'''
for name, form in FORMS.items():
    plan = stages(form, K)
    for prev, nxt in zip(plan, plan[1:]):
        (a_e, b_e), (a_s, b_s) = form.ab(prev.end), form.ab(nxt.start)
        c = a_s / a_e
        d = (b_s**2 - c**2 * b_e**2).sqrt()
        rho = -(c**2 * b_e**2) / d**2
        engine = renoise_coefficients(form, prev, nxt)
        print(f"{name}: {prev.end:>8.4g} -> {nxt.start:<8.4g} c={c.item():.4f} d={d.item():.4f} ρ={rho.item():+.4f}"
              f"   engine: c={engine[0]:.4f} d={engine[1]:.4f} ρ={engine[2]:+.4f}")
        assert torch.allclose(torch.tensor(engine, dtype=torch.float32), torch.stack([c, d, rho]).float(), atol=1e-5)
        assert -1 - 1e-6 <= rho <= 0

plain = stages(flow, K, corrected=False)   # the next stage starting where the last ended: no Σ' exists
try:
    renoise_coefficients(flow, plain[0], plain[1])
    raise AssertionError("renoising to the same SNR should be impossible")
except ValueError as err:
    print("uniform start:", err)
'''),
("md", r'''
## Many renoised samples: the empirical covariance against the target

Take a two-frame clip $D$ at one pixel, draw `N_SAMPLES` stage ends $\hat x_e = a_e D + b_e\varepsilon'$, renoise
each with the engine, and estimate the mean and the $4\times4$ covariance of the four frames. The target is what
training starts from: mean $a_{s'}\,\mathrm{Up}(D)$, covariance $b_{s'}^2 I$. Without renoising (only $c\cdot\mathrm{Up}$)
the copies are perfectly correlated and the variance is too small.

The engine draws $n'$ as $z_1$ for the first copy and $\rho z_1 + \sqrt{1-\rho^2}\,z_2$ for the second; redrawing
$z_1, z_2$ from the same seed by hand reproduces its output exactly.
'''),
("code", r'''
def renoise_statistics(name, n=N_SAMPLES, seed=SEED):
    form = FORMS[name]
    first, second = stages(form, K)[:2]
    g = torch.Generator().manual_seed(seed)
    D = torch.tensor([0.6, -0.2]).view(1, 1, 2, 1, 1)                       # b c f h w: 2 frames, 1 pixel
    (a_e, b_e), (a_s, b_s) = form.ab(first.end), form.ab(second.start)
    x_end = a_e * D + b_e * torch.randn(n, 1, 2, 1, 1, generator=g)
    state = g.get_state()
    x_start = renoise(form, x_end, first, second, generator=g)
    # by hand, from the same random stream
    g.set_state(state)
    c, d, rho = renoise_coefficients(form, first, second)
    z1, z2 = torch.randn(x_end.shape, generator=g), torch.randn(x_end.shape, generator=g)
    pair = rearrange(torch.stack([z1, rho * z1 + math.sqrt(1 - rho**2) * z2]), "r b c f h w -> b c (f r) h w")
    assert torch.allclose(x_start, c * up(x_end) + d * pair, atol=1e-6), "renoise differs from its formula"
    frames = lambda x: rearrange(x, "n 1 f 1 1 -> n f").double()
    target_mean, target_cov = frames(a_s * up(D))[0], torch.eye(4, dtype=torch.float64) * float(b_s) ** 2
    stats = {"target": target_cov, "renoised": torch.cov(frames(x_start).T), "Up only": torch.cov(frames(c * up(x_end)).T)}
    return stats, frames(x_start).mean(0), target_mean, float(b_s) ** 2


fig, axes = plt.subplots(2, 3, figsize=(8.5, 5.4))
for row, name in enumerate(FORMS):
    stats, mean, target_mean, var = renoise_statistics(name)
    tol = 5 * var * math.sqrt(2 / N_SAMPLES)          # ≈ 5 standard errors of a covariance entry
    err = (stats["renoised"] - stats["target"]).abs().max().item()
    print(f"{name}: max |empirical − target| covariance {err:.4f} (tolerance {tol:.4f})\n"
          f"      mean {mean.numpy().round(3)} vs target {target_mean.numpy().round(3)}")
    assert torch.allclose(stats["renoised"], stats["target"], atol=tol)
    assert torch.allclose(mean, target_mean, atol=5 * math.sqrt(var / N_SAMPLES))
    vmax = max(s.abs().max().item() for s in stats.values())
    for ax, (label, cov) in zip(axes[row], stats.items()):
        ax.imshow(cov.numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        for (i, j), value in zip([(i, j) for i in range(4) for j in range(4)], cov.flatten().tolist()):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(value) > 0.6 * vmax else "black")
        ax.set_title(f"{name}: {label}", fontsize=9)
        ax.set_xticks(range(4)), ax.set_yticks(range(4))
fig.suptitle(f"covariance of the 4 frames at the next stage's start ({N_SAMPLES} draws)", fontsize=10)
fig.tight_layout()
plt.show()
'''),
("md", r'''
## Pyramid vs vanilla sampling, with an exact model

To see what renoising does to *samples*, without a training run, we need a model that predicts exactly what a
perfectly trained network would. That exists in closed form for a Gaussian video: every pixel's $F$ frames are
$x_0 \sim N(0, \Sigma)$ with $\Sigma_{ij} = 0.16\,R^{|i-j|}$ (frames correlated by $R$ = `R` at one step).

The stage path of `stage_target` is **linear** in $(x_0, \varepsilon)$: $x_t = A_t x_0 + \beta_t\varepsilon$ and
target $T = B_t x_0 + \gamma_t\varepsilon$, where $A_t, B_t$ are $F_k\times F$ matrices (they contain Down and Up).
We read $A, B, \beta, \gamma$ off the engine by feeding it unit vectors, and the ideal prediction is the Gaussian
conditional mean

$$E[T \mid x_t] = (B\Sigma A^\top + \gamma\beta I)\,(A\Sigma A^\top + \beta^2 I)^{-1}\,x_t .$$

The sampler is the engine's `pyramid_sample`. The model is the one a pyramid **trained** with half-SNR stages
would be; with `renoising=False` the sampler only repeats frames and goes on from the same time (the ablation).
`count = 1` is vanilla sampling.
'''),
("code", r'''
idx = torch.arange(FRAMES)
SIGMA = 0.16 * R ** (idx[:, None] - idx[None]).abs().double()


def times(form, t, n):
    return torch.full((n,), int(t)) if form.name == "ddim" else torch.full((n,), float(t))


def path_maps(form, stage, top, t):
    """A, B (F_k × F) and β, γ of x_t = A x0 + β ε and target T = B x0 + γ ε, read off stage_target."""
    fk = FRAMES // stage.stride
    basis = rearrange(torch.eye(FRAMES), "i (c f h w) -> i c f h w", c=1, h=1, w=1)
    x_part, t_part = stage_target(form, stage, basis, torch.zeros(FRAMES, 1, fk, 1, 1), times(form, t, FRAMES), top)
    noise_x, noise_t = stage_target(form, stage, torch.zeros(1, 1, FRAMES, 1, 1), torch.ones(1, 1, fk, 1, 1),
                                    times(form, t, 1), top)
    A = rearrange(x_part, "i 1 f 1 1 -> f i").double()
    B = rearrange(t_part, "i 1 f 1 1 -> f i").double()
    return A, B, noise_x.flatten()[0].double(), noise_t.flatten()[0].double()


# linearity, checked on random clips and noise for a middle stage of each form
for form in FORMS.values():
    st = stages(form, K)[1]
    t_mid = form.grid(st.start, st.end, 4)[2]
    A, B, beta, gamma = path_maps(form, st, False, t_mid)
    xr, er = torch.randn(5, 1, FRAMES, 1, 1), torch.randn(5, 1, FRAMES // st.stride, 1, 1)
    x_t, target = stage_target(form, st, xr, er, times(form, t_mid, 5), False)
    flat = lambda v: rearrange(v, "n 1 f 1 1 -> n f").double()
    assert torch.allclose(flat(x_t), flat(xr) @ A.T + beta * flat(er), atol=1e-4)
    assert torch.allclose(flat(target), flat(xr) @ B.T + gamma * flat(er), atol=1e-4)
print("stage paths are linear: x_t = A x0 + β ε, target = B x0 + γ ε  ✓")


def exact_model(form, count, evaluations=None):
    plan, cache = stages(form, count), {}

    def model(x, timestep):
        fk = x.shape[2]
        stage = next(s for s in plan if s.stride == FRAMES // fk)
        t = int(timestep) if form.name == "ddim" else float(timestep) / 1000
        if (stage.k, t) not in cache:
            A, B, beta, gamma = path_maps(form, stage, stage is plan[0], t)
            cov_x = A @ SIGMA @ A.T + beta**2 * torch.eye(fk, dtype=torch.float64)
            cov_tx = B @ SIGMA @ A.T + gamma * beta * torch.eye(fk, dtype=torch.float64)
            cache[(stage.k, t)] = (cov_tx @ torch.linalg.inv(cov_x)).float()
        if evaluations is not None:
            evaluations.append(x.shape[0] * fk)           # frames the network would process
        return torch.einsum("ij,bcjhw->bcihw", cache[(stage.k, t)], x)
    return model


SETTINGS = {"vanilla": (1, True), "pyramid": (K, True), "pyramid, no renoising": (K, False)}


def sample(form_name, setting, steps=STEPS, seed=SEED, trace=None):
    form, (count, renoising) = FORMS[form_name], SETTINGS[setting]
    evaluations = []
    callback = None if trace is None else (lambda i, t, x: trace.append(x[0, 0, :, 0, 0].clone()))
    out = pyramid_sample(exact_model(form, count, evaluations), form, (16, 3, FRAMES, 16, 16), count=count,
                         steps=steps, renoising=renoising, generator=torch.Generator().manual_seed(seed),
                         callback=callback)
    cov = torch.cov(rearrange(out, "b c f h w -> f (b c h w)").double())
    return out, cov, sum(evaluations) // 16


results = {}
for name in FORMS:
    for setting in SETTINGS:
        out, cov, cost = sample(name, setting)
        results[name, setting] = (cov, (cov - SIGMA).norm().item() / SIGMA.norm().item(), cost)
        print(f"{name:4} {setting:22} relative covariance error {results[name, setting][1]:.3f}   "
              f"frame-evaluations {cost}")

count_cost = lambda count: sum(n * FRAMES // 2**k for n, k in zip(split_steps(STEPS, count), reversed(range(count))))
for name in FORMS:
    assert results[name, "vanilla"][2] == STEPS * FRAMES == count_cost(1)
    assert results[name, "pyramid"][2] == count_cost(K)
    assert results[name, "pyramid"][1] < 0.15, "the pyramid with renoising must sample the right distribution"
    assert results[name, "pyramid, no renoising"][1] > 0.5, "without renoising the distribution is wrong"
print(f"pyramid cost: {count_cost(K) / count_cost(1):.0%} of vanilla's frame-evaluations")
'''),
("code", r'''
fig, axes = plt.subplots(2, 4, figsize=(11, 5.6))
for row, name in enumerate(FORMS):
    panels = [("target Σ", SIGMA, None)] + [(s, *results[name, s][:2]) for s in SETTINGS]
    for ax, (label, cov, err) in zip(axes[row], panels):
        ax.imshow(cov.numpy(), cmap="viridis", vmin=0, vmax=0.2)
        ax.set_title(f"{name}: {label}" + ("" if err is None else f"\nerror {err:.2f}"), fontsize=9)
        ax.set_xticks(range(FRAMES)), ax.set_yticks(range(FRAMES)), ax.tick_params(labelsize=7)
fig.suptitle("frame covariance of 12,288 sampled pixels (exact model)", fontsize=10)
fig.tight_layout()
plt.show()
'''),
("md", r'''
With renoising the pyramid samples the target covariance as well as vanilla sampling does, at
`count_cost(K) / count_cost(1)` of the frame-evaluations (what the network's cost scales with; attention more
than linearly). Without renoising the repeated frames start identical, with too little noise at the wrong
time, and stay almost perfectly correlated: a stutter, and a wrong variance.

One pixel, followed through sampling: each line is a final frame, drawn from the stage frame it descends from.
At a stage boundary a line splits into two copies; renoising pushes the copies apart (ρ ≈ −1), without it they
stay together.
'''),
("code", r'''
def trajectory_view(form_name="flow", steps=STEPS, seed=SEED):
    """One pixel's frames through pyramid sampling, with and without renoising, and their frame covariance."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), gridspec_kw={"width_ratios": [2, 2, 1.2]})
    for ax, setting in zip(axes, ["pyramid", "pyramid, no renoising"]):
        trace = []
        out, cov, _ = sample(form_name, setting, steps, seed, trace)
        for j in range(FRAMES):
            values = [x[j * len(x) // FRAMES].item() for x in trace]
            ax.plot(values, lw=1, color=plt.cm.viridis(j / FRAMES))
        for n in torch.tensor(split_steps(steps, K)).cumsum(0)[:-1].tolist():
            ax.axvline(n - 0.5, color="gray", ls=":")
        ax.set_title(f"{form_name}, {setting}", fontsize=9), ax.set_xlabel("solver step")
        if setting == "pyramid":
            axes[2].imshow((cov - SIGMA).numpy(), cmap="RdBu_r", vmin=-0.1, vmax=0.1)
            axes[2].set_title(f"covariance − Σ (pyramid)\nerror {(cov - SIGMA).norm() / SIGMA.norm():.2f}", fontsize=9)
    axes[0].set_ylabel("pixel value")
    fig.tight_layout()
    plt.show()


trajectory_view("flow")
'''),
("code", r'''
display(widgets.interactive(trajectory_view,
                            form_name=widgets.ToggleButtons(options=list(FORMS), value="flow", description="form"),
                            steps=widgets.IntSlider(min=3 * K, max=96, step=K, value=STEPS, description="steps"),
                            seed=widgets.IntSlider(min=0, max=9, value=SEED, description="seed")))
'''),
("md", r'''
## The embedded base through the pyramid (zero-shot)

Now a real network: the embedded base, inflated, **zero-shot** (frames independent, notebook 1), sampled with
DDIM through the engine's `pyramid_sample`. Two honest caveats:

* the base was trained on stills with ordinary diffusion, not stage-wise (`engine/training/pyramid.py` trains a
  pyramid model); here the pyramid is a *sampling schedule* applied to a model that never saw it;
* the shipped base predicts $v = a\,\varepsilon - b\,x_0$, and the pyramid sampler takes $\varepsilon$. Since
  $x_t = a\,x_0 + b\,\varepsilon$ and $a^2 + b^2 = 1$: $\;\varepsilon = a\,v + b\,x_t$ (checked below against
  diffusers' `get_velocity`).

What the pyramid does to a zero-shot model is still instructive (one prompt, one seed: this is a look at the
mechanics, not a quality comparison — the two schedules also differ in where DDIM clips $\hat x_0$). The first stage draws $F/4$ independent images;
their copies share everything decided before the split. Without renoising the copies get identical inputs, and
a frame-independent model keeps them identical: groups of $2^{K-1}$ equal frames.
'''),
("code", r'''
base = load_base()
video = inflate(base.unet).eval()
scheduler = train_scheduler(base.scheduler.config.prediction_type)
form = noise_form(base.scheduler)
prediction = base.scheduler.config.prediction_type   # "v_prediction" for the shipped base
assert isinstance(form, DDIMForm)

g = torch.Generator().manual_seed(SEED)
eps = torch.randn(x0.shape, generator=g)
for t in (100, 600, 950):
    v = scheduler.get_velocity(x0, eps, torch.tensor([t]))
    x_t = scheduler.add_noise(x0, eps, torch.tensor([t]))
    a, b = form.ab(t)
    assert torch.allclose(a * v + b * x_t, eps, atol=1e-4), "ε = a·v + b·x_t"

with torch.no_grad():
    text = torch.cat([encode_prompts(base.tokenizer, base.text_encoder, [p]) for p in ("", PROMPT)])


@torch.no_grad()
def base_model(x, timestep):
    """Classifier-free guided ε from the v-predicting base, for the pyramid sampler."""
    uncond, cond = video(torch.cat([x, x]), timestep, text.repeat_interleave(len(x), 0)).chunk(2)
    guided = uncond + GUIDANCE * (cond - uncond)
    if prediction == "epsilon":
        return guided
    a, b = form.ab(int(timestep))
    return a * guided + b * x                                # ε = a·v + b·x_t


base_clips, base_costs = {"ground truth": truth}, {}
for setting, (count, renoising) in SETTINGS.items():
    tic = time.time()
    frames_seen = []
    out = pyramid_sample(base_model, form, (1, 3, FRAMES, 32, 32), count=count, steps=BASE_STEPS, renoising=renoising,
                         generator=torch.Generator().manual_seed(SEED),
                         callback=lambda i, t, x: frames_seen.append(x.shape[2]))
    base_clips[setting] = (rearrange(out[0], "c f h w -> f c h w") / 2 + 0.5).clamp(0, 1)
    base_costs[setting] = (sum(frames_seen), time.time() - tic)
    print(f"{setting:22} frames per step {frames_seen}  ({sum(frames_seen)} frame-evaluations, "
          f"{time.time() - tic:.1f} s)")

stutter = base_clips["pyramid, no renoising"]
groups = rearrange(stutter, "(g r) c h w -> g r c h w", r=2 ** (K - 1))
print("no renoising: max |difference| inside each group of", 2 ** (K - 1), "frames:",
      (groups - groups[:, :1]).abs().max().item())
assert torch.allclose(groups, groups[:, :1].expand_as(groups), atol=1e-5), "zero-shot copies stay identical"
with_renoise = rearrange(base_clips["pyramid"], "(g r) c h w -> g r c h w", r=2)
print("with renoising: mean |difference| between the copies of a pair:",
      (with_renoise[:, 0] - with_renoise[:, 1]).abs().mean().item())
'''),
("code", r'''
def show_strips(clips, costs, title, frames):
    """One row a clip (f c h w in [0, 1]), the given frames as columns; rows that cost something say how much."""
    fig, axes = plt.subplots(len(clips), len(frames), figsize=(1.1 * len(frames), 1.15 * len(clips) + 0.3),
                             squeeze=False)
    for r, (name, clip) in enumerate(clips.items()):
        for c, i in enumerate(frames):
            axes[r, c].imshow(clip[i].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(f"f={i}", fontsize=8)
        label = name if name not in costs else f"{name}\n{costs[name][0]} frame-evals"
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.show()


def show_base():
    show_strips(base_clips, base_costs, f"embedded base, zero-shot, DDIM {BASE_STEPS} steps: vanilla vs a {K}-stage "
                "pyramid", range(FRAMES))


show_base()
'''),
("md", r'''
## The pyramid-trained models

The embedded pyramid folders (`assets/modes/pyramid-ddim`, `pyramid-flow`; `flipbook train-pyramid`) tuned the
base's temporal blocks stage-wise for 16 frames at 4 fps, and each has a vanilla twin trained with the same code
and budget (`--stages 1`). Each form sampled three ways, same prompt, noise seed and total steps: its vanilla twin,
the pyramid, and the pyramid without renoising. Timing and the frame-evaluations are the point here (TPDiff
Table 1); `bench/pyramid_bench.py` measures quality over many prompts.
'''),
("code", r'''
from engine.metrics import tcc
from engine.pipelines.load import keyframe_pipeline
from engine.tuning import ASSET as MODES

TRAINED = {"ddim": "pyramid-ddim", "flow": "pyramid-flow"}
truth16 = render(prompt_to_spec(PROMPT, SEED), 32, 4.0, 16)   # the pyramid folders' clips: 16 frames at 4 fps
trained_clips, trained_costs = {"ground truth": truth16}, {}
for name, folder in TRAINED.items():
    runs = {f"{name} vanilla": (MODES / f"{folder}-vanilla", None, True),
            f"{name} pyramid": (MODES / folder, K, True), f"{name} pyramid, no renoising": (MODES / folder, K, False)}
    for label, (path, count, renoising) in runs.items():
        if not (path / "mode.json").is_file():
            print(f"no {path}: train it with flipbook train-pyramid (see the README)")
            continue
        pipe, _ = keyframe_pipeline("ff-conv1d-attn1d-blocks", name, tuned=path)
        pipe.set_progress_bar_config(disable=True)
        seen = []
        tic = time.time()
        clip = pipe(PROMPT, num_frames=16, num_inference_steps=BASE_STEPS, guidance_scale=GUIDANCE, pyramid=count,
                    renoise=renoising, generator=torch.Generator().manual_seed(SEED),
                    callback_on_step_end=lambda p, i, t, kw: seen.append(kw["latents"].shape[2]) or {}).frames[0]
        trained_costs[label] = (sum(seen), time.time() - tic)
        trained_clips[label] = clip
        score = tcc(clip[None].permute(0, 2, 1, 3, 4), truth16[None].permute(0, 2, 1, 3, 4)).item()
        print(f"{label:28} {sum(seen):4} frame-evaluations  {time.time() - tic:5.1f} s   TCC vs ground truth {score:.3f}")
for name in TRAINED:
    if f"{name} pyramid" in trained_costs:
        ratio = trained_costs[f"{name} vanilla"][0] / trained_costs[f"{name} pyramid"][0]
        print(f"{name}: the pyramid evaluates {ratio:.2f}× fewer frames than vanilla")
'''),
("code", r'''
def show_trained(every=2):
    show_strips(trained_clips, trained_costs, f"pyramid-trained folders, {BASE_STEPS} steps in all, every "
                f"{every}nd frame", range(0, 16, every))


show_trained()
'''),
("md", r'''
## What we saw

* The renoising coefficients follow from three moment conditions: $c = a_{s'}/a_e$,
  $d^2 = b_{s'}^2 - c^2b_e^2$, $\rho = -c^2b_e^2/d^2$ (asserted against `renoise_coefficients`), and a valid
  $\rho$ forces each stage to start at half the SNR where the last ended (asserted against `stages`).
* Renoised samples have the training start's mean and covariance (Monte Carlo, asserted).
* With an exact model, the pyramid samples the right video distribution at a fraction of the frame-evaluations;
  skipping renoising breaks it (asserted), for DDIM and flow matching alike.
* On the zero-shot base the pyramid ties frames together through their shared low-rate ancestor; without
  renoising the copies never separate. A pyramid-**trained** model (`engine.training.pyramid.train_pyramid`) is
  what TPDiff samples this way: the embedded ones evaluate (4 + 8 + 16)/3 = 9⅓ frames a step on average instead
  of 16.

Back to the [index](00_index.ipynb).
'''),
("code", r'''
print(f"notebook ran in {time.time() - started:.0f} s")
'''),
]
