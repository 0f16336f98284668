"""The studio's Interpolate and Upscale tabs, Generate down the cascade and Compare's interpolation methods, through
their API (gradio_client), as functions, and in headless Chromium (Playwright), on tiny settings. Their models are
made here by the engine's own trainers, one or two steps each on the tiny base: both interpolation models (group,
masked), a ×2 image SR model with a temporal video mode, a VAE, an expert (t ≤ 900) and a temporal decoder, so every
path runs whether or not assets/interp, assets/sr/video-*, assets/expert and assets/decoder are trained yet."""
import json
import os
from pathlib import Path

import pytest

from engine.registry import STAGE_STEPS

from test_studio import CHROMIUM, _free_port, _plays, _shots

PROMPT = "a red circle moving left on a black background"
WORLD, UPLOADED = "a world clip", "my clip"
SKIP = {"__type__": "update"}  # a gr.skip() output, as gradio_client returns it


@pytest.fixture(scope="module")
def models(base_dir, tmp_path_factory):
    """{interp_dir, sr_dir, expert_dir, decoder_dir}: group and masked interpolators, a ×2 image SR model and its
    temporal mode, 1 step each; a 32² VAE, its expert (expert_dir/t900) and a conv1d-attn temporal decoder, 1–2 steps
    each (as tests/test_cascade.py makes them)."""
    from engine.training.interpolation import train_interpolator
    from engine.training.sr import train_sr_image, train_sr_video
    from studio.cli import main

    root = tmp_path_factory.mktemp("cascade")
    for args in (["train-vae", "--steps", "2", "--batch-size", "2", "--size", "32", "--crop", "32", "--channels",
                  "8,16,16", "--out", str(root / "vae")],
                 ["train-expert", "--steps", "2", "--batch-size", "2", "--frames", "3", "--channels", "16,32,32",
                  "--vae", str(root / "vae"), "--model", str(base_dir), "--out", str(root / "expert" / "t900")],
                 ["train-decoder", "--variant", "conv1d-attn", "--steps", "1", "--batch-size", "1", "--frames", "3",
                  "--crop", "32", "--vae", str(root / "vae"), "--out", str(root / "decoder" / "conv1d-attn")]):
        assert main([*args, "--work-dir", str(root / f"run-{args[0]}")]) == 0
    for method in ("group", "masked"):
        train_interpolator(method, root / "interp" / method, steps=1, batch_size=1, base=base_dir,
                           work_dir=root / f"run-{method}", keyframes=3, size=16)
    train_sr_image(root / "sr" / "image", steps=1, batch_size=1, base=base_dir, work_dir=root / "run-sr", low=8,
                   scale=2, crop=16, channels=(8, 16, 16))
    train_sr_video("temporal", root / "sr" / "video-temporal", steps=1, image=root / "sr" / "image",
                   work_dir=root / "run-sr-temporal", frames=3)
    return {"interp_dir": str(root / "interp"), "sr_dir": str(root / "sr"), "expert_dir": str(root / "expert"),
            "decoder_dir": str(root / "decoder")}


@pytest.fixture(scope="module")
def studio(models, tmp_path_factory):
    from studio.app import Outputs, build_app

    outputs = Outputs(tmp_path_factory.mktemp("outputs"))
    app = build_app(outputs, model=models)
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", outputs.root
    app.close()


@pytest.fixture(scope="module")
def client(studio):
    from gradio_client import Client

    return Client(studio[0], verbose=False)


def _interpolate(client, source=WORLD, world=PROMPT, upload=None, methods=("group", "masked"), steps=2, seed=0):
    return client.predict(source, world, 0, upload, list(methods), steps, seed, api_name="/interpolate")


def _upscale(client, source=WORLD, world=PROMPT, upload=None, mode="temporal", steps=1, seed=0):
    return client.predict(source, world, 0, upload, mode, steps, seed, api_name="/upscale")


def _generate(client, depth, frames=2, stage_steps=1, seed=0, **named):
    return client.predict(PROMPT, "", seed, frames, 1, 4.0, "ddim", "zero-shot", False, depth, stage_steps,
                          api_name="/generate", **named)


def _compare_methods(client, prompt=PROMPT, methods=("group", "masked"), frames=3, interp_steps=1):
    return client.predict(prompt, "", 0, frames, 1, 4.0, "ddim", "zero-shot", list(methods), interp_steps,
                          api_name="/compare_interpolation")


def _set_numbers(tab, value: str, *fields: str):
    """Type `value` into each number field of a page's tab and commit it (Enter)."""
    for field in fields:
        tab.locator(f"{field} input[type=number]").fill(value)
        tab.locator(f"{field} input[type=number]").press("Enter")


def _clip(path: Path, frames: int, height: int, width: int, fps: float) -> Path:
    from engine.io import write_video
    from engine.world import prompt_to_spec, render

    return write_video(path, render(prompt_to_spec(PROMPT, 1), (height, width), fps, frames), fps)


def test_interpolate_a_world_clip_with_both_models(client):
    from engine.io import read_video

    video, summary, table, files, record, preview = _interpolate(client)
    rows = {r[0]: r for r in table["data"]}
    closest = max(rows, key=lambda name: rows[name][1])  # the result: the clip closest to the ground truth
    names = [Path(f).name for f in files]
    assert names[1] == names[0].replace(".mp4", ".json") and f"interpolate-{closest}-" in names[0]
    assert sorted(n.rsplit("-", 1)[1] for n in names[3:]) == sorted({"group.mp4", "masked.mp4"} - {f"{closest}.mp4"})
    result, fps = read_video(files[0])
    assert result.shape == (29, 3, 32, 32) and fps == 8.0  # 8 keyframes at 2 fps → 4·8 − 3 frames at 8 fps
    sidecar = json.loads(Path(files[1]).read_text())
    assert sidecar["kind"] == "interpolate" and sidecar["result"] == closest and sidecar["steps"] == 2
    assert f"the result is **{closest}**, closest to the ground truth" in summary
    assert sidecar["world"]["prompt"] == PROMPT and sidecar["group_options"] == {"skip": 4}
    assert set(sidecar["model_hashes"]) == {"group", "masked"} and sidecar["ground_truth"]
    # held keyframes, blend, tween, both models and the ground truth play in one clip, in step
    tiled, _ = read_video(video)
    assert tiled.shape[0] == 29 and tiled.shape[-1] >= 6 * 192
    assert list(rows) == ["keyframes held", "blend", "tween", "group", "masked"]
    assert all(r[1] > 0 and -1 <= r[2] <= 1 and -1 <= r[3] <= 1 for r in rows.values()), rows
    assert rows["blend"][1] > rows["keyframes held"][1] > 10 and rows["blend"][2] > 0.5, rows  # a moving circle
    assert rows["tween"][1] > rows["blend"][1], rows  # the circle moved to the in-between time, not blended
    assert rows["group"][4] > 0 and rows["masked"][4] > 0
    assert "29 frames at 8 fps" in summary and "closest to the ground truth" in summary
    assert preview is not None  # the last step's preview stays in the page
    from gradio_client import handle_file

    restored = client.predict(handle_file(files[1]), api_name="/restore")  # the sidecar brings the settings back
    assert restored[19:26] == (WORLD, PROMPT, 0, SKIP, ["group", "masked"], 2, 0)  # an upload stays as it is


def test_interpolate_an_uploaded_clip(client, tmp_path):
    from gradio_client import handle_file

    from engine.io import read_video

    path = _clip(tmp_path / "mine.mp4", 20, 40, 80, 10.0)  # 20 frames → 16 keyframes; 80 pixels wide → 64
    video, summary, table, files, record, _ = _interpolate(client, UPLOADED, upload=handle_file(str(path)),
                                                           methods=["group"], steps=1)
    assert record["input"] == "mine.mp4" and record["keyframes"] == 16 and record["frames"] == 61
    assert record["fps_in"] == pytest.approx(10 * 15 / 19, abs=1e-3) and not record["ground_truth"]
    assert len(record["notes"]) == 2 and "16 evenly spaced frames of 20" in summary and "scaled down" in summary
    assert read_video(files[0])[0].shape == (61, 3, 32, 64)
    # no ground truth to pick by: the result is the measured default (tween), the model's clip a file beside it
    assert record["result"] == "tween" and "the measured default" in summary and files[3].endswith("-group.mp4")
    assert [r[0] for r in table["data"]] == ["keyframes held", "blend", "tween", "group"]
    assert all(r[1] is None for r in table["data"])  # no ground truth for an uploaded clip: time only
    assert read_video(video)[0].shape[-1] < 5 * 192  # no ground truth tile


def test_interpolate_baselines_only(client):
    _, summary, table, files, record, _ = _interpolate(client, methods=[])
    assert record["methods"] == [] and record["result"] == "tween" and len(files) == 3
    assert "no model chosen" in summary and [r[0] for r in table["data"]] == ["keyframes held", "blend", "tween"]


def test_upscale_a_world_clip(client):
    from engine.io import read_video

    video, summary, table, files, record, preview = _upscale(client)
    assert len(files) == 4 and files[3].endswith("-bicubic.mp4")
    result, fps = read_video(files[0])
    assert result.shape == (15, 3, 64, 64) and fps == 8.0  # the tiny model is ×2
    assert record["kind"] == "upscale" and record["mode"] == "temporal" and record["segments"] == [[0, 8], [7, 15]]
    assert record["prompt"] == PROMPT and "video_unet" in record["model_hashes"] and record["ground_truth"]
    tiled, _ = read_video(video)
    assert tiled.shape[0] == 15 and tiled.shape[-1] >= 3 * 256  # bicubic, the result, the ground truth
    rows = {r[0]: r for r in table["data"]}
    assert list(rows) == ["bicubic", "temporal"] and all(r[1] > 10 and 0 < r[2] <= 1 for r in rows.values())
    assert "×2: 32×32 → 64×64" in summary and preview is not None
    from gradio_client import handle_file

    restored = client.predict(handle_file(files[1]), api_name="/restore")
    assert restored[26:33] == (WORLD, PROMPT, 0, SKIP, "temporal", 1, 0)
    others = restored[:26] + restored[33:]
    assert len(others) == 26 + 12 + 4 + 8 + 5 + 6 + 3 + 4 + 2 and set(map(str, others)) == {str(SKIP)}  # other tabs left as they are


def test_upscale_an_uploaded_clip_of_an_odd_size(client, tmp_path):
    from gradio_client import handle_file

    from engine.io import read_video

    path = _clip(tmp_path / "odd.gif", 36, 27, 45, 8.0)  # a gif keeps odd sizes (mp4 pads them)
    video, summary, table, files, record, _ = _upscale(client, UPLOADED, upload=handle_file(str(path)),
                                                       mode="zero-shot")
    assert record["input"] == "odd.gif" and record["frames"] == 32 and record["size"] == [54, 90]
    assert any("first 32 frames of 36" in n for n in record["notes"]) and any("padded" in n for n in record["notes"])
    assert read_video(files[0])[0].shape == (32, 3, 54, 90) and not record["ground_truth"]
    assert [r[0] for r in table["data"]] == ["bicubic", "zero-shot"] and table["data"][0][1] is None
    assert "padded" in summary


def test_generate_down_the_cascade_to_translate_and_restore_it(client):
    from gradio_client import handle_file

    from engine.io import read_video

    video, files, record, preview = _generate(client, "translate", stage_steps=2)
    assert [Path(f).suffix for f in files] == [".mp4", ".json"]
    clip, fps = read_video(files[0])
    assert clip.shape == (5, 3, 32, 32) and fps == 8.0  # 2 keyframes → 5 frames; 32² → ×2 64² → the expert's 32²
    sidecar = json.loads(Path(files[1]).read_text())
    assert sidecar == record and sidecar["kind"] == "cascade" and sidecar["settings"]["depth"] == "translate"
    assert [s["stage"] for s in sidecar["stages"]] == ["keyframes", "interpolate", "upscale", "translate"]
    assert [s["frames"] for s in sidecar["stages"]] == [2, 5, 5, 5]
    assert [s["size"] for s in sidecar["stages"]] == [[32, 32], [32, 32], [64, 64], [32, 32]]
    settings = sidecar["settings"]  # the measured interpolation method (tween), the best SR mode and decoder here
    assert settings["interp_method"] == "tween" and settings["sr_mode"] == "zero-shot" and settings["stage_steps"] == 2
    assert sidecar["decoder"] == "conv1d-attn" and set(sidecar["model_hashes"]) == {"keyframes", "interpolate",
                                                                                      "upscale", "translate"}
    assert read_video(video)[0].shape[-1] == 256 and preview is not None  # the page's enlarged copy; the last preview
    restored = client.predict(handle_file(files[1]), api_name="/restore")  # its sidecar restores it, depth and all
    assert list(restored[:9]) == [PROMPT, "", 0, 2, 1, 4.0, "ddim", "zero-shot", False]
    assert restored[17:19] == ("translate", 2) and restored[-2:] == (0, 0)  # the upscaled clip's size, no split
    # up in size, as MPL-Video's expert goes, keeping the upscaled clip's colours below σ
    _, files, record, _ = _generate(client, "translate", stage_steps=2, top=256, detail=0.5)
    assert read_video(files[0])[0].shape == (5, 3, 256, 256) and record["stages"][-1]["size"] == [256, 256]
    assert record["settings"]["top"] == 256 and record["settings"]["detail_sigma"] == 0.5
    assert client.predict(handle_file(files[1]), api_name="/restore")[-2:] == (256, 0.5)
    with pytest.raises(Exception, match="detail σ is 0 \\(off\\) or from 0.1"):
        _generate(client, "translate", stage_steps=2, top=256, detail=0.05)
    keyframes = _generate(client, "keyframes", frames=3, top=512)  # the default depth: keyframes alone, as before
    assert keyframes[2]["kind"] == "generate" and read_video(keyframes[1][0])[0].shape == (3, 3, 32, 32)
    restored = client.predict(handle_file(keyframes[1][1]), api_name="/restore")
    assert restored[17:19] == ("keyframes", STAGE_STEPS) and restored[-2:] == (0, 0)  # the cascade's back to defaults


def test_the_cascade_reports_its_stages_and_joins_history(models, tmp_path):
    from studio.context import Outputs, Studio
    from studio.tabs.generate import generate, summary
    from studio.tabs.history import restore, table

    seen = []
    studio = Studio(Outputs(tmp_path), models)
    *_, last = generate(studio, PROMPT, "", 3, 2, 1, 4.0, "ddim", "zero-shot", False, [],
                        progress=lambda value, desc: seen.append((value, desc)), depth="upscale", stage_steps=1)
    video, files, record, preview, history = last
    assert seen[-1] == (1.0, "upscale (stage 3 of 3): step 1 of 1")  # the progress bar names the stage
    assert "keyframes (stage 1 of 3): step 2 of 2" in [d for _, d in seen]  # the plan's frame-0 step, the clip's
    assert [v for v, _ in seen] == sorted(v for v, _ in seen)
    assert {d.split(" (")[0] for _, d in seen} <= {"keyframes", "interpolate", "upscale"}
    assert [s["stage"] for s in record["stages"]] == ["keyframes", "interpolate", "upscale"]
    assert "down to **upscale**: 5 frames 64×64 at 8 fps" in summary(record)
    assert table(history)[0][2:] == ["cascade", PROMPT, "zero-shot, down to upscale", 3]
    assert history[0]["files"] == files and Path(history[0]["shown"]).is_file()
    kind, *values = restore(studio, history[0]["record"])
    assert kind == "generate" and values[:9] == [PROMPT, "", 3, 2, 1, 4.0, "ddim", "zero-shot", False]
    assert values[17:19] == ["upscale", 1]  # the cascade's depth and later stages' steps


def test_a_depth_whose_model_is_missing_names_the_command_that_trains_it(models, tmp_path):
    import gradio as gr

    from engine.cascade import STAGES
    from studio.cascade import DEPTHS, stages_note
    from studio.context import Outputs, Studio
    from studio.tabs.generate import generate

    assert DEPTHS == STAGES and "✗" not in stages_note(Studio(Outputs(tmp_path / "all"), models))
    for folder, depth, command, earlier in [("sr_dir", "upscale", "`flipbook train-sr --out", "interpolate"),
                                            ("expert_dir", "translate", "`flipbook train-expert --out", "upscale")]:
        out = tmp_path / folder
        studio = Studio(Outputs(out), {**models, folder: str(tmp_path / "none")})
        with pytest.raises(gr.Error) as e:
            list(generate(studio, PROMPT, "", 0, 2, 1, 4.0, "ddim", "zero-shot", False, [], depth=depth,
                          stage_steps=2))
        message = e.value.message
        assert f"the cascade's {depth} stage" in message and command in message, message
        assert message.endswith(f"or choose the depth {earlier}") and "--" not in message.split("`")[-1], message
        assert not any(out.iterdir())  # it fails before any work: nothing written
        assert f"**{depth}** ✗" in stages_note(studio)
    # the interpolation models are not the measured default (tweening beats them), so none is needed; the note
    # names the commands that train them and says why
    studio = Studio(Outputs(tmp_path / "blend"), {**models, "interp_dir": str(tmp_path / "none")})
    *_, last = generate(studio, PROMPT, "", 0, 2, 1, 4.0, "ddim", "zero-shot", False, [], depth="interpolate",
                        stage_steps=2)
    assert last[2]["settings"]["interp_method"] == "tween" and last[2]["stages"][1]["frames"] == 5
    note = stages_note(studio)
    assert "**interpolate** ✓ (tween)" in note and "`flipbook train-interp --method group" in note
    assert "tweening (each keyframe's object moved to the in-between time) beats blending" in note


def test_stop_ends_the_cascade_in_a_later_stage(models, tmp_path):
    import gradio as gr

    from studio.context import Outputs, Studio
    from studio.tabs.generate import generate

    studio, seen = Studio(Outputs(tmp_path), models), []
    run = generate(studio, PROMPT, "", 0, 2, 1, 4.0, "ddim", "zero-shot", False, [],
                   progress=lambda value, desc: seen.append(desc), depth="upscale", stage_steps=100)
    while not seen or not seen[-1].startswith("upscale (stage 3 of 3): step"):  # (tweening takes no steps)
        next(run)
    studio.stop("local")
    with pytest.raises(gr.Error, match=r"Stopped at step \d+ of 102; nothing was saved"):  # 2 keyframe steps, 100
        list(run)
    assert not list(tmp_path.glob("cascade-*.mp4")) and not list(tmp_path.glob("cascade-*.json"))


def test_compare_interpolation_methods_on_one_set_of_keyframes(client):
    from engine.io import read_video
    from studio.tabs.compare_interp import HEADERS

    video, table, summary, files, record, preview = _compare_methods(client)
    assert table["headers"] == HEADERS
    rows = {r[0]: dict(zip(HEADERS, r)) for r in table["data"]}
    assert list(rows) == ["keyframes held", "blend", "tween", "group", "masked"] == record["labels"]
    for r in rows.values():  # the judge on every clip; PSNR and SSIM between the keyframes; TCC against the truth
        assert r["attributes right"].endswith("/4") and r["PSNR (dB)"] > 0, r
        assert -1 <= r["SSIM"] <= 1 and -1 <= r["TCC"] <= 1 and r["seconds"] >= 0, r
    assert rows["group"]["seconds"] > 0 and rows["masked"]["seconds"] > 0
    tiled, fps = read_video(video)  # the ground truth, the three with no model and both models, in step
    assert tiled.shape[0] == 9 and fps == 8.0 and tiled.shape[-1] >= 6 * 192
    assert record["kind"] == "compare-interpolation" and record["ground_truth"]
    assert [m["clip"] for m in record["metrics"][2:4]] == ["tween", "group"]
    assert record["fps_in"] == 2.0 and record["output_frames"] == 9 and set(record["model_hashes"]) == {
        "keyframes", "group", "masked"}
    names = [Path(f).name for f in files]  # the result (group), its sidecar, the side-by-side, masked, the keyframes
    assert len(names) == 6 and names[1] == names[0].replace(".mp4", ".json") and names[3].endswith("-masked.mp4")
    sidecar = json.loads(Path(files[1]).read_text())
    assert read_video(files[0])[0].shape == (9, 3, 32, 32) and sidecar.pop("flipbook") and sidecar == record
    keys, key_fps = read_video(files[4])
    assert keys.shape == (3, 3, 32, 32) and key_fps == 2.0 and json.loads(Path(files[5]).read_text())["frames"] == 3
    assert "Keyframes by **zero-shot" in summary and "9 frames at 8 fps" in summary and preview is not None
    from gradio_client import handle_file

    restored = client.predict(handle_file(files[1]), api_name="/restore")  # Compare, switched to the methods
    assert restored[9:17] == (PROMPT, "", 0, 3, 1, 4.0, "ddim", SKIP)
    assert restored[45:49] == ("interpolation methods", "zero-shot", ["group", "masked"], 1)


def test_compare_interpolation_baselines_only_outside_the_world(client):
    video, table, summary, files, record, _ = _compare_methods(client, "a red circle and a blue star and a green ring",
                                                               methods=[])
    assert [r[0] for r in table["data"]] == ["keyframes held", "blend", "tween"]
    assert all(r[1] == "–" and r[3] is None for r in table["data"])  # no judge (three objects), no ground truth
    assert not record["ground_truth"] and record["methods"] == [] and len(files) == 5 and "no model chosen" in summary


def test_bad_input_is_a_clear_error_and_leaves_nothing(studio, tmp_path):
    from gradio_client import Client, handle_file

    # a session of its own: an event that updates a field (`/restore`'s gr.skip() does) leaves that session a plain
    # copy of it, whose range message gradio words itself ('Value 1 is less than minimum value 2.')
    client = Client(studio[0], verbose=False)
    root = studio[1]
    before = sorted(p.name for p in root.iterdir())

    def error(call, **kwargs):
        with pytest.raises(Exception) as e:
            call(client, **kwargs)
        return str(e.value)

    notes = tmp_path / "notes.txt"
    notes.write_text("not a clip")
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(os.urandom(4000))
    for call in (_interpolate, _upscale):
        assert "unknown words: 'hexagon'" in error(call, world="a hexagon")
        assert "upload a clip" in error(call, source=UPLOADED)
        assert "'.mp4', '.gif', '.webm', '.mov'" in error(call, source=UPLOADED, upload=handle_file(str(notes)))
        assert "is it a complete mp4, gif or webm file?" in error(call, source=UPLOADED, upload=handle_file(str(fake)))
        assert "steps must be between 1 and 100" in error(call, steps=0)
        assert "seed must be at least -1" in error(call, seed=-5)
    still = _clip(tmp_path / "still.gif", 1, 16, 16, 2.0)
    assert "needs at least 2 keyframes" in error(_interpolate, source=UPLOADED, upload=handle_file(str(still)))
    assert "unknown interpolation method 'film'" in error(_interpolate, methods=["film"])
    assert "unknown interpolation method '../../interp/group'" in error(_interpolate, methods=["../../interp/group"])
    assert "`flipbook train-sr-video --mode full`" in error(_upscale, mode="full")
    assert "unknown mode '../../etc'" in error(_upscale, mode="../../etc")
    assert "unknown cascade depth 'deeper'" in error(_generate, depth="deeper")
    assert "steps of the later stages must be between 1 and 100" in error(_generate, depth="upscale", stage_steps=0)
    assert "give the later stages at least 2 steps" in error(_generate, depth="translate", stage_steps=1)
    assert "unknown interpolation method 'film'" in error(_compare_methods, methods=["film"])
    assert "interpolation steps must be between 1 and 100" in error(_compare_methods, interp_steps=0)
    assert "frames must be between 2 and 16" in error(_compare_methods, frames=1)
    assert "unknown words: 'hexagon'" in error(_compare_methods, prompt="a hexagon")
    assert sorted(p.name for p in root.iterdir()) == before  # a refused request writes nothing


def test_without_models_the_tabs_say_which_command_makes_them(tmp_path):
    import gradio as gr

    from engine.registry import TRAINS
    from studio.context import Outputs, Studio
    from studio.stages import interp_methods, upscale_modes
    from studio.tabs import interpolate as tab
    from studio.tabs import upscale

    studio = Studio(Outputs(tmp_path / "out"), {"interp_dir": str(tmp_path / "none"), "sr_dir": str(tmp_path / "none")})
    assert interp_methods(studio) == [] and upscale_modes(studio) == []
    assert f"`{TRAINS['interp/group']}`" in tab.models_note(studio) and "train-interp --method group" in TRAINS["interp/group"]
    assert "`flipbook train-sr --steps 3000`" in upscale.models_note(studio)
    *_, last = tab.interpolate(studio, WORLD, PROMPT, 0, None, [], 1, 0, [])
    assert last[4]["result"] == "tween" and "no model chosen" in last[1]
    with pytest.raises(gr.Error, match="the masked model is not trained yet: `flipbook train-interp --method masked"):
        list(tab.interpolate(studio, WORLD, PROMPT, 0, None, ["masked"], 1, 0, []))
    with pytest.raises(gr.Error, match="no super-resolution model is here yet; train one with `flipbook train-sr"):
        list(upscale.upscale(studio, WORLD, PROMPT, 0, None, "zero-shot", 1, 0, []))


@pytest.mark.parametrize("tab", ["interpolate", "upscale"])
def test_stop_ends_the_run(models, tmp_path, tab):
    import gradio as gr

    from studio.context import Outputs, Studio
    from studio.tabs import interpolate, upscale

    studio = Studio(Outputs(tmp_path), models)
    run = interpolate.interpolate(studio, WORLD, PROMPT, 0, None, ["group"], 100, 0, []) if tab == "interpolate" \
        else upscale.upscale(studio, WORLD, PROMPT, 0, None, "zero-shot", 100, 0, [])
    next(run)  # the first step
    studio.stop(f"local:{tab}")
    with pytest.raises(gr.Error, match=r"Stopped at step \d+ of (100|200); nothing was saved"):
        list(run)


@pytest.mark.skipif(not (Path(__file__).resolve().parents[1] / "assets" / "sr" / "image" / "sr.json").is_file(),
                    reason="the embedded image SR model is not here: `flipbook train-sr` makes assets/sr/image")
def test_the_embedded_sr_model_upscales_a_world_clip_x4(tmp_path):
    from engine.io import read_video
    from studio.context import Outputs, Studio
    from studio.tabs.upscale import upscale

    *_, last = upscale(Studio(Outputs(tmp_path)), WORLD, PROMPT, 0, None, "zero-shot", 1, 0, [])
    video, _, table, files, record, _, history = last
    assert read_video(files[0])[0].shape == (15, 3, 128, 128) and record["size"] == [128, 128]
    assert [r[0] for r in table["data"]] == ["bicubic", "zero-shot"] and history[0]["kind"] == "upscale"


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (scripts/test.sh installs it)")
def test_cascade_tabs_in_a_browser(studio):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(studio[0])

        # Interpolate: a world clip through both models, beside the baselines and the ground truth
        page.get_by_role("tab", name="Interpolate", exact=True).click()
        tab = page.locator("#tab-interpolate")
        _set_numbers(tab, "2", "#interp-steps")
        tab.get_by_role("button", name="Interpolate", exact=True).click()
        _plays(page, "#interp-video", 120_000)
        page.wait_for_function("document.querySelector('#interp-table').innerText.includes('masked')",
                               timeout=10_000)
        assert page.evaluate("document.querySelector('#interp-video video').videoWidth") >= 5 * 192
        page.wait_for_timeout(500)
        page.screenshot(path=str(_shots() / "interpolate.png"), full_page=True)

        # Upscale: the temporal mode beside bicubic and the ground truth
        page.get_by_role("tab", name="Upscale", exact=True).click()
        tab = page.locator("#tab-upscale")
        _set_numbers(tab, "1", "#sr-steps")
        tab.get_by_role("button", name="Upscale", exact=True).click()
        _plays(page, "#sr-video", 120_000)
        page.wait_for_function("document.querySelector('#sr-table').innerText.includes('bicubic')", timeout=10_000)
        assert page.evaluate("document.querySelector('#sr-video video').videoWidth") >= 3 * 256
        page.wait_for_timeout(500)
        page.screenshot(path=str(_shots() / "upscale.png"), full_page=True)

        # Generate down the cascade: the depth's radio shows the later stages' steps; the stages have models here
        page.get_by_role("tab", name="Generate", exact=True).click()
        tab = page.locator("#tab-generate")
        assert "✗" not in tab.locator("#gen-stages").inner_text()
        tab.locator("#gen-depth").get_by_label("upscale", exact=True).check()
        _set_numbers(tab, "1", "#gen-steps", "#gen-stage-steps")
        tab.get_by_role("button", name="Generate", exact=True).click()
        _plays(page, "#tab-generate", 120_000)
        page.wait_for_function("document.querySelector('#tab-generate').innerText.includes('down to upscale')",
                               timeout=20_000)
        page.screenshot(path=str(_shots() / "generate-cascade.png"), full_page=True)

        # Compare, interpolation methods: one set of keyframes through both models, the baselines, the ground truth
        page.get_by_role("tab", name="Compare", exact=True).click()
        tab = page.locator("#tab-compare")
        tab.locator("#cmp-what").get_by_label("interpolation methods", exact=True).check()
        _set_numbers(tab, "1", "#cmp-steps", "#cmp-interp-steps")
        tab.get_by_role("button", name="Compare methods", exact=True).click()
        _plays(page, "#cmp-video", 120_000)
        page.wait_for_function("document.querySelector('#cmp-interp-table').innerText.includes('masked')",
                               timeout=20_000)
        assert page.evaluate("document.querySelector('#cmp-video video').videoWidth") >= 5 * 192
        page.wait_for_timeout(500)
        page.screenshot(path=str(_shots() / "compare-interpolation.png"), full_page=True)
        browser.close()


def test_the_progress_plan_counts_every_segment_of_upscale_and_translate():
    from engine.cascade import steps_by_stage as stage_plan

    # 8 keyframes → 29 frames: SR and translation each run 4 segments of 8 sharing a frame; SDEdit runs half the steps
    assert stage_plan("translate", 8, 25, 20, interp_method="group") == {"keyframes": 25, "interpolate": 20,
                                                                          "upscale": 80, "translate": 40}
    assert stage_plan("translate", 8, 25, 20)["interpolate"] == 0  # the default, tweening, has no model and no steps
    assert stage_plan("translate", 2, 25, 20)["translate"] == 10  # 5 frames: one segment
