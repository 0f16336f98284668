"""The peak memory a block of work adds: the kernel's high-water mark of resident memory (VmHWM), reset on entry,
minus the resident memory when the block began (what the cascade, translation and the cost probe report)."""
from __future__ import annotations

from pathlib import Path


def memory_status(field: str) -> int:
    """A /proc/self/status memory field (VmRSS, VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak():
    """Reset the kernel's high-water mark of resident memory (VmHWM) to the current resident memory."""
    Path("/proc/self/clear_refs").write_text("5")


class PeakMemory:
    """What a block of work adds to resident memory at its peak, in MB, the way `time_steps` measures it:

        with PeakMemory() as probe:
            run_stage()
        probe.mb   # VmHWM during the block − VmRSS when it began

    The kernel's high-water mark is reset on entry (where /proc/self/clear_refs cannot be written, the process's
    lifetime peak is used instead, which can only overstate the block's). Blocks run one after another."""

    def __enter__(self):
        self.start = memory_status("VmRSS")
        try:
            reset_peak()
        except OSError:
            pass
        self.mb = 0.0
        return self

    def __exit__(self, *exc):
        self.mb = max(0.0, (memory_status("VmHWM") - self.start) / 2**20)
        return False
