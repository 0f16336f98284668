"""Defaults of one-shot editing, kept free of imports so the command line can show them without loading torch.
Chosen by measurement: bench/results/edit_sweep.md (inversion strength and guidance), bench/results/edit.md."""
STRENGTH = 0.6  # inverted to t ≈ 600 of 1000; zero-shot sweep (6 edits): 0.5–0.6 keep most (TCC 0.47–0.40 vs 0.30 at 0.8–0.9)
STEPS = 50  # DDIM steps over the whole schedule (the inversion and the sampling each take strength × steps)
GUIDANCE = 3.0  # of the edited prompt (the inversion is unguided); sweep at 0.7: kept 0.62 at 3, 0.50 at 5, 0.17 at 8
MODE = "simda"
TUNE_STEPS = 100  # one-shot tuning steps at batch 1 (SimDA tunes 200 on Stable Diffusion)
