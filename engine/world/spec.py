"""Clip specs: what is in a clip and how it moves, in continuous time.

A spec fixes everything a frame depends on, so rendering is a pure function of (spec, size, fps, frames).
`sample_spec` fills what a prompt leaves open from a seeded generator, keeping objects inside the frame
for the canonical clip length.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .vocab import BACKGROUNDS, CLASHES, CLIP_SECONDS, COLOURS, INVISIBLE, MOTIONS, SHAPES, SIZES

LINEAR_SPEED = 0.085      # frame widths per second, straight motions
DIAGONAL_SPEED = 0.065    # per axis, diagonal motions
BOUNCE_HEIGHT, BOUNCE_PERIOD = 0.17, 1.5
ORBIT_RADIUS, ORBIT_PERIOD = 0.13, 4.0
SPIN_SPEED = math.pi / 4  # radians per second
GROWTH = 1.55             # size factor over CLIP_SECONDS
EXTENT = {"square": 1.07}  # bounding radius / nominal radius, where not 1
MARGIN = 0.02

_DIRECTIONS = {
    "left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1),
    "up-left": (-1, -1), "up-right": (1, -1), "down-left": (-1, 1), "down-right": (1, 1),
}


class SpecError(ValueError):
    """A spec that cannot be rendered as asked; the message says what to change."""


@dataclass(frozen=True)
class ObjectSpec:
    shape: str
    colour: str
    size: str
    motion: str
    x: float = 0.5      # anchor: start position, bounce floor, or orbit centre (frame units)
    y: float = 0.5
    phase: float = 0.0  # orbit start angle (radians)

    def __post_init__(self):
        for name, value, allowed in (("shape", self.shape, SHAPES), ("colour", self.colour, COLOURS),
                                     ("size", self.size, SIZES), ("motion", self.motion, MOTIONS)):
            if value not in allowed:
                raise SpecError(f"unknown {name} {value!r}; choose one of: {', '.join(allowed)}")
        if (self.shape, self.motion) in INVISIBLE:
            raise SpecError(f"a {self.shape} looks the same when it rotates; pick another shape or motion")

    def trajectory(self, t: torch.Tensor):
        """Centre x, y, radius and angle at times t (seconds): four tensors shaped like t."""
        r0 = SIZES[self.size]
        x, y = torch.full_like(t, self.x), torch.full_like(t, self.y)
        r, angle = torch.full_like(t, r0), torch.zeros_like(t)
        m = self.motion
        if m in _DIRECTIONS:
            dx, dy = _DIRECTIONS[m]
            speed = DIAGONAL_SPEED if dx and dy else LINEAR_SPEED
            x, y = x + dx * speed * t, y + dy * speed * t
        elif m == "bounce":
            y = y - BOUNCE_HEIGHT * torch.abs(torch.sin(math.pi * t / BOUNCE_PERIOD))
        elif m == "orbit":  # counter-clockwise on screen (y points down)
            a = self.phase + 2 * math.pi * t / ORBIT_PERIOD
            x, y = x + ORBIT_RADIUS * torch.cos(a), y - ORBIT_RADIUS * torch.sin(a)
        elif m == "rotate":
            angle = SPIN_SPEED * t
        elif m in ("grow", "shrink"):
            sign = 1.0 if m == "grow" else -1.0
            r = r0 * GROWTH ** (sign * t / CLIP_SECONDS)
        return x, y, r, angle


@dataclass(frozen=True)
class ClipSpec:
    objects: tuple[ObjectSpec, ...]
    background: str = "black"

    def __post_init__(self):
        if self.background not in BACKGROUNDS:
            raise SpecError(f"unknown background {self.background!r}; choose one of: {', '.join(BACKGROUNDS)}")
        if not 1 <= len(self.objects) <= 2:
            raise SpecError("a clip holds one or two objects")
        for o in self.objects:
            if (o.colour, self.background) in CLASHES:
                raise SpecError(f"a {o.colour} object is invisible on a {self.background} background; "
                                "pick another colour or background")

    def attributes(self) -> dict[str, str]:
        """The first object's attributes and the background: what the judge predicts."""
        o = self.objects[0]
        return {"shape": o.shape, "colour": o.colour, "size": o.size, "motion": o.motion,
                "background": self.background}

    def to_dict(self) -> dict:
        return {"objects": [asdict(o) for o in self.objects], "background": self.background}

    @classmethod
    def from_dict(cls, d: dict) -> "ClipSpec":
        return cls(tuple(ObjectSpec(**o) for o in d["objects"]), d["background"])


def _feasible_anchor(obj: ObjectSpec, rng: np.random.Generator) -> tuple[float, float]:
    """An anchor that keeps the whole object inside the frame for CLIP_SECONDS."""
    t = torch.linspace(0, CLIP_SECONDS, 41)
    probe = ObjectSpec(obj.shape, obj.colour, obj.size, obj.motion, 0.0, 0.0, obj.phase)
    dx, dy, r, _ = probe.trajectory(t)
    reach = float(r.max()) * EXTENT.get(obj.shape, 1.0) + MARGIN
    lo_x, hi_x = reach - float(dx.min()), 1 - reach - float(dx.max())
    lo_y, hi_y = reach - float(dy.min()), 1 - reach - float(dy.max())
    if lo_x > hi_x or lo_y > hi_y:
        raise SpecError(f"a {obj.size} {obj.shape} {obj.motion} does not fit in the frame")
    return float(rng.uniform(lo_x, hi_x)), float(rng.uniform(lo_y, hi_y))


def sample_object(rng: np.random.Generator, fixed: dict[str, str] | None = None, background: str = "black",
                  allow=lambda attrs: True, tries: int = 1000) -> ObjectSpec:
    """An object with the `fixed` attributes and the rest drawn at random (respecting `allow`)."""
    fixed = fixed or {}
    if (fixed.get("shape"), fixed.get("motion")) in INVISIBLE:
        raise SpecError(f"a {fixed['shape']} looks the same when it rotates; pick another shape or motion")
    if (fixed.get("colour"), background) in CLASHES:
        raise SpecError(f"a {fixed['colour']} object is invisible on a {background} background; "
                        "pick another colour or background")
    pools = {"shape": SHAPES, "colour": tuple(COLOURS), "size": tuple(SIZES), "motion": MOTIONS}
    for _ in range(tries):
        attrs = {k: fixed.get(k) or pools[k][rng.integers(len(pools[k]))] for k in pools}
        if (attrs["shape"], attrs["motion"]) in INVISIBLE or (attrs["colour"], background) in CLASHES:
            continue
        if not allow({**attrs, "background": background}):
            continue
        phase = float(rng.uniform(0, 2 * math.pi))
        obj = ObjectSpec(**attrs, phase=phase)
        x, y = _feasible_anchor(obj, rng)
        return ObjectSpec(**attrs, x=x, y=y, phase=phase)
    raise SpecError(f"no valid object with {fixed} on a {background} background")


def sample_spec(rng: np.random.Generator, objects: list[dict] | None = None, background: str | None = None,
                n_objects: int = 1, allow=lambda attrs: True) -> ClipSpec:
    """A clip spec; `objects` and `background` fix what they name, the rest comes from `rng`."""
    objects = objects or [{} for _ in range(n_objects)]
    for _ in range(1000):
        bg = background or BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
        if any((o.get("colour"), bg) in CLASHES for o in objects):
            if background:
                raise SpecError(f"a {objects[0].get('colour')} object is invisible on a {bg} background")
            continue
        try:
            objs = tuple(sample_object(rng, o, bg, allow, tries=200) for o in objects)
        except SpecError:
            if background:
                raise
            continue
        if len(objs) == 2 and (objs[0].shape, objs[0].colour) == (objs[1].shape, objs[1].colour):
            continue
        return ClipSpec(objs, bg)
    raise SpecError(f"no valid clip with objects {objects} and background {background}")
