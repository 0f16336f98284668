CELLS = [
("md", r'''
# 1 · Inflation: from an image UNet to a video UNet

*Inflation with Diffusion* (Yuan et al.), §3.1 "Inflation with Image Weights" and §3.2 "Temporal Adapter with
Frame-wise Attention".

An image diffusion UNet already knows what things look like. To make it a video model we keep **every one of its
weights** and change only how a batch of frames flows through it:

1. fold the frames into the batch, so each spatial layer sees `(b f)` images: `'b c f h w -> (b f) c h w'`;
2. repeat the timestep and the text embedding once per frame;
3. attach temporal modules between the blocks, whose output projection starts at **zero**, so that at
   initialisation the video UNet *is* the image UNet, frame by frame;
4. tune only the temporal modules on videos (the *temporal* mode), and motion appears.

Every step below runs on live tensors from the embedded base (`assets/base`, a 2.7 M-parameter pixel-space
text-to-image UNet on 32×32 RGB) and is checked against the engine (`engine/models/inflate.py`,
`engine/models/temporal.py`, `engine/tuning/recipes.py`) with an `assert`.
'''),
("md", r'''
**Parameters.** Small settings, so the whole notebook runs on a laptop CPU in about a minute (the tests run it
as it is). Raise `TUNE_STEPS` and `STEPS` to see more.
'''),
("code", r'''
FRAMES = 8          # frames per clip: keyframes at 2 fps, as the tuned modes use
STEPS = 10          # DPM-Solver++ steps per generation (the studio uses 25)
GUIDANCE = 4.0      # classifier-free guidance
TUNE_STEPS = 20     # temporal-adapter tuning steps in this notebook (a real tuning run takes thousands)
TUNE_LR = 2e-3
SEED = 0
THREADS = 1         # torch CPU threads
PROMPT = "a large red circle moving right on a black background"
''', "parameters"),
("code", r'''
import copy
import time
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from IPython.display import display

from setup_notebook import setup  # notebooks/setup_notebook.py

started = setup(THREADS, SEED)    # CPU threads, no "Loading weights" bars in the outputs, the seed, the clock

from engine.metrics.quality import tcc
from engine.models.base import load_base, train_scheduler
from engine.models.inflate import inflate
from engine.models.temporal import TemporalAttention
from engine.models.text import encode_prompts
from engine.tuning import ASSET as MODES_ASSET, load_tuned
from engine.motion import find_region, plan_from_prompt
from engine.pipelines.load import available_modes
from engine.pipelines.load import SCHEDULERS
from engine.pipelines.text_to_video import TextToVideoPipeline
from engine.training.modes import KEYFRAMES
from engine.tuning import MODES, apply_mode
from engine.world import prompt_to_spec, render


def strip(rows: dict, title=None, highlight=None, scale=1.1):
    """Plot clips as rows of frames; each clip (F, 3, H, W) in [0, 1]."""
    n = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), n, figsize=(scale * n, scale * len(rows) + 0.3), squeeze=False)
    for r, (name, clip) in enumerate(rows.items()):
        for i in range(n):
            ax = axes[r, i]
            ax.set_xticks([]), ax.set_yticks([])
            if i < len(clip):
                ax.imshow(clip[i].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
                if highlight == i:
                    for s in ax.spines.values():
                        s.set_color("orange"), s.set_linewidth(3)
            else:
                ax.axis("off")
            if i == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
            if r == 0:
                ax.set_title(f"f={i}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.show()
'''),
("md", r'''
## Step 1 · The image UNet

`load_base()` reads a diffusers folder: a `UNet2DConditionModel`, a word-level tokenizer and a tiny `CLIPTextModel`.
The UNet takes **one image per batch row**: `(B, 3, 32, 32)`, a timestep per row and text states `(B, L, D)`.
'''),
("code", r'''
base = load_base()
unet = base.unet
config = unet.config
print(f"UNet2DConditionModel: {sum(p.numel() for p in unet.parameters()) / 1e6:.2f} M parameters")
print("down blocks:", list(config.down_block_types), "channels:", list(config.block_out_channels))
print("predicts:", base.scheduler.config.prediction_type, "| sample size:", config.sample_size)

scheduler = train_scheduler(base.scheduler.config.prediction_type)  # the noise schedule it was trained with
text = encode_prompts(base.tokenizer, base.text_encoder, [PROMPT]).detach()
print("text states (B, L, D):", tuple(text.shape))
'''),
("md", r'''
## Step 2 · A video is a stack of frames: `b c f h w`

A clip from the procedural world, rendered exactly as the tuning data is (`KEYFRAMES`: 32×32 at 2 fps). Flipbook
keeps videos as `(B, C, F, H, W)` in $[-1, 1]$, like diffusers' video models.
'''),
("code", r'''
truth = render(prompt_to_spec(PROMPT, SEED), KEYFRAMES["size"], KEYFRAMES["fps"], FRAMES)  # f c h w in [0, 1]
x0 = rearrange(truth, "f c h w -> 1 c f h w") * 2 - 1
print("clip (B, C, F, H, W):", tuple(x0.shape))
strip({"ground truth": truth}, title=PROMPT)
'''),
("md", r'''
## Step 3 · Fold the frames into the batch: `'b c f h w -> (b f) c h w'`

Inflation §3.1: "the processing units of the residual block and cross-attention layer share the same weights …
we can simply reshape the video data into $(BF)\times C\times H\times W$". After the fold, row $b\cdot F + i$ of
the batch is frame $i$ of clip $b$. The timestep and the text states are repeated per frame
(`'b l d -> (b f) l d'`), because every frame of a clip shares its caption and its noise level.

We noise the clip to $t = 500$, fold it by hand, run the **image** UNet on the folded batch, unfold, and compare
with the engine's `inflate(unet)` (a `VideoUNet` that does this inside its `forward`).
'''),
("code", r'''
g = torch.Generator().manual_seed(SEED)
noise = torch.randn(x0.shape, generator=g)
t = torch.tensor([500])
x_t = scheduler.add_noise(x0, noise, t)

folded = rearrange(x_t, "b c f h w -> (b f) c h w")
text_per_frame = repeat(text, "b l d -> (b f) l d", f=FRAMES)
t_per_frame = t.repeat_interleave(FRAMES)
print("folded frames:", tuple(folded.shape), "| text per frame:", tuple(text_per_frame.shape),
      "| timesteps:", t_per_frame.tolist())
for i in range(FRAMES):  # row b·F + i is frame i of clip b
    assert torch.equal(folded[i], x_t[0, :, i])

with torch.no_grad():
    by_hand = rearrange(unet(folded, t_per_frame, text_per_frame).sample, "(b f) c h w -> b c f h w", f=FRAMES)
    video = inflate(copy.deepcopy(unet))  # zero-shot: nothing added yet
    engine_out = video(x_t, t, text)
print("by hand vs VideoUNet, max |difference|:", (by_hand - engine_out).abs().max().item())
assert torch.allclose(by_hand, engine_out, atol=1e-5), "the engine's fold differs from the hand-made one"
'''),
("md", r'''
## Step 4 · Attach temporal modules that start as the identity

Inflation §3.2 adds a **temporal adapter** after every UNet block: self-attention along the frame axis at each
spatial position, Eq. (1), $\mathrm{Softmax}(QK^\top/\sqrt d)\,V$ over the $F$ tokens of one pixel. In einops,
the adapter sees `'(b f) c h w -> (b h w) f c'`: every pixel of every clip becomes a sequence of $F$ tokens.

Flipbook's `TemporalAttention` (`engine/models/temporal.py`) is `x + proj_out(attention(...))` with `proj_out`
**initialised to zero**, attached with a forward hook so the base weights stay untouched. The `temporal` mode
(`engine/tuning/recipes.py`) puts one after every down, mid and up block and makes only those trainable.
'''),
("code", r'''
temporal = apply_mode(inflate(copy.deepcopy(unet)), "temporal")
counts = temporal.count_parameters()
print(f"added modules: {len(temporal.added)}; trainable {counts['trainable']:,} of {counts['total']:,} "
      f"({counts['trainable'] / counts['total']:.0%})")
for key, module in list(temporal.added.items())[:3]:
    print(f"  {key.replace('__', '.')}: {type(module).__name__}, proj_out all zero: "
          f"{bool((module.proj_out.weight == 0).all() and (module.proj_out.bias == 0).all())}")
assert counts["trainable"] == counts["added"], "the temporal mode trains only what it added"

# What one adapter sees: the output of down_blocks.1, folded, re-read as sequences over frames
seen = {}


def keep(module, args, out):
    seen["x"] = out[0]  # (hidden states, skips) of a down block; returning nothing leaves the output alone


hook = temporal.unet.down_blocks[1].register_forward_hook(keep)
with torch.no_grad():
    temporal_out = temporal(x_t, t, text)
hook.remove()
feature = seen["x"]
sequences = rearrange(feature, "(b f) c h w -> (b h w) f c", f=FRAMES)
print("down_blocks.1 output (b f) c h w:", tuple(feature.shape), "-> sequences over frames (b h w) f c:",
      tuple(sequences.shape))
'''),
("md", r'''
**The identity at initialisation**, proven on the live base for every tuning mode: the untuned video UNet gives
exactly the image UNet's output, frame by frame. SimDA's latent-shift attention (notebook 2) has no zero
initialisation — it changes which keys each frame sees — so for `simda` the identity holds on a one-frame clip
and on the first frame only.
'''),
("code", r'''
rows = []
with torch.no_grad():
    for mode in MODES:
        v = apply_mode(inflate(copy.deepcopy(unet)), mode).eval()
        out = v(x_t, t, text)
        one = v(x_t[:, :, :1], t, text)
        diff = (out - by_hand).abs().amax(dim=(0, 1, 3, 4))  # per frame
        rows.append((mode, len(v.added), diff.max().item(), diff[0].item(), (one - by_hand[:, :, :1]).abs().max().item()))
print(f"{'mode':26} {'added':>6} {'max |Δ| all frames':>20} {'frame 0':>10} {'1-frame clip':>13}")
for mode, n, d_all, d0, d1 in rows:
    print(f"{mode:26} {n:6d} {d_all:20.2e} {d0:10.2e} {d1:13.2e}")
    assert d1 < 1e-5 and d0 < 1e-5, f"{mode}: not the image UNet at initialisation"
    if mode != "simda":
        assert d_all < 1e-5, f"{mode}: not the image UNet at initialisation"
'''),
("md", r'''
## Step 5 · What zero-shot does to motion

An inflated, untuned UNet (the `zero-shot` mode) treats every frame as its own image. Two consequences, both
visible below:

* **frames do not talk.** Change the input of one frame and only that frame's output changes;
* **motion cannot appear.** With a fresh noise per frame, every frame is a different sample from the same prompt
  (flicker, no motion); with one noise shared by every frame, every frame is the *same* sample (a still).
  Nothing in between is reachable without temporal modules.
'''),
("code", r'''
changed = x_t.clone()
changed[:, :, 3] += 0.5 * torch.randn(changed[:, :, 3].shape, generator=g)
with torch.no_grad():
    per_frame = (video(changed, t, text) - engine_out).abs().amax(dim=(0, 1, 3, 4))
print("zero-shot, |Δ output| per frame after changing frame 3:", [f"{d:.1e}" for d in per_frame.tolist()])
others = [i for i in range(FRAMES) if i != 3]
assert per_frame[others].max() == 0 and per_frame[3] > 0, "zero-shot frames must be independent"
'''),
("code", r'''
def pipeline(video_unet):
    pipe = TextToVideoPipeline(video_unet.eval(), base.text_encoder, base.tokenizer,
                               SCHEDULERS["dpm++"](base.scheduler.config, pixel=True))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate(video_unet, shared_noise=False, seed=SEED):
    shape = (1, 3, FRAMES, config.sample_size, config.sample_size)
    gen = torch.Generator().manual_seed(seed)
    latents = torch.randn(shape, generator=gen)
    if shared_noise:  # one noise image, repeated for every frame
        latents = repeat(latents[:, :, :1], "b c 1 h w -> b c f h w", f=FRAMES)
    return pipeline(video_unet)(PROMPT, num_frames=FRAMES, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                                latents=latents).frames[0]  # f c h w in [0, 1]


def frame_change(clip):
    """Mean absolute change between consecutive frames (ground truth: the object's motion only)."""
    return (clip[1:] - clip[:-1]).abs().mean().item()


clips = {"ground truth": truth}
clips["zero-shot, own noise"] = generate(video)
clips["zero-shot, shared noise"] = generate(video, shared_noise=True)
still = clips["zero-shot, shared noise"]
print("shared noise: max |frame i − frame 0| =", (still - still[:1]).abs().max().item())
assert torch.allclose(still, still[:1].expand_as(still), atol=1e-5), "zero-shot with shared noise must be a still"
for name, clip in clips.items():
    print(f"{name:34} frame-to-frame change {frame_change(clip):.4f}")
strip(clips, title="zero-shot: independent samples (flicker) or one sample (a still)")
'''),
("md", r'''
## Step 6 · A few steps of temporal-adapter tuning

The `temporal` mode trains only its adapters with the ordinary diffusion loss on videos, whose target is what
the base predicts (the shipped base predicts $v = a\,\varepsilon - b\,x_0$). The real recipe is `flipbook train-mode --mode temporal`
(`engine/training/modes.py`: thousands of clips). Here, to stay within a minute, we do what *Tune-A-Video*-style
one-shot tuning does: **a few steps on one clip** (`TUNE_STEPS`, 20 here), the ground-truth clip above.

Be clear about what this can show. A few steps cannot teach general motion. They *can* show the mechanism:

* at step 0 the adapters are the identity, so a frame's output does not depend on the other frames at all;
* as `proj_out` leaves zero, the frames start to exchange information: the **cross-frame influence** (how much the
  other frames' outputs move when frame 0's input moves) grows from exactly zero;
* the loss on this clip falls, because the model can now pool evidence across frames;
* generated frames become more alike (closer to the clip's small frame-to-frame change).
'''),
("code", r'''
tuned = apply_mode(inflate(copy.deepcopy(unet)), "temporal")
trainable = [p for p in tuned.parameters() if p.requires_grad]
optimizer = torch.optim.AdamW(trainable, lr=TUNE_LR)
gen = torch.Generator().manual_seed(SEED + 1)

predicts_v = scheduler.config.prediction_type == "v_prediction"   # the base's target: v, or ε
eval_t = torch.tensor([300, 600, 900])  # a fixed evaluation: three noise levels, fixed noise
eval_noise = torch.randn((3,) + x0.shape[1:], generator=gen)
probe = x_t.clone()
probe_bump = 0.5 * torch.randn(x0[:, :, :1].shape, generator=gen)


def clip_loss(model, timesteps, eps):
    n = len(timesteps)
    clean = x0.expand(n, -1, -1, -1, -1)
    noisy = scheduler.add_noise(clean, eps, timesteps)
    target = scheduler.get_velocity(clean, eps, timesteps) if predicts_v else eps
    return F.mse_loss(model(noisy, timesteps, text.expand(n, -1, -1)), target)


@torch.no_grad()
def cross_frame_influence(model):
    """|Δ output of frames 1..F−1| / |Δ output of frame 0| when frame 0's input is nudged."""
    bumped = probe.clone()
    bumped[:, :, :1] += probe_bump
    delta = (model(bumped, t, text) - model(probe, t, text)).abs()
    return (delta[:, :, 1:].mean() / delta[:, :, :1].mean()).item()


history = {"step": [], "loss": [], "eval": [], "influence": []}


def record(step, loss):
    with torch.no_grad():
        history["eval"].append(clip_loss(tuned, eval_t, eval_noise).item())
    history["step"].append(step), history["loss"].append(loss), history["influence"].append(cross_frame_influence(tuned))


record(0, float("nan"))
assert history["influence"][0] == 0.0, "an untuned temporal adapter must not mix frames"
tic = time.time()
for step in range(1, TUNE_STEPS + 1):
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (2,), generator=gen)
    loss = clip_loss(tuned, timesteps, torch.randn((2,) + x0.shape[1:], generator=gen))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 5 == 0 or step == TUNE_STEPS:
        record(step, loss.item())
print(f"{TUNE_STEPS} steps in {time.time() - tic:.0f} s; eval loss {history['eval'][0]:.4f} -> {history['eval'][-1]:.4f}; "
      f"cross-frame influence {history['influence'][0]:.3f} -> {history['influence'][-1]:.3f}")
assert history["influence"][-1] > 0, "after tuning, frames must influence each other"
'''),
("code", r'''
fig, axes = plt.subplots(1, 3, figsize=(11, 2.8))
axes[0].plot(history["step"][1:], history["loss"][1:], "o-", ms=3)
axes[0].set_title("training loss (one batch)", fontsize=10)
axes[1].plot(history["step"], history["eval"], "o-", ms=3, color="C1")
axes[1].set_title("fixed evaluation loss on the clip", fontsize=10)
axes[2].plot(history["step"], history["influence"], "o-", ms=3, color="C2")
axes[2].set_title("cross-frame influence (0 = frames independent)", fontsize=10)
for ax in axes:
    ax.set_xlabel("tuning step")
fig.tight_layout()
plt.show()
'''),
("md", r'''
Now generate again with **the same seed and the same noise** as the zero-shot row "own noise". If a tuned
`assets/modes/temporal` exists (trained with `flipbook train-mode --mode temporal`), it is shown as well.

Two numbers per clip: the mean frame-to-frame change (the ground truth moves a little at 2 fps, so its change is
small), and TCC (Inflation Eq. 2, `engine.metrics.quality.tcc`): the SSIM between the generated and the true
frame *differences*. Read TCC with care here: a still has zero differences, which TCC scores as fairly similar to
a slow clip's small ones; a flickering clip scores near zero. After these few steps, look for frames that agree
more (background, colour, size) rather than for motion.
'''),
("code", r'''
clips[f"temporal, {TUNE_STEPS} steps"] = generate(tuned)
shipped = [m for m in available_modes() if m != "zero-shot"]  # the embedded tuned modes, if any
if shipped:
    asset = Path(MODES_ASSET) / shipped[0]
    try:
        clips[f"{shipped[0]} (asset)"] = generate(load_tuned(copy.deepcopy(unet), asset))
    except Exception as err:  # an asset from another engine version: say so, and go on
        print(f"could not load {asset}:", err)
else:
    print("no tuned mode in assets/modes yet: only the few-step tuning is shown")
for name, clip in clips.items():
    score = tcc(clip.permute(1, 0, 2, 3), truth.permute(1, 0, 2, 3)).item()
    print(f"{name:34} frame-to-frame change {frame_change(clip):.4f}   TCC vs ground truth {score:.3f}")
strip(clips, title="same seed, same noise")
'''),
("md", r'''
## Step 7 · Motion appearing: a plan instead of a lesson

Neither zero-shot nor a few (or a few thousand) tuning steps move the object the way the prompt says: a temporal
module must learn, from a word, to displace the object by about 1.4 px a keyframe. Text2Video-Zero gives the
motion instead (`engine/motion/`): the prompt's motion words become a **plan** (where frame 0's object is at every
keyframe, from the world's own trajectories), frame 0 is denoised alone, its object found (what differs from each
row's median colour), carried along the plan over the background, noised back to 70 % of the schedule, and the
video model denoises all frames together. Below: zero-shot and the shipped mode, each without and with the plan
(the same seed), and the object's centre per frame against the plan.
'''),
("code", r'''
plan = plan_from_prompt(PROMPT, FRAMES, KEYFRAMES["fps"])
size = config.sample_size
print(plan.source, "— planned x shift per keyframe (px):", [round(dx * size, 2) for dx, _ in plan.shift])


def planned(video_unet, seed=SEED):
    return pipeline(video_unet)(PROMPT, num_frames=FRAMES, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                                generator=torch.Generator().manual_seed(seed), motion_plan=plan).frames[0]


def centre_x(clip):
    """The object's centre x per frame (engine.motion.find_region: what differs from the row's median)."""
    return find_region(clip).centre[:, 0]


motion_clips = {"ground truth": truth, "zero-shot": clips["zero-shot, own noise"], "zero-shot + plan": planned(video)}
if shipped:
    shipped_unet = load_tuned(copy.deepcopy(unet), Path(MODES_ASSET) / shipped[0])
    motion_clips[f"{shipped[0]}"] = generate(shipped_unet)
    motion_clips[f"{shipped[0]} + plan"] = planned(shipped_unet)
for name, clip in motion_clips.items():
    x = centre_x(clip)
    print(f"{name:34} centre x per frame {[round(v, 1) for v in x.tolist()]}  moved {x[-1] - x[0]:+.1f} px")
moved = centre_x(motion_clips["zero-shot + plan"])
want = plan.shift[-1][0] * size
assert (moved[1:] - moved[:-1] > -0.5).all() and 0.6 * want < moved[-1] - moved[0] < 1.4 * want, \
    "with the plan, the object must go right about as far as the plan says"
strip(motion_clips, title="without and with the prompt's motion plan (same seed)")
'''),
("md", r'''
## Step 8 · Explore: pick a clip and a frame

The widget wraps `show_frame(clip, frame)`, a plain function; the cell before it calls that function once, so a
headless run shows the same figure. In JupyterLab, move the slider.
'''),
("code", r'''
def show_frame(clip="ground truth", frame=0):
    """One clip, with `frame` large and the whole strip below it."""
    video_frames = clips[clip]
    fig = plt.figure(figsize=(7, 3.6))
    big = fig.add_axes([0.3, 0.32, 0.4, 0.62])
    big.imshow(video_frames[frame].permute(1, 2, 0).numpy(), interpolation="nearest")
    big.set_title(f"{clip}: frame {frame}", fontsize=10)
    big.axis("off")
    for i in range(len(video_frames)):
        ax = fig.add_axes([0.02 + i * 0.96 / len(video_frames), 0.02, 0.96 / len(video_frames) - 0.01, 0.25])
        ax.imshow(video_frames[i].permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
        for s in ax.spines.values():
            s.set_color("orange" if i == frame else "white"), s.set_linewidth(3)
    plt.show()


show_frame(f"temporal, {TUNE_STEPS} steps", FRAMES // 2)
'''),
("code", r'''
display(widgets.interactive(show_frame,
                            clip=widgets.Dropdown(options=list(clips), value="zero-shot, own noise", description="clip"),
                            frame=widgets.IntSlider(min=0, max=FRAMES - 1, value=0, description="frame")))
'''),
("md", r'''
## What we saw

* Inflation is a reshape: `'b c f h w -> (b f) c h w'` plus a repeated timestep and caption. The image UNet's
  weights are reused as they are (asserted against `VideoUNet`).
* Temporal modules with a zero output projection leave the image UNet untouched at initialisation, for every
  tuning mode (asserted), so tuning starts from the image model's quality.
* Zero-shot, frames are independent (asserted): independent samples flicker, a shared noise freezes. Motion
  learned from words needs trained temporal modules, and far more training than fits a CPU.
* A motion plan gives the motion instead: frame 0 carried along the plan and denoised again moves the object the
  way the prompt says, zero-shot included (asserted on its centre); `flipbook generate` does it by default.
* A few tuning steps on one clip switch on communication between frames (influence from 0 upwards) and lower
  the loss; they are far from a motion model. `flipbook train-mode --mode temporal` trains one properly, and
  `bench/compare_modes.py` compares all modes.

Next: [2 · latent-shift attention](02_latent_shift_attention.ipynb), a way to let frames see each other without
any new parameters.
'''),
("code", r'''
print(f"notebook ran in {time.time() - started:.0f} s")
'''),
]
