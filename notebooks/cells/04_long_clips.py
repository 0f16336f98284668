CELLS = [
("md", r'''
# 4 · Long clips: context windows and FreeNoise

*FreeNoise: Tuning-Free Longer Video Diffusion via Noise Rescheduling* (Qiu et al., ICLR 2024), §3.2–3.3, and the
sliding contexts of AnimateDiff's community samplers.

The embedded keyframe models were trained on $W = 8$ frames. Their temporal layers see every frame of the clip at
once, so a clip of $F > W$ frames is out of what they learned. **Context windows** keep the model in its trained
length: at every denoising step each window of $W$ frames is predicted on its own, and a frame's prediction is the
weighted mean over the windows that hold it,

$$\hat\epsilon_f = \frac{\sum_{k:\,f \in w_k} \lambda_{f - s_k}\,\hat\epsilon^{(k)}_{f - s_k}}
{\sum_{k:\,f \in w_k} \lambda_{f - s_k}}, \qquad \lambda_j = \min(j + 1,\; W - j),$$

with window $k$ starting at frame $s_k$ and weights $\lambda$ that rise from a window's edges to its middle, so
that where two windows meet each hands over to the other gradually. Windows that start from independent noise
drift apart in content; FreeNoise **reschedules the noise**: the first $W$ frames get fresh noise, and every later
run of $W - O$ frames ($O$ the overlap) is the noise of the frames one window back, shuffled.

The engine: `engine/diffusion/windows.py` (`context_windows`, `fusion_weights`, `windowed`, `rescheduled_noise`);
`TextToVideoPipeline(..., context_window=, context_overlap=, long_method=)` runs them inside the one denoising loop
(`engine/diffusion/loop.py`); `flipbook generate --frames 64` uses them by default.

Below: the windows and the weights derived by hand and checked against the engine; the rescheduled noise's
statistics by Monte Carlo; a live long clip from the embedded model, windows against independent chunks, and
where their seams show.
'''),
("code", r'''
FRAMES = 24         # frames of the live clip (3× the trained length)
WINDOW = 8          # frames the model sees at once (what it was trained on)
OVERLAP = 4         # frames two windows in a row share
STEPS = 12          # sampling steps of the live clip
DRAWS = 4000        # Monte Carlo draws of rescheduled noise
SEED = 0
THREADS = 1
PROMPT = "a yellow star bouncing on a sunset background"
''', "parameters"),
("code", r'''
import math
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from setup_notebook import setup  # notebooks/setup_notebook.py

started = setup(THREADS, SEED)    # CPU threads, no "Loading weights" bars in the outputs, the seed, the clock

from engine.diffusion.windows import context_windows, fusion_weights, rescheduled_noise, windowed
from engine.generate import default_mode, motion_plan_for
from engine.pipelines.load import keyframe_pipeline
'''),
("md", r'''
## The windows

The fewest windows of $W$ frames that cover $F$ frames with at least $O$ shared by each two in a row: each new
window adds at most $W - O$ frames, so

$$n = \Big\lceil \frac{F - W}{W - O} \Big\rceil + 1, \qquad s_k = \operatorname{round}\Big(k\,\frac{F - W}{n - 1}\Big),$$

spread evenly from the first frame to the last (so the overlaps are as equal as whole frames allow, each $\ge O$).
'''),
("code", r'''
def windows_by_hand(frames, window, overlap):
    if frames <= window:
        return [range(frames)]
    n = math.ceil((frames - window) / (window - overlap)) + 1
    return [range(s, s + window) for s in (round(k * (frames - window) / (n - 1)) for k in range(n))]


for f, w, o in [(FRAMES, WINDOW, OVERLAP), (64, 8, 4), (23, 8, 2), (12, 8, 0), (100, 16, 8), (5, 8, 4)]:
    assert windows_by_hand(f, w, o) == context_windows(f, w, o), (f, w, o)
spans = context_windows(FRAMES, WINDOW, OVERLAP)
print(f"{FRAMES} frames, windows of {WINDOW} overlapping by ≥ {OVERLAP}:",
      [(s.start, s.stop - 1) for s in spans])
'''),
("md", r'''
## Fusing the windows' predictions

Each frame's prediction is the $\lambda$-weighted mean over its windows. Two checks against `windowed`: a prediction
that treats every frame on its own ($\hat\epsilon_f = g(x_f)$) fuses back to itself exactly, whatever the windows;
and a prediction that says *which window it ran in* gives, frame by frame, the weighted mean of the window indices
computed by hand.
'''),
("code", r'''
lam = fusion_weights(WINDOW)
assert torch.equal(lam, torch.tensor([min(j + 1, WINDOW - j) for j in range(WINDOW)], dtype=torch.float32))

x = torch.randn(1, 4, FRAMES, 3, 3)
framewise = lambda x, t: torch.tanh(x) * 3 - t
assert torch.allclose(windowed(framewise, WINDOW, OVERLAP)(x, 0.5), framewise(x, 0.5), atol=1e-6)

calls = iter(range(len(spans)))
which = lambda x, t: torch.full_like(x, float(next(calls)))  # the window it ran in
fused = windowed(which, WINDOW, OVERLAP)(torch.zeros(1, 1, FRAMES, 1, 1), 0)[0, 0, :, 0, 0]
by_hand = torch.zeros(FRAMES)
for f in range(FRAMES):
    held = [(k, lam[f - s.start]) for k, s in enumerate(spans) if f in s]
    by_hand[f] = sum(k * l for k, l in held) / sum(l for _, l in held)
assert torch.allclose(fused, by_hand, atol=1e-6)


def windows_plot(frames=FRAMES, window=WINDOW, overlap=OVERLAP):
    """Each window's share of every frame's prediction (its weight over the sum of weights there)."""
    overlap = min(overlap, window - 1)
    spans = context_windows(frames, window, overlap)
    lam = fusion_weights(min(window, frames))
    total = torch.zeros(frames)
    for s in spans:
        total[s.start:s.stop] += lam
    fig, ax = plt.subplots(figsize=(9, 2.2))
    for k, s in enumerate(spans):
        share = torch.zeros(frames)
        share[s.start:s.stop] = lam / total[s.start:s.stop]
        ax.plot(range(frames), share, marker=".", label=f"window {k}")
    ax.set(xlabel="frame", ylabel="share", title=f"{len(spans)} windows of {window}, overlap ≥ {overlap}")
    ax.legend(fontsize=7, ncol=4)
    plt.show()


windows_plot()
'''),
("md", r'''
## FreeNoise's rescheduled noise

Every frame's noise is still one $\mathcal N(0, I)$ draw (the same draws, reordered), so each frame keeps mean 0
and variance 1. What changes is which frames share a draw: a frame after the first window is a copy of a frame one
window back, so every window is a shuffle of the first window's noise and the windows start from one layout.
Monte Carlo over `DRAWS` clips of one value a frame:
'''),
("code", r'''
g = torch.Generator().manual_seed(SEED)
noise = torch.randn(DRAWS, 1, FRAMES, 1, 1, generator=g)
shuffled = torch.stack([rescheduled_noise(noise[i:i + 1], WINDOW, OVERLAP, g)[0] for i in range(DRAWS)])
per_frame = shuffled[:, 0, :, 0, 0]                                   # DRAWS × FRAMES
mean, var = per_frame.mean(0), per_frame.var(0)
tolerance = 5 / math.sqrt(DRAWS)
assert mean.abs().max() < tolerance and (var - 1).abs().max() < 5 * math.sqrt(2 / DRAWS)
assert torch.equal(shuffled[:, :, :WINDOW], noise[:, :, :WINDOW])    # the first window as drawn
one = rescheduled_noise(noise[:1], WINDOW, OVERLAP, g)[0, 0, :, 0, 0]
assert set(one.tolist()) <= set(noise[0, 0, :WINDOW, 0, 0].tolist())  # every later frame is a first-window draw

# each later frame is exactly one of the first window's draws (which one, shuffled per clip): its correlations
# with the first window's frames sum to 1
corr = torch.corrcoef(per_frame.T)
to_first = corr[WINDOW:, :WINDOW].sum(1)
assert (to_first - 1).abs().max() < 10 / math.sqrt(DRAWS)
plt.figure(figsize=(3.4, 3))
plt.imshow(corr, cmap="viridis", vmin=0, vmax=1)
plt.title("frame-to-frame correlation")
plt.colorbar()
plt.show()
print(f"max |mean| {mean.abs().max():.3f}, variance {var.min():.3f}…{var.max():.3f}; correlations of the later "
      f"frames with the first window's sum to {to_first.min():.3f}…{to_first.max():.3f}")
'''),
("md", r'''
## A live long clip

The embedded keyframe model, `FRAMES` frames covering the world's 4 seconds (so at `FRAMES / 4` fps), the prompt's
motion plan across the whole clip, sampled two ways: **windows** (fused at every step, as above) and **chunks**
(independent windows of 8, the baseline). A forward hook checks that the UNet never sees more than a window. Then
the change between consecutive frames: where chunks meet, the clip jumps; fused windows hand over smoothly.
'''),
("code", r'''
pipe, _ = keyframe_pipeline(default_mode(), "dpm++")
seen = []
hook = pipe.unet.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[2]))
fps = FRAMES / 4
plan = motion_plan_for(PROMPT, FRAMES, fps, SEED)
clips = {}
for method in ("windows", "chunks"):
    clips[method] = pipe(PROMPT, num_frames=FRAMES, num_inference_steps=STEPS, motion_plan=plan,
                         context_window=WINDOW, context_overlap=OVERLAP, long_method=method,
                         generator=torch.Generator().manual_seed(SEED)).frames[0]      # F 3 H W
hook.remove()
assert max(seen) <= WINDOW and all(c.shape[0] == FRAMES for c in clips.values())

fig, axes = plt.subplots(2, 1, figsize=(10, 2.6))
for ax, (method, clip) in zip(axes, clips.items()):
    ax.imshow(torch.cat(list(clip), dim=-1).permute(1, 2, 0))
    ax.set_axis_off()
    ax.set_title(method, fontsize=9)
plt.show()

fig, ax = plt.subplots(figsize=(9, 2.4))
for method, clip in clips.items():
    change = (clip[1:] - clip[:-1]).abs().mean(dim=(1, 2, 3))
    ax.plot(range(FRAMES - 1), change, marker=".", label=method)
for s in context_windows(FRAMES, WINDOW, 0)[1:]:
    ax.axvline(s.start - 0.5, color="gray", lw=0.8, ls=":")
ax.set(xlabel="transition f → f+1", ylabel="mean |change|", title="frame-to-frame change (dotted: chunk seams)")
ax.legend()
plt.show()
print(f"ran in {time.time() - started:.0f} s")
'''),
("md", r'''
## Try it

`windows_plot(frames, window, overlap)` is a plain function (called above); the widget redraws the windows'
shares for any clip length, window and overlap. Overlap 0 leaves hard seams: every frame belongs to one window,
except where the last window, moved back to end on the last frame, overlaps the one before.
'''),
("code", r'''
display(widgets.interactive(
    windows_plot,
    frames=widgets.IntSlider(min=8, max=128, value=FRAMES, description="frames"),
    window=widgets.IntSlider(min=2, max=16, value=WINDOW, description="window"),
    overlap=widgets.IntSlider(min=0, max=15, value=OVERLAP, description="overlap")))
'''),
]
