"""Defaults of one-shot editing, kept free of imports so the command line can show them without loading torch.
Chosen by measurement: bench/results/edit_sweep.md (inversion strength and guidance), bench/results/edit.md."""
STRENGTH = 0.8  # inverted to t ≈ 800 of 1000; train sweep (9 edits): 0.6–0.8 alike, 0.9–1.0 lose motion; on val, 0.6
# missed shape and background changes (took 0.76) where 0.8 took all of them (1.00, kept 0.87 for SimDA)
STEPS = 50  # DDIM steps over the whole schedule (the inversion and the sampling each take strength × steps)
GUIDANCE = 3.0  # of the edited prompt (the inversion is unguided); train sweep at 0.8: SimDA kept 0.97 at 3, 0.89 at 5
MODE = "simda"
TUNE_STEPS = 100  # one-shot tuning steps at batch 1 (SimDA tunes 200 on Stable Diffusion)
