CELLS = [
("md", r'''
# 2 · Latent-shift attention

*SimDA: Simple Diffusion Adapter for Efficient Video Generation*, §3.3 "Temporal Latent-Shift Attention".

In an inflated UNet (notebook 1) each frame's spatial self-attention sees only that frame's $N$ tokens. Full
spatio-temporal attention lets every token see every token of every frame — $L$ frames of $N$ tokens cost
$O(L^2N^2)$. SimDA's **latent-shift attention** (LSA) is the cheap middle: the queries of frame $i$ attend to
keys and values made of frame $i$'s own tokens **joined with frame $i-1$'s**,

$$\mathrm{LSA}(z_i) = \mathrm{Softmax}\!\Big(\frac{Q_i\,[K_i; K_{i-1}]^\top}{\sqrt d}\Big)\,[V_i; V_{i-1}],\qquad
Q_i = W_Q z_i,\; K_j = W_K z_j,\; V_j = W_V z_j ,$$

which costs $O(2LN^2)$ and adds **no parameters**: the image model's $W_Q, W_K, W_V$ are reused (the first frame
uses itself as its "previous" frame). The engine implements it as a diffusers attention processor,
`LatentShiftAttnProcessor` (`engine/models/attention.py`); the `simda` tuning mode installs it in every spatial
self-attention (`attn1`).

Below: keys and values built by hand from live tokens of the embedded base and checked against the processor;
the FLOPs of the three attentions as frames grow, counted by PyTorch and checked against the formulas; and the
attention maps across frames.
'''),
("code", r'''
FRAMES = 8          # frames of the live clip
FPS = 2.0           # keyframe rate
T = 300             # diffusion timestep of the live tokens (0 = clean, 999 = pure noise)
SITE = "up_blocks.1.attentions.1.transformer_blocks.0.attn1"   # a 16×16 spatial self-attention of the base
MAX_FRAMES = 32     # frames for the FLOPs curves
SEED = 0
THREADS = 1
PROMPT = "a medium yellow square moving right on a gray background"
''', "parameters"),
("code", r'''
import copy
import math
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from einops import rearrange
from IPython.display import display
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from setup_notebook import setup  # notebooks/setup_notebook.py

started = setup(THREADS, SEED)    # CPU threads, no "Loading weights" bars in the outputs, the seed, the clock

from engine.models.attention import LatentShiftAttnProcessor, SpatioTemporalAttnProcessor
from engine.models.base import load_base, train_scheduler
from engine.models.inflate import inflate
from engine.models.temporal import FrameContext
from engine.models.text import encode_prompts
from engine.world import prompt_to_spec, render
from engine.world.render import frame_times
'''),
("md", r'''
## Live tokens

Render a world clip, noise it to timestep `T`, and run the inflated base (zero-shot, so every frame is processed
as an image) while a forward pre-hook records what enters every spatial self-attention `attn1`: tokens
`(b f) t c`, one row per frame, $t = h\cdot w$ tokens of $c$ channels.
'''),
("code", r'''
base = load_base()
scheduler = train_scheduler(base.scheduler.config.prediction_type)
spec = prompt_to_spec(PROMPT, SEED)
truth = render(spec, base.unet.config.sample_size, FPS, FRAMES)            # f c h w in [0, 1]
x0 = rearrange(truth, "f c h w -> 1 c f h w") * 2 - 1
g = torch.Generator().manual_seed(SEED)
x_t = scheduler.add_noise(x0, torch.randn(x0.shape, generator=g), torch.tensor([T]))
text = encode_prompts(base.tokenizer, base.text_encoder, [PROMPT]).detach()

video = inflate(copy.deepcopy(base.unet))
tokens = {}


def record(name):
    def hook(module, args, kwargs):
        tokens[name] = (args[0] if args else kwargs["hidden_states"]).detach()
    return hook


sites = [n for n, m in video.unet.named_modules() if n.endswith("attn1")]
hooks = [video.unet.get_submodule(n).register_forward_pre_hook(record(n), with_kwargs=True) for n in sites]
with torch.no_grad():
    zero_shot_out = video(x_t, T, text)
for h in hooks:
    h.remove()
for name in sites:
    print(f"{name:55} tokens (b f) t c = {tuple(tokens[name].shape)}")
z = tokens[SITE]
attn = video.unet.get_submodule(SITE)
side = int(math.isqrt(z.shape[1]))
print(f"\n{SITE}: {attn.heads} heads of {z.shape[-1] // attn.heads} channels, a {side}×{side} map per frame")
'''),
("md", r'''
## Keys and values by hand

With einops as the documentation:

1. project: $Q = W_Q z$, $K = W_K z$, $V = W_V z$, and split heads `'n t (h d) -> n h t d'`;
2. unfold frames `'(b f) h t d -> b f h t d'` and build the **previous frame** along $f$:
   `prev = cat([x[:, :1], x[:, :-1]], dim=1)` (frame 0 has no predecessor and sees itself);
3. join own and previous tokens: `cat([x, prev], dim=3)` gives $2t$ keys per query frame;
4. attend and project out: $\mathrm{Softmax}(QK^\top/\sqrt d)V$, `'n h t d -> n t (h d)'`, $W_O$.

Then install the engine's processor on the same layer and compare.
'''),
("code", r'''
def split_heads(x):
    return rearrange(x, "n t (h d) -> n h t d", h=attn.heads)


def with_previous(x, frames):
    x = rearrange(x, "(b f) h t d -> b f h t d", f=frames)
    prev = torch.cat([x[:, :1], x[:, :-1]], dim=1)           # frame i <- frame i-1; frame 0 <- itself
    return rearrange(torch.cat([x, prev], dim=3), "b f h t d -> (b f) h t d")


def out_projection(o):
    return attn.to_out[1](attn.to_out[0](rearrange(o, "n h t d -> n t (h d)")))


with torch.no_grad():
    q, k, v = (split_heads(proj(z)) for proj in (attn.to_q, attn.to_k, attn.to_v))
    k_shift, v_shift = with_previous(k, FRAMES), with_previous(v, FRAMES)
    d = q.shape[-1]
    lsa_weights = torch.softmax(q @ k_shift.transpose(-1, -2) / math.sqrt(d), dim=-1)   # (b f) h t 2t
    lsa_by_hand = out_projection(lsa_weights @ v_shift)

    ctx = FrameContext(frames=FRAMES)
    attn.set_processor(LatentShiftAttnProcessor(ctx))
    lsa_engine = attn(z)
print("queries", tuple(q.shape), "| shifted keys", tuple(k_shift.shape), "| weights", tuple(lsa_weights.shape))
print("hand vs LatentShiftAttnProcessor, max |difference|:", (lsa_by_hand - lsa_engine).abs().max().item())
assert not attn.residual_connection and attn.rescale_output_factor == 1  # nothing else between attention and output
assert torch.allclose(lsa_by_hand, lsa_engine, atol=1e-5), "latent-shift attention differs from the hand-built one"
'''),
("md", r'''
**Full spatio-temporal attention** puts all frames' tokens in one sequence, `'(b f) t c -> b (f t) c'`, and
every query sees $F\cdot t$ keys. **One frame**: with $F = 1$ the "previous" frame is the frame itself, every key
appears twice, every softmax weight halves and every value is counted twice, so LSA equals plain attention —
one reason an untuned `simda` model is the image model on stills.
'''),
("code", r'''
with torch.no_grad():
    zz = rearrange(z, "(b f) t c -> b (f t) c", f=FRAMES)
    q_all, k_all, v_all = (split_heads(proj(zz)) for proj in (attn.to_q, attn.to_k, attn.to_v))
    full_weights = torch.softmax(q_all @ k_all.transpose(-1, -2) / math.sqrt(d), dim=-1)   # b h (f t) (f t)
    full_by_hand = rearrange(out_projection(full_weights @ v_all), "b (f t) c -> (b f) t c", f=FRAMES)
    attn.set_processor(SpatioTemporalAttnProcessor(ctx))
    full_engine = attn(z)

    one = z[:1]                                   # a one-frame clip
    attn.set_processor(AttnProcessor2_0())        # the image model's own processor
    plain_one = attn(one)
    attn.set_processor(LatentShiftAttnProcessor(FrameContext(frames=1)))
    lsa_one = attn(one)
    attn.set_processor(AttnProcessor2_0())
print("hand vs SpatioTemporalAttnProcessor:", (full_by_hand - full_engine).abs().max().item())
print("one frame, LSA vs plain attention:", (lsa_one - plain_one).abs().max().item())
assert torch.allclose(full_by_hand, full_engine, atol=1e-5), "spatio-temporal attention differs from the hand-built one"
assert torch.allclose(lsa_one, plain_one, atol=1e-5), "LSA on one frame must be plain attention"
'''),
("md", r'''
**LSA in the whole UNet, untuned.** Unlike the zero-initialised temporal adapters of notebook 1, LSA changes the
image model's computation the moment it is installed (SimDA then tunes adapters around it). Frame 0 sees only
itself, so it is unchanged; every later frame now reads its predecessor.
'''),
("code", r'''
shifted = inflate(copy.deepcopy(base.unet))
for name in sites:
    shifted.unet.get_submodule(name).set_processor(LatentShiftAttnProcessor(shifted.ctx))
with torch.no_grad():
    lsa_out = shifted(x_t, T, text)
per_frame = (lsa_out - zero_shot_out).abs().amax(dim=(0, 1, 3, 4))
print("UNet output, LSA vs zero-shot, max |Δ| per frame:", [f"{x:.1e}" for x in per_frame.tolist()])
assert per_frame[0] < 1e-5 and per_frame[1:].min() > 0, "frame 0 keeps the image model; later frames change"
'''),
("md", r'''
## FLOPs as frames grow

Per self-attention layer with $N$ tokens per frame, $C$ channels and $F$ frames (a multiply-add is 2 FLOPs):

| | projections $Q,K,V,O$ | $QK^\top$ and weights·$V$ |
|---|---|---|
| spatial (per frame) | $8FNC^2$ | $4F\,N^2C$ |
| latent-shift | $8FNC^2$ (keys projected once per frame) | $4F\,N\,(2N)\,C = 8FN^2C$ |
| full spatio-temporal | $8FNC^2$ | $4(FN)^2C$ |

So LSA costs twice the spatial attention core at every length, while full attention grows with $F^2$: at $F$
frames it is $F/2$ times LSA's core. Below, PyTorch's `FlopCounterMode` counts the FLOPs of the engine's processors
on the live layer (with the math SDPA kernel, whose matrix products it can see), and we assert the formulas.
'''),
("code", r'''
def attention_flops(kind, frames, n, c):
    projections = 8 * frames * n * c * c
    core = {"spatial": 4 * frames * n * n * c, "latent-shift": 8 * frames * n * n * c,
            "spatio-temporal": 4 * (frames * n) ** 2 * c}[kind]
    return projections + core


def counted_flops(kind, frames, layer, n):
    ctx = FrameContext(frames=frames)
    layer.set_processor({"spatial": AttnProcessor2_0(), "latent-shift": LatentShiftAttnProcessor(ctx),
                         "spatio-temporal": SpatioTemporalAttnProcessor(ctx)}[kind])
    x = torch.randn(frames, n, layer.to_q.in_features)
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        layer(x)
    layer.set_processor(AttnProcessor2_0())
    return counter.get_total_flops()


KINDS = ["spatial", "latent-shift", "spatio-temporal"]
n, c = z.shape[1], z.shape[2]
print(f"{'frames':>6} " + " ".join(f"{k:>24}" for k in KINDS))
for frames in (1, 2, 4, 8):
    row = []
    for kind in KINDS:
        counted, formula = counted_flops(kind, frames, attn, n), attention_flops(kind, frames, n, c)
        assert counted == formula, f"{kind} at {frames} frames: counted {counted}, formula {formula}"
        row.append(f"{counted / 1e6:12.1f} MFLOP  ✓")
    print(f"{frames:6d} " + " ".join(f"{r:>24}" for r in row))
'''),
("md", r'''
The same formulas summed over **every** spatial self-attention layer of two UNets: the embedded base at 32×32
(layers read from the live hooks above) and Stable Diffusion 1.5 at 512×512 (a 64×64 latent: five layers each at
4096 tokens × 320 channels, 1024 × 640 and 256 × 1280, one at 64 × 1280).
'''),
("code", r'''
embedded_layers = [(tokens[name].shape[1], tokens[name].shape[2]) for name in sites]
sd15_layers = [(4096, 320)] * 5 + [(1024, 640)] * 5 + [(256, 1280)] * 5 + [(64, 1280)]


def unet_flops(kind, frames, layers):
    return sum(attention_flops(kind, frames, n_, c_) for n_, c_ in layers)


def plot_flops(max_frames=MAX_FRAMES):
    frames_axis = list(range(1, max_frames + 1))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.3))
    for ax, (title, layers) in zip(axes, [("embedded base, 32×32", embedded_layers),
                                          ("SD-1.5 at 512×512 (64² latent)", sd15_layers)]):
        for kind in KINDS:
            ax.plot(frames_axis, [unet_flops(kind, f, layers) / 1e9 for f in frames_axis], label=kind)
        ax.set_yscale("log"), ax.set_xlabel("frames"), ax.set_ylabel("GFLOPs, all self-attention layers")
        ax.set_title(title, fontsize=10), ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    for title, layers in [("embedded", embedded_layers), ("SD-1.5", sd15_layers)]:
        axes[2].plot(frames_axis, [unet_flops("spatio-temporal", f, layers) / unet_flops("latent-shift", f, layers)
                                   for f in frames_axis], label=title)
    axes[2].set_title("full spatio-temporal ÷ latent-shift", fontsize=10)
    axes[2].set_xlabel("frames"), axes[2].grid(alpha=0.3), axes[2].legend(fontsize=8)
    fig.tight_layout()
    plt.show()


plot_flops()
for f in (8, 16, 32):
    print(f"{f:2d} frames: SD-1.5 self-attention  spatial {unet_flops('spatial', f, sd15_layers) / 1e12:.2f} TFLOP, "
          f"latent-shift {unet_flops('latent-shift', f, sd15_layers) / 1e12:.2f}, "
          f"full {unet_flops('spatio-temporal', f, sd15_layers) / 1e12:.2f}")
'''),
("md", r'''
## Attention maps across frames

Where does a query look? For a query token at position (row, col) of frame $f$, the softmax weights over the keys
are a map per key frame. Under LSA only frames $f$ and $f-1$ get any weight; under full attention every frame
does. The query starts on the object (its centre from the clip's spec). These maps come from the same `q`, `k`
as the asserted outputs above, so they are the processor's own weights. (The tokens are the image model's
features: nothing here was trained to match across frames, so expect mostly "look at similar content", which
for a moving object is partly where it was.)
'''),
("code", r'''
cx, cy, _, _ = spec.objects[0].trajectory(frame_times(FPS, FRAMES))
object_cell = [(int(y * side), int(x * side)) for x, y in zip(cx.tolist(), cy.tolist())]   # (row, col) per frame


def weight_maps(layer, frame, row, col, head, kind):
    """(F, side, side) attention weights of one query, summed over duplicated keys (F = 1 for frame 0 under LSA)."""
    z_ = tokens[layer]
    a = video.unet.get_submodule(layer)
    s = int(math.isqrt(z_.shape[1]))
    split = lambda x: rearrange(x, "n t (h d) -> n h t d", h=a.heads)
    with torch.no_grad():
        q_, k_ = split(a.to_q(z_)), split(a.to_k(z_))
    query = q_[frame, head, row * s + col]                                           # d
    scale = 1 / math.sqrt(q_.shape[-1])
    maps = torch.zeros(FRAMES, s * s)
    if kind == "latent-shift":
        keys = torch.cat([k_[frame, head], k_[max(frame - 1, 0), head]])            # 2t d
        w = torch.softmax(keys @ query * scale, dim=0)
        maps[frame] += w[: s * s]
        maps[max(frame - 1, 0)] += w[s * s:]
    else:
        keys = rearrange(k_[:, head], "f t d -> (f t) d")
        maps = torch.softmax(keys @ query * scale, dim=0).view(FRAMES, s * s)
    return maps.view(FRAMES, s, s)


def attention_maps(layer=SITE, frame=FRAMES // 2, row=-1, col=-1, head=0, kind="latent-shift"):
    """The clip with the query marked, and the query's attention weights on every frame (row, col = -1: the
    cell under the object's centre)."""
    s = int(math.isqrt(tokens[layer].shape[1]))
    row = object_cell[frame][0] * s // side if row < 0 else min(row, s - 1)
    col = object_cell[frame][1] * s // side if col < 0 else min(col, s - 1)
    maps = weight_maps(layer, frame, row, col, head, kind)
    mass = maps.flatten(1).sum(1)
    fig, axes = plt.subplots(2, FRAMES, figsize=(1.3 * FRAMES, 3.1))
    px = truth.shape[-1] / s
    for i in range(FRAMES):
        axes[0, i].imshow(truth[i].permute(1, 2, 0).numpy(), interpolation="nearest")
        axes[0, i].set_title(f"f={i}", fontsize=8)
        if i == frame:
            axes[0, i].add_patch(plt.Rectangle((col * px - 0.5, row * px - 0.5), px, px, fill=False, color="red", lw=2))
        axes[1, i].imshow(maps[i].numpy(), cmap="magma", vmin=0, vmax=maps.max().item(), interpolation="nearest")
        axes[1, i].set_xlabel(f"{mass[i]:.0%} of the weight", fontsize=8, color="red" if i == frame else "black")
        for ax in axes[:, i]:
            ax.set_xticks([]), ax.set_yticks([])
    axes[1, 0].set_ylabel("weights", fontsize=8)
    fig.suptitle(f"{kind}: query frame {frame}, cell ({row}, {col}), head {head} — {layer}", fontsize=9)
    fig.tight_layout()
    plt.show()


attention_maps(kind="latent-shift")
attention_maps(kind="spatio-temporal")
row0, col0 = object_cell[FRAMES // 2]
for kind in ("latent-shift", "spatio-temporal"):  # each query's weights form one distribution over its keys
    mass = weight_maps(SITE, FRAMES // 2, row0, col0, 0, kind).flatten(1).sum(1)
    assert torch.allclose(mass.sum(), torch.tensor(1.0), atol=1e-5)
    if kind == "latent-shift":
        assert mass[FRAMES // 2 - 1 : FRAMES // 2 + 1].sum() > 1 - 1e-5, "LSA sees only frames f-1 and f"
'''),
("md", r'''
How much does LSA actually borrow from the previous frame? Averaged over every query and head of every frame
after the first, the share of attention weight on frame $f-1$ (half would mean the two frames look alike to the
layer):
'''),
("code", r'''
for layer in sites:
    z_ = tokens[layer]
    a = video.unet.get_submodule(layer)
    split = lambda x: rearrange(x, "n t (h d) -> n h t d", h=a.heads)
    with torch.no_grad():
        q_, k_ = split(a.to_q(z_)), with_previous(split(a.to_k(z_)), FRAMES)
        w = torch.softmax(q_ @ k_.transpose(-1, -2) / math.sqrt(q_.shape[-1]), dim=-1)
    t_ = z_.shape[1]
    print(f"{layer:55} share on the previous frame: {w[1:, :, :, t_:].sum(-1).mean().item():.3f}")
'''),
("md", r'''
## Explore

`attention_maps(layer, frame, row, col, head, kind)` is a plain function (called twice above); the widget below
wraps it. Leave row and col at −1 to follow the object.
'''),
("code", r'''
display(widgets.interactive(
    attention_maps,
    layer=widgets.Dropdown(options=sites, value=SITE, description="layer", layout=widgets.Layout(width="520px")),
    frame=widgets.IntSlider(min=0, max=FRAMES - 1, value=FRAMES // 2, description="frame"),
    row=widgets.IntSlider(min=-1, max=side - 1, value=-1, description="row"),
    col=widgets.IntSlider(min=-1, max=side - 1, value=-1, description="col"),
    head=widgets.Dropdown(options=list(range(attn.heads)), value=0, description="head"),
    kind=widgets.ToggleButtons(options=["latent-shift", "spatio-temporal"], description="attention")))
'''),
("md", r'''
## What we saw

* LSA is plain attention with a different key/value set, `cat([own, previous])` along the token axis, built from
  the image model's own projections (asserted against `LatentShiftAttnProcessor`, and full attention against
  `SpatioTemporalAttnProcessor`). On one frame it *is* plain attention (asserted).
* Its cost is twice a spatial attention core at every length, whereas full spatio-temporal attention grows with
  $F^2$ (FLOPs counted by PyTorch and asserted equal to the formulas). `bench/attention_bench.py` times them.
* Installed untuned, LSA already changes every frame after the first: SimDA pairs it with trained adapters.

Next: [3 · the temporal pyramid](03_temporal_pyramid.ipynb), which saves compute along the other axis — fewer
frames while the sample is still mostly noise.
'''),
("code", r'''
print(f"notebook ran in {time.time() - started:.0f} s")
'''),
]
