"""Tuning modes, in one place: what each mode adds to an inflated UNet and what trains (`recipes`: the table of
recipes, `apply_mode`), and the tuned folders a trained mode is saved to and loaded from (`folders`: `save_tuned`,
`read_tuned` as a `TunedRecord`, `load_tuned`). Training a mode is `engine.training.modes`; tuning one on a
user's clips, the task behind `flipbook tune`, is `engine.tune`.
"""
from .folders import (ASSET, TEXT_ENCODER, TunedRecord, load_text_encoder, load_tuned, read_tuned, save_tuned,
                      trainable_state, tuned_record)
from .recipes import MODES, Mode, apply_mode

__all__ = ["ASSET", "MODES", "Mode", "TEXT_ENCODER", "TunedRecord", "apply_mode", "load_text_encoder", "load_tuned",
           "read_tuned", "save_tuned", "trainable_state", "tuned_record"]
