"""Captions from templates with synonyms, and the prompt parser (prompt -> spec).

The parser reads the same words the captions use; a word it does not know is named in the error, with
the closest known words, so users learn the vocabulary from the message.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import numpy as np

from .spec import ClipSpec, SpecError, sample_spec
from .vocab import BACKGROUND_WORDS, COLOUR_WORDS, MOTION_WORDS, SHAPE_WORDS, SIZE_WORDS, known_words

TEMPLATES = (
    "a {size}{colour} {shape} {motion} on a {background} background",
    "a {size}{colour} {shape} {motion} against a {background} backdrop",
    "a {size}{colour} {shape} {motion} over a {background} background",
    "a {size}{colour} {shape}, {motion}, on a {background} background",
)
FILLERS = {"a", "an", "the", "one", "that", "is", "which", "shape", "object", "coloured", "colored"}
BACKGROUND_FILLERS = {"a", "an", "the", "background", "backdrop", "scene"}
BACKGROUND_MARKERS = (" on ", " against ", " over ", " in front of ")
OBJECT_SPLIT = re.compile(r"\band (?:a|an|the|one) ")

# the other forms of the captions' verbs that users type ("a red circle rotates", "bounce", "moves left"), by the
# -ing form the captions use; "circling" has none (its "circle" is a shape)
VERB_FORMS = {
    "moving": ("move", "moves"), "sliding": ("slide", "slides"), "drifting": ("drift", "drifts"),
    "going": ("go", "goes"), "rising": ("rise", "rises"), "floating": ("float", "floats"), "falling": ("fall", "falls"),
    "sinking": ("sink", "sinks"), "bouncing": ("bounce", "bounces"), "hopping": ("hop", "hops"),
    "rotating": ("rotate", "rotates"), "spinning": ("spin", "spins"), "turning": ("turn", "turns"),
    "growing": ("grow", "grows"), "expanding": ("expand", "expands"), "getting": ("get", "gets"),
    "shrinking": ("shrink", "shrinks"), "contracting": ("contract", "contracts"), "orbiting": ("orbit", "orbits"),
    "standing": ("stand", "stands"), "staying": ("stay", "stays"), "resting": ("rest", "rests"),
}
_CAPTION_FORM = {form: ing for ing, forms in VERB_FORMS.items() for form in forms}


def world_wording(prompt: str) -> str:
    """The prompt with each verb put in the form the captions use ('rotates' → 'rotating'), all else as it was."""
    return re.sub(r"[A-Za-z]+", lambda m: _CAPTION_FORM.get(m.group(0).lower(), m.group(0)), prompt)


_OBJECT_TABLES = {"shape": SHAPE_WORDS, "colour": COLOUR_WORDS, "size": SIZE_WORDS, "motion": MOTION_WORDS}


MOTIONS_SAID = ("moving left/right/up/down, moving up and left (and the other diagonals), bouncing, rotating, growing, "
                "shrinking, orbiting, standing still")


class UnknownWordsError(ValueError):
    """A prompt with words outside the world's vocabulary."""

    def __init__(self, words: list[str]):
        self.words = words
        phrases = [p for ws in known_words().values() for p in ws]
        singles = sorted({p for p in phrases if " " not in p})
        hints = []
        for w in words:
            within = sorted((p for p in phrases if w in p.split()), key=len)
            close = difflib.get_close_matches(w, singles, n=2)
            if within:
                hint = f" (only in phrases such as {', '.join(repr(p) for p in within[:3])})"
            elif close:
                hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)"
            else:
                hint = ""
            hints.append(f"'{w}'{hint}")
        super().__init__("unknown words: " + ", ".join(hints) +
                         ". Known shapes: " + ", ".join(SHAPE_WORDS) + "; colours: " + ", ".join(COLOUR_WORDS) +
                         "; sizes: " + ", ".join(SIZE_WORDS) + "; motions: " + MOTIONS_SAID +
                         "; backgrounds: " + ", ".join(BACKGROUND_WORDS) + ". All words: `flipbook words`.")


def _phrase(table: dict[str, list[str]], value: str, rng: np.random.Generator) -> str:
    words = table[value]
    return words[rng.integers(len(words))]


def caption(spec: ClipSpec, rng: np.random.Generator, size_prob: float = 0.8) -> str:
    """A caption for `spec`, with synonyms and a template drawn from `rng`."""
    template = TEMPLATES[rng.integers(len(TEMPLATES))]
    parts = []
    for i, o in enumerate(spec.objects):
        size = _phrase(SIZE_WORDS, o.size, rng) + " " if rng.random() < size_prob else ""
        text = template.split(" on ")[0].split(" against ")[0].split(" over ")[0].rstrip(",")
        parts.append(text.format(size=size, colour=_phrase(COLOUR_WORDS, o.colour, rng),
                                 shape=_phrase(SHAPE_WORDS, o.shape, rng), motion=_phrase(MOTION_WORDS, o.motion, rng)))
    tail = template[len(template.split(" on ")[0].split(" against ")[0].split(" over ")[0]):]
    text = " and ".join(parts) + tail.format(background=_phrase(BACKGROUND_WORDS, spec.background, rng))
    return re.sub(r"\ba ([aeiou])", r"an \1", text)


def _normalise(prompt: str) -> str:
    text = world_wording(prompt).lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    return " " + re.sub(r"\s+", " ", text).strip() + " "


def _match(tokens: list[str], tables: dict[str, dict[str, list[str]]], fillers: set[str]):
    """Greedy longest-phrase matching: ({attribute: [values]}, [unknown tokens])."""
    phrases = {}
    for attr, table in tables.items():
        for value, words in table.items():
            for w in words:
                phrases[tuple(w.split())] = (attr, value)
    longest = max(len(p) for p in phrases)
    found, unknown, i = {}, [], 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            hit = phrases.get(tuple(tokens[i:i + n]))
            if hit:
                found.setdefault(hit[0], []).append(hit[1])
                i += n
                break
        else:
            if tokens[i] not in fillers:
                unknown.append(tokens[i])
            i += 1
    return found, unknown


@dataclass
class Prompt:
    """What a prompt fixes: per object the attributes it names, and the background if named."""
    objects: list[dict[str, str]] = field(default_factory=lambda: [{}])
    background: str | None = None

    def attributes(self) -> dict[str, str]:
        """The named attributes of the first object and the background (what the judge can check)."""
        named = dict(self.objects[0])
        if self.background:
            named["background"] = self.background
        return named

    def to_spec(self, seed: int = 0) -> ClipSpec:
        """Fill what the prompt leaves open from `seed`: same (prompt, seed), same spec."""
        return sample_spec(np.random.default_rng(seed), [dict(o) for o in self.objects], self.background)


def parse_prompt(prompt: str) -> Prompt:
    """Prompt -> the attributes it names. Raises UnknownWordsError or SpecError with what to fix."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise SpecError("the prompt is empty; describe a clip, e.g. 'a red circle moving left on a black background'")
    if len(prompt) > 500:
        raise SpecError(f"the prompt has {len(prompt)} characters; keep it under 500")
    text = _normalise(prompt)
    if not text.strip():
        raise SpecError("the prompt is empty (it has no words); describe a clip, e.g. "
                        "'a red circle moving left on a black background'")
    symbols = [w for w in prompt.split() if any(not c.isascii() and not c.isalpha() for c in w)]  # emoji, signs
    obj_text, bg_text = text, ""
    cut = min((text.find(m) for m in BACKGROUND_MARKERS if m in text), default=-1)
    if cut >= 0:
        marker = next(m for m in BACKGROUND_MARKERS if text.find(m) == cut)
        obj_text, bg_text = text[:cut] + " ", text[cut + len(marker):]
    unknown, objects = symbols, []
    for clause in OBJECT_SPLIT.split(obj_text.strip() + " "):
        found, bad = _match(clause.split(), _OBJECT_TABLES, FILLERS)
        unknown += bad
        for attr, values in found.items():
            if len(set(values)) > 1:
                raise SpecError(f"one object has two {attr}s ({', '.join(values)}); join objects with 'and a'")
        objects.append({attr: values[0] for attr, values in found.items()})
    bg_found, bad = _match(bg_text.split(), {"background": BACKGROUND_WORDS}, BACKGROUND_FILLERS)
    unknown += bad
    if unknown:
        raise UnknownWordsError(list(dict.fromkeys(unknown)))
    if len(objects) > 2:
        raise SpecError(f"the prompt names {len(objects)} objects; a clip holds one or two")
    backgrounds = bg_found.get("background", [])
    if len(set(backgrounds)) > 1:
        raise SpecError(f"the prompt names two backgrounds ({', '.join(backgrounds)}); keep one")
    return Prompt(objects, backgrounds[0] if backgrounds else None)


def prompt_to_spec(prompt: str, seed: int = 0) -> ClipSpec:
    return parse_prompt(prompt).to_spec(seed)
