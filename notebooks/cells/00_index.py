CELLS = [
("md", r'''
# Flipbook teaching notebooks

Four tutorials on how Flipbook turns an image diffusion model into a video model. Each imports the engine, derives
a method by hand on **live tensors** from the embedded models (`assets/`), and checks the hand derivation against
the engine with `assert`. Each starts with a **parameters** cell of small settings, so it runs top to bottom on a
laptop CPU in a minute or two (the test suite, `tests/test_notebooks.py`, executes them exactly so).

| notebook | method | paper | engine |
|---|---|---|---|
| [1 · Inflation](01_inflation.ipynb) | fold frames into the batch; zero-initialised temporal adapters; what zero-shot does to motion; a few steps of adapter tuning | Inflation with Diffusion §3.1–3.2 | `engine/models/inflate.py`, `engine/models/temporal.py`, `engine/tuning/recipes.py` |
| [2 · Latent-shift attention](02_latent_shift_attention.ipynb) | keys and values from the previous frame, built by hand; FLOPs of spatial, latent-shift and full spatio-temporal attention; attention maps across frames | SimDA §3.3 | `engine/models/attention.py` |
| [3 · Temporal pyramid](03_temporal_pyramid.ipynb) | stages, Down/Up, the renoising coefficients c, d, ρ derived and checked by Monte Carlo; pyramid vs vanilla sampling, with and without renoising, DDIM and flow matching | TPDiff §3 (derived in `engine/diffusion/pyramid.py`) | `engine/diffusion/pyramid.py` |
| [4 · Long clips](04_long_clips.ipynb) | context windows and their fusion weights derived and checked; FreeNoise's rescheduled noise by Monte Carlo; a live clip 3× the trained length, fused windows against independent chunks | FreeNoise §3.2–3.3 | `engine/diffusion/windows.py` |

Read them in order: 2, 3 and 4 use ideas from 1.

**Running them.** `source .venv/bin/activate && jupyter lab notebooks/`, then *Run → Run All Cells*. The widgets
(ipywidgets) at the end of each notebook wrap plain functions that the notebook also calls once, so a headless
run (`pytest tests/test_notebooks.py`) shows the same figures. The notebooks are generated from
`notebooks/cells/*.py` by `python notebooks/build.py` and committed without outputs.

**Notation.** Videos are `(B, C, F, H, W)` tensors in $[-1, 1]$; einops patterns such as
`'b c f h w -> (b f) c h w'` are used as the documentation of every reshape.
'''),
("code", r'''
from pathlib import Path

import torch

import engine

print("torch", torch.__version__, "| engine at", Path(engine.__file__).parent)
for name in sorted(Path(".").glob("0[1-9]_*.ipynb")):
    print(" ", name)
'''),
]
