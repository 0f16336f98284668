"""Motion plans: for every keyframe, where frame 0's object and camera have gone (engine/motion/README.md).

A plan is a per-frame flow in closed form: the object's region moves by a similarity transform about its
own centre (a shift, a rotation and a scale, relative to frame 0), and the whole frame by a camera move
(a shift and a zoom about the frame centre). It is made from

- the motion words of a prompt in the world's vocabulary (`plan_from_prompt`): all 14 motions at the world's
  own speeds, through the same `ObjectSpec.trajectory` that renders the world's clips;
- explicit controls that work for any model (`plan_from_controls`): a direction or a camera move
  (`--motion`), a `--speed` factor, or a path of points the object follows (`--path`).

Plans are plain data: `to_dict` goes into a sidecar and `from_dict` replays it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..validate import check_number
from ..world import ObjectSpec, parse_prompt
from ..world.spec import GROWTH, LINEAR_SPEED
from ..world.vocab import CAMERA_MOVES as CAMERA_NAMES, CLIP_SECONDS, MOTIONS

CAMERA_MOVES = dict(zip(CAMERA_NAMES, (  # the content's shift per second (frame units) and zoom exponent:
    (LINEAR_SPEED, 0.0, 0.0), (-LINEAR_SPEED, 0.0, 0.0),   # pan-left, pan-right: the camera goes the other way
    (0.0, LINEAR_SPEED, 0.0), (0.0, -LINEAR_SPEED, 0.0),   # tilt-up, tilt-down
    (0.0, 0.0, 1.0), (0.0, 0.0, -1.0))))                   # zoom-in, zoom-out
MOTION_CHOICES = MOTIONS + tuple(CAMERA_MOVES)
MAX_SPEED = 4.0


class PlanError(ValueError):
    """A motion plan that cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class MotionPlan:
    """Per keyframe k (frame 0 first, where every entry is the identity):

    shift  (dx, dy) of the object's centre, in frame units (x right, y down);
    angle  the object's rotation in the world's convention (radians; `render` rotates the world by it);
    scale  the object's size relative to frame 0;
    camera (dx, dy, zoom) of the whole frame's content about the frame centre.
    `anchor`: where frame 0's object centre is put (frame units), or None to keep it where the model drew it.
    """
    shift: tuple[tuple[float, float], ...]
    angle: tuple[float, ...]
    scale: tuple[float, ...]
    camera: tuple[tuple[float, float, float], ...]
    source: str = ""
    anchor: tuple[float, float] | None = None

    @property
    def frames(self) -> int:
        return len(self.shift)

    @property
    def moves_object(self) -> bool:
        return any(s != (0.0, 0.0) for s in self.shift) or any(self.angle) or any(s != 1.0 for s in self.scale)

    @property
    def moves_camera(self) -> bool:
        return any(c != (0.0, 0.0, 1.0) for c in self.camera)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MotionPlan":
        try:
            return cls(tuple(tuple(map(float, s)) for s in d["shift"]), tuple(map(float, d["angle"])),
                       tuple(map(float, d["scale"])), tuple(tuple(map(float, c)) for c in d["camera"]),
                       str(d.get("source", "")), tuple(map(float, d["anchor"])) if d.get("anchor") else None)
        except (KeyError, TypeError, ValueError) as e:
            raise PlanError(f"the recorded motion plan is damaged ({e}); generate again without --from") from None


def still_plan(frames: int, source: str = "still", anchor=None) -> MotionPlan:
    return MotionPlan(((0.0, 0.0),) * frames, (0.0,) * frames, (1.0,) * frames, ((0.0, 0.0, 1.0),) * frames,
                      source, anchor)


def _times(frames: int, fps: float, speed: float) -> torch.Tensor:
    if not 0 < speed <= MAX_SPEED:
        raise PlanError(f"speed must be above 0 and at most {MAX_SPEED:g} (1 is the world's own), got {speed}")
    return torch.arange(frames, dtype=torch.float64) / fps * speed


def object_plan(motion: str, frames: int, fps: float, speed: float = 1.0, phase: float = 0.0) -> MotionPlan:
    """The world's own motion `motion` (one of MOTIONS), sampled at the keyframe times: the trajectory of a
    square (any shape moves alike) relative to frame 0."""
    if motion not in MOTIONS:
        raise PlanError(f"unknown motion {motion!r}; choose one of: {', '.join(MOTION_CHOICES)}")
    x, y, r, a = ObjectSpec("square", "red", "medium", motion, 0.0, 0.0, phase).trajectory(
        _times(frames, fps, speed))
    shift = tuple((float(dx), float(dy)) for dx, dy in zip(x - x[0], y - y[0]))
    return MotionPlan(shift, tuple(float(v) for v in a - a[0]), tuple(float(v) for v in r / r[0]),
                      ((0.0, 0.0, 1.0),) * frames, f"motion:{motion}")


def camera_plan(move: str, frames: int, fps: float, speed: float = 1.0) -> MotionPlan:
    """A camera move (one of CAMERA_MOVES): the whole frame's content shifts or zooms, the object with it."""
    if move not in CAMERA_MOVES:
        raise PlanError(f"unknown camera move {move!r}; choose one of: {', '.join(CAMERA_MOVES)}")
    dx, dy, zoom = CAMERA_MOVES[move]
    t = _times(frames, fps, speed)
    camera = tuple((float(dx * s), float(dy * s), float(GROWTH ** (zoom * s / CLIP_SECONDS))) for s in t)
    return MotionPlan(((0.0, 0.0),) * frames, (0.0,) * frames, (1.0,) * frames, camera, f"camera:{move}")


def path_plan(points: list[tuple[float, float]], frames: int) -> MotionPlan:
    """The object follows a path of points (frame units, (0, 0) top left), at an even pace along its length;
    frame 0's object is put at the first point."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
        raise PlanError("a path needs at least two points 'x,y' (frame units, 0 to 1), e.g. --path 0.2,0.5 0.8,0.5")
    if not np.isfinite(pts).all() or pts.min() < 0 or pts.max() > 1:
        raise PlanError(f"path points must lie in the frame (0 to 1), got {points}")
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.linspace(0, along[-1], frames) if along[-1] > 0 else np.zeros(frames)
    xs, ys = np.interp(s, along, pts[:, 0]), np.interp(s, along, pts[:, 1])
    shift = tuple((float(x - xs[0]), float(y - ys[0])) for x, y in zip(xs, ys))
    return MotionPlan(shift, (0.0,) * frames, (1.0,) * frames, ((0.0, 0.0, 1.0),) * frames, "path",
                      (float(xs[0]), float(ys[0])))


def plan_from_prompt(prompt: str, frames: int, fps: float, speed: float = 1.0, seed: int = 0) -> MotionPlan | None:
    """The plan a world prompt's motion words ask for (its first object's), or None when it names no motion or
    is not a world prompt (a model of one's own takes any text). An orbit's starting angle comes from the seed."""
    try:
        motion = parse_prompt(prompt).objects[0].get("motion")
    except ValueError:  # not the world's words or grammar (SpecError and UnknownWordsError are ValueErrors)
        return None
    if motion is None:
        return None
    phase = float(np.random.default_rng(seed).uniform(0, 2 * math.pi)) if motion == "orbit" else 0.0
    plan = object_plan(motion, frames, fps, speed, phase)
    return MotionPlan(plan.shift, plan.angle, plan.scale, plan.camera, f"prompt:{motion}")


def plan_from_controls(motion: str | None, frames: int, fps: float, speed: float = 1.0,
                       path: list[tuple[float, float]] | None = None) -> MotionPlan | None:
    """The plan explicit controls ask for: a path, or a motion (an object motion or a camera move)."""
    if path:
        if motion:
            raise PlanError("give either a motion (--motion) or a path (--path), not both")
        return path_plan(path, frames)
    if not motion:
        return None
    if motion in CAMERA_MOVES:
        return camera_plan(motion, frames, fps, speed)
    return object_plan(motion, frames, fps, speed)


def parse_path(text: str) -> list[tuple[float, float]]:
    """'x,y x,y …' -> points (the CLI's and the studio's path field)."""
    try:
        return [tuple(float(v) for v in p.split(",")) for p in text.replace(";", " ").split()]
    except ValueError:
        raise PlanError(f"a path is points 'x,y' separated by spaces (frame units, 0 to 1), got {text!r}") from None


def motion_plan_for(prompt: str, frames: int, fps: float, seed: int, motion: str | None = None, speed: float = 1.0,
                    path: str | list | None = None, from_prompt: bool = True, plan: dict | None = None) -> MotionPlan | None:
    """The plan a generation (or an edit) follows: a recorded one (`plan`, a sidecar's dict), the explicit controls (a
    motion or camera move, a path), or by default the prompt's motion words (`from_prompt=False` is the
    ablation). None: sample without a plan."""
    if plan is not None:
        plan = MotionPlan.from_dict(plan)
        if plan.frames != frames:
            raise ValueError(f"the recorded motion plan has {plan.frames} frames, the clip {frames}")
        return plan
    speed = check_number(speed, "speed", 0.01, MAX_SPEED)
    path = parse_path(path) if isinstance(path, str) and path.strip() else path or None
    if motion or path:
        return plan_from_controls(motion, frames, fps, speed, path)
    if from_prompt:
        return plan_from_prompt(prompt, frames, fps, speed, seed)
    return None
