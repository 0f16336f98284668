"""Defaults of one-shot editing, kept free of imports so the command line can show them without loading torch.
Chosen by measurement: bench/results/edit_sweep.md (inversion strength and guidance), bench/results/edit.md."""
STRENGTH = 0.8  # inverted to t ≈ 800 of 1000. Train sweep with 300 tuning steps (9 edits): took / kept 0.89 / 1.00 at
# 0.8, 0.89 / 0.97 at 0.9, 1.00 / 0.89 at 1.0; on val (21 edits) 0.8 gave 0.90 / 0.93 and 1.0 gave 0.95 / 0.83, and 0.6
# (100 tuning steps) missed shape and background changes (took 0.76)
STEPS = 50  # DDIM steps over the whole schedule (the inversion and the sampling each take strength × steps)
GUIDANCE = 3.0  # of the edited prompt (the inversion is unguided); train sweep at 0.8: SimDA kept 0.97 at 3, 0.89 at 5
MODE = "simda"
TUNE_STEPS = 300  # one-shot tuning steps at batch 1 (SimDA tunes 200 on Stable Diffusion). 100 barely moved the
# model (reconstruction of a train clip at 0.8: 30.0 dB untuned, 31.5 at 100, 33.9 at 300; val edits at 100 kept 0.87
# against 0.92 untuned); at 300 the train sweep kept 1.00 at 0.8 and val kept 0.93 against 0.87 untuned (~80 s of tuning)
MOTION_PLAN = True  # carry the edited frame 0 along the edited prompt's motion plan (engine/motion/README.md). SimDA,
# 12 val edits: motion kept 0.917 -> 1.000, kept (all) 0.938 -> 0.979, change took 0.833 -> 0.917 (bench/results/edit_plan.md)
MOTION_STRENGTH = 0.5  # where the plan's second sampling starts. Zero-shot, 12 val edits: at 0.8 motion kept 0.75 (as
# without a plan: the model redraws what it was given), at 0.5 1.00 and kept (all) 0.96 against 0.90 without a plan
