"""The world's vocabulary: every attribute a clip can have, and the words a caption may use for it.

Geometry is in frame units: x and y in [0, 1] of the frame (y down), sizes as a radius in frame heights.
Time is continuous, in seconds; a canonical clip lasts `CLIP_SECONDS`, and every sampled spec keeps its
objects fully inside the frame for that long.
"""

CLIP_SECONDS = 4.0

SHAPES = ("circle", "square", "triangle", "star", "ring", "diamond")
COLOURS = {  # linear-ish sRGB in [0, 1]
    "red": (0.90, 0.12, 0.12),
    "orange": (1.00, 0.55, 0.05),
    "yellow": (0.98, 0.92, 0.10),
    "green": (0.15, 0.75, 0.20),
    "cyan": (0.10, 0.90, 0.95),
    "blue": (0.15, 0.30, 1.00),
    "purple": (0.62, 0.20, 0.85),
    "white": (0.97, 0.97, 0.97),
}
SIZES = {"small": 0.13, "medium": 0.18, "large": 0.24}
MOTIONS = (
    "left", "right", "up", "down", "up-left", "up-right", "down-left", "down-right",
    "bounce", "rotate", "grow", "shrink", "orbit", "still",
)
CAMERA_MOVES = ("pan-left", "pan-right", "tilt-up", "tilt-down", "zoom-in", "zoom-out")  # motion plans' camera
BACKGROUNDS = ("black", "gray", "white", "sunset", "ocean", "checkerboard")

# Motions whose effect a shape cannot show (a spinning circle looks still).
INVISIBLE = {("circle", "rotate"), ("ring", "rotate")}
# Object colours that vanish on a background.
CLASHES = {("white", "white"), ("yellow", "white")}

# Caption words. The first entry of each list is the canonical word used in error messages and the studio.
SHAPE_WORDS = {
    "circle": ["circle", "disc", "disk", "ball"],
    "square": ["square", "box"],
    "triangle": ["triangle"],
    "star": ["star"],
    "ring": ["ring", "donut", "hoop"],
    "diamond": ["diamond", "rhombus"],
}
COLOUR_WORDS = {
    "red": ["red", "crimson", "scarlet"],
    "orange": ["orange", "tangerine"],
    "yellow": ["yellow", "golden"],
    "green": ["green", "emerald"],
    "cyan": ["cyan", "turquoise", "aqua"],
    "blue": ["blue", "azure", "cobalt"],
    "purple": ["purple", "violet", "magenta"],
    "white": ["white", "snowy"],
}
SIZE_WORDS = {
    "small": ["small", "tiny", "little"],
    "medium": ["medium", "medium sized", "mid sized"],
    "large": ["large", "big", "huge"],
}
MOTION_WORDS = {
    "left": ["moving left", "sliding left", "drifting to the left", "going left", "moving to the left"],
    "right": ["moving right", "sliding right", "drifting to the right", "going right", "moving to the right"],
    "up": ["moving up", "rising", "floating upward", "going up", "moving upward"],
    "down": ["moving down", "falling", "sinking", "going down", "moving downward"],
    "up-left": ["moving up and left", "moving diagonally up left", "drifting up and to the left"],
    "up-right": ["moving up and right", "moving diagonally up right", "drifting up and to the right"],
    "down-left": ["moving down and left", "moving diagonally down left", "drifting down and to the left"],
    "down-right": ["moving down and right", "moving diagonally down right", "drifting down and to the right"],
    "bounce": ["bouncing", "hopping", "bouncing up and down"],
    "rotate": ["rotating", "spinning", "turning"],
    "grow": ["growing", "getting bigger", "expanding"],
    "shrink": ["shrinking", "getting smaller", "contracting"],
    "orbit": ["orbiting", "circling", "going around in circles", "moving in a circle"],
    "still": ["standing still", "staying still", "resting", "not moving", "still"],
}
BACKGROUND_WORDS = {
    "black": ["black", "dark"],
    "gray": ["gray", "grey"],
    "white": ["white", "bright"],
    "sunset": ["sunset", "sunset gradient", "warm gradient"],
    "ocean": ["ocean", "ocean gradient", "sea"],
    "checkerboard": ["checkerboard", "checkered", "chequered", "checker"],
}

ATTRIBUTES = {  # attribute name -> its classes, in the order every classifier head uses
    "shape": SHAPES,
    "colour": tuple(COLOURS),
    "size": tuple(SIZES),
    "motion": MOTIONS,
    "background": BACKGROUNDS,
}


def known_words() -> dict[str, list[str]]:
    """Every word or phrase the prompt parser understands, by attribute (what the studio shows users)."""
    table = {"shape": SHAPE_WORDS, "colour": COLOUR_WORDS, "size": SIZE_WORDS,
             "motion": MOTION_WORDS, "background": BACKGROUND_WORDS}
    return {name: sorted({w for words in t.values() for w in words}) for name, t in table.items()}
