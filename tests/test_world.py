import time

import numpy as np
import pytest
import torch

from engine.world import (ATTRIBUTES, CLIP_SECONDS, ClipSpec, ObjectSpec, SpecError, UnknownWordsError,
                          WorldVideos, collate, known_words, parse_prompt, prompt_to_spec, render, render_at,
                          sample_split_spec, spec_is_held_out)
from engine.world.splits import HELD_OUT_PAIRS, is_held_out

PROMPT = "a red circle moving left on a black background"


def test_same_spec_and_seed_give_identical_frames():
    a = render(prompt_to_spec(PROMPT, 7), 64, 8, 16)
    b = render(prompt_to_spec(PROMPT, 7), 64, 8, 16)
    assert torch.equal(a, b)
    c = render(prompt_to_spec(PROMPT, 8), 64, 8, 16)
    assert not torch.equal(a, c), "another seed places the circle elsewhere"


def test_render_16_frames_at_64_is_fast():
    spec = prompt_to_spec("a big white star spinning on a checkerboard", 0)
    render(spec, 64, 8, 16)
    start = time.perf_counter()
    for _ in range(10):
        render(spec, 64, 8, 16)
    per_clip = (time.perf_counter() - start) / 10
    assert per_clip < 0.25, f"{per_clip:.3f}s for 16 frames at 64²"


def test_continuous_time_any_rate_and_resolution():
    spec = prompt_to_spec("a blue square moving right on a gray background", 3)
    at8 = render(spec, 32, fps=8, frames=17)
    at2 = render(spec, 32, fps=2, frames=5)
    assert torch.allclose(at8[::4], at2), "frame k at 2 fps is frame 4k at 8 fps"
    big = render(spec, 128, 8, 2)
    small = torch.nn.functional.avg_pool2d(big, 4)
    assert (small - render(spec, 32, 8, 2)).abs().mean() < 0.02, "resolutions agree after area downsampling"
    wide = render(spec, (32, 48), 8, 2)
    assert wide.shape == (2, 3, 32, 48)


def test_edges_are_anti_aliased():
    v = render(prompt_to_spec("a large red circle standing still on a black background", 0), 64, 8, 1)
    red = v[0, 0]
    partial = ((red > 0.1) & (red < 0.85)).sum().item()
    assert partial > 20, "edge pixels blend object and background"


def test_motion_goes_where_the_prompt_says():
    def centroid(prompt):
        v = render(prompt_to_spec(prompt, 1), 64, 4, 9)
        mask = (v - v[:, :, :1, :1]).abs().sum(1) > 0.3  # differs from the corner (background)
        ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
        return torch.stack([(xs * m).sum() / m.sum() for m in mask]), torch.stack([(ys * m).sum() / m.sum() for m in mask])

    x, y = centroid("a red circle moving left on a black background")
    assert x[-1] < x[0] - 5 and abs(y[-1] - y[0]) < 1
    x, y = centroid("a red circle moving up and right on a black background")
    assert x[-1] > x[0] + 3 and y[-1] < y[0] - 3
    x, y = centroid("a red circle standing still on a black background")
    assert abs(x[-1] - x[0]) < 0.1 and abs(y[-1] - y[0]) < 0.1


@pytest.mark.parametrize("index", range(200))
def test_objects_stay_inside_the_frame(index):
    spec, _ = sample_split_spec("train", index)
    v = render_at(spec, torch.linspace(0, CLIP_SECONDS, 9), 48)
    border = torch.cat([v[..., 0, :], v[..., -1, :], v[..., :, 0], v[..., :, -1]], dim=-1)
    from engine.world.render import render_background

    ref = render_background(spec.background, 48, 48)
    ref_border = torch.cat([ref[..., 0, :], ref[..., -1, :], ref[..., :, 0], ref[..., :, -1]], dim=-1)
    assert (border - ref_border).abs().max() < 0.02, f"{spec} touches the border"


def test_captions_parse_back_to_their_spec():
    for split in ("train", "val", "heldout"):
        for i in range(300):
            spec, text = sample_split_spec(split, i)
            named = parse_prompt(text).attributes()
            truth = spec.attributes()
            assert all(truth[k] == v for k, v in named.items()), (text, named, truth)
            assert {"shape", "colour", "motion", "background"} <= set(named)


def test_synonyms_and_paraphrases():
    p = parse_prompt("A huge crimson disc, SLIDING LEFT, against a chequered backdrop!")
    assert p.attributes() == {"size": "large", "colour": "red", "shape": "circle", "motion": "left",
                              "background": "checkerboard"}
    two = parse_prompt("a red circle moving up and left and a blue square falling on a sea background")
    assert [o.get("motion") for o in two.objects] == ["up-left", "down"]
    assert len(prompt_to_spec("a red circle and a blue square on black", 0).objects) == 2


def test_unknown_words_are_named():
    with pytest.raises(UnknownWordsError) as err:
        parse_prompt("a red hexagon moving sideways on a blak background")
    message = str(err.value)
    assert "'hexagon'" in message and "'sideways'" in message and "'blak'" in message
    assert "did you mean 'black'" in message


@pytest.mark.parametrize("prompt, fragment", [
    ("", "empty"),
    ("   ", "empty"),
    ("x" * 600, "under 500"),
    ("a red circle spinning on black", "looks the same when it rotates"),
    ("a white star on a white background", "invisible"),
    ("a red blue circle", "two colours"),
    ("a red circle and a blue square and a green star", "one or two"),
])
def test_invalid_prompts_say_what_to_fix(prompt, fragment):
    with pytest.raises(SpecError, match=fragment):
        prompt_to_spec(prompt, 0)


def test_splits_keep_held_out_combinations_out_of_training():
    for i in range(2000):
        for split in ("train", "val"):
            spec, _ = sample_split_spec(split, i)
            assert not spec_is_held_out(spec)
    held = [sample_split_spec("heldout", i)[0] for i in range(300)]
    assert all(spec_is_held_out(s) for s in held)
    pairs_seen = {(a, b): set() for a, b in HELD_OUT_PAIRS}
    for s in held:
        at = s.attributes()
        for (a, b), pairs in HELD_OUT_PAIRS.items():
            if (at[a], at[b]) in pairs:
                pairs_seen[(a, b)].add((at[a], at[b]))
    assert all(len(seen) >= 3 for seen in pairs_seen.values()), "held-out clips cover many held-out pairs"


def test_train_and_val_draw_different_clips():
    train = {sample_split_spec("train", i)[0] for i in range(300)}
    val = {sample_split_spec("val", i)[0] for i in range(300)}
    assert not train & val


def test_dataset_yields_video_caption_and_labels():
    ds = WorldVideos("val", length=4, size=24, fps=4, frames=6)
    item = ds[2]
    assert item["video"].shape == (3, 6, 24, 24) and item["video"].dtype == torch.float32
    assert 0 <= item["video"].min() and item["video"].max() <= 1
    assert isinstance(item["caption"], str) and parse_prompt(item["caption"])
    batch = collate([ds[i] for i in range(4)])
    assert batch["video"].shape == (4, 3, 6, 24, 24)
    assert set(batch["labels"]) == set(ATTRIBUTES)
    with pytest.raises(IndexError):
        ds[4]


def test_spec_round_trips_through_json():
    spec = prompt_to_spec("a red circle and a blue square on black", 5)
    assert ClipSpec.from_dict(spec.to_dict()) == spec


def test_every_known_word_parses_to_its_class():
    from engine.world.vocab import BACKGROUND_WORDS, COLOUR_WORDS, MOTION_WORDS, SHAPE_WORDS, SIZE_WORDS

    assert set(known_words()) == set(ATTRIBUTES)
    for value, words in SHAPE_WORDS.items():
        assert all(parse_prompt(f"a {w}").objects[0]["shape"] == value for w in words)
    for value, words in COLOUR_WORDS.items():
        assert all(parse_prompt(f"a {w} star").objects[0]["colour"] == value for w in words)
    for value, words in SIZE_WORDS.items():
        assert all(parse_prompt(f"a {w} star").objects[0]["size"] == value for w in words)
    for value, words in MOTION_WORDS.items():
        assert all(parse_prompt(f"a star {w}").objects[0]["motion"] == value for w in words)
    for value, words in BACKGROUND_WORDS.items():
        assert all(parse_prompt(f"a star on a {w} background").background == value for w in words)


@pytest.mark.parametrize("said, caption_form", [
    ("a red circle rotate on a black background", "a red circle rotating on a black background"),
    ("a big blue star that bounces over the ocean", "a big blue star that bouncing over the ocean"),
    ("a small green square grows against a gray backdrop", "a small green square growing against a gray backdrop"),
    ("a white ring moves left on a black background", "a white ring moving left on a black background"),
    ("a circle spins", "a circle spinning"),
])
def test_the_readmes_verb_forms_read_as_the_captions_do(said, caption_form):
    from engine.world import world_wording

    assert world_wording(said) == caption_form
    assert parse_prompt(said) == parse_prompt(caption_form)


def test_an_unknown_word_names_every_kind_of_word_and_where_to_find_them():
    from engine.world import UnknownWordsError

    with pytest.raises(UnknownWordsError) as e:
        parse_prompt("a red hexagon")
    for kind in ("shapes:", "colours:", "sizes: small", "motions: moving left/right", "rotating", "backgrounds:",
                 "All words: `flipbook words`"):
        assert kind in str(e.value)
