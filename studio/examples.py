"""The example prompts every tab offers and the world's words as the page lists them."""
from __future__ import annotations

from engine.world.vocab import BACKGROUND_WORDS, COLOUR_WORDS, MOTION_WORDS, SHAPE_WORDS, SIZE_WORDS

EXAMPLES = [
    "a red circle moving left on a black background",
    "a big yellow star spinning against a sunset backdrop",
    "a small cyan triangle bouncing on a checkerboard background",
    "a purple ring orbiting over an ocean background",
    "a large green diamond shrinking on a gray background",
]


def words_markdown() -> str:
    tables = {"shape": SHAPE_WORDS, "colour": COLOUR_WORDS, "size": SIZE_WORDS, "motion": MOTION_WORDS,
              "background": BACKGROUND_WORDS}
    rows = [f"- **{attr}**: " + "; ".join(" / ".join(ws) for ws in t.values()) for attr, t in tables.items()]
    return ("Synonyms are joined by /; an unknown word is answered with the closest known one. One or two objects "
            "(join them with *and a*), then *on / against / over a … background*.\n\n" + "\n".join(rows))
