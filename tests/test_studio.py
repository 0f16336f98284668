"""The studio through its API (gradio_client) and in headless Chromium (Playwright).

Screenshots of every tab go to $FLIPBOOK_SCREENSHOTS (default runs/screenshots, ignored by git).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "a red circle moving left on a black background"
WORLD = "world clips (train split)"
UPLOADED = "my clips, one caption"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from studio.app import Outputs, build_app

    app = build_app(Outputs(tmp_path_factory.mktemp("outputs")))
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def client(studio):
    from gradio_client import Client

    return Client(studio, verbose=False)


@pytest.fixture(scope="module")
def tuned(client):
    """A temporal mode tuned here for 2 steps on world clips: its folder (the key Generate and Compare take)."""
    status, losses, folder, files = client.predict("temporal", WORLD, None, "", 2, 1, 5e-4, 0, api_name="/tune")
    assert status.startswith("**Done**") and len(losses["data"]) == 2
    assert {Path(f).name for f in files} >= {"tuned.safetensors", "mode.json", "loss.png"}
    return folder


def test_render_through_the_api(client):
    video, files, record = client.predict("a big yellow star spinning against a sunset backdrop", 1, 64, 8, 16,
                                          api_name="/render")
    assert Path(video).suffix == ".mp4" and len(files) == 2
    assert record["spec"]["objects"][0]["shape"] == "star" and record["frames"] == 16


def test_bad_prompt_is_a_clear_error_and_the_next_request_works(client):
    with pytest.raises(Exception, match="unknown words: 'hexagon'"):
        client.predict("a hexagon", 0, 64, 8, 16, api_name="/render")
    with pytest.raises(Exception, match="frames must be between 2 and 64"):
        client.predict("a star", 0, 64, 8, 500, api_name="/render")
    assert client.predict("a star", 0, 32, 8, 4, api_name="/render")[2]["frames"] == 4


def test_generate_through_the_api(client):
    video, files, record, preview = client.predict(PROMPT, "", 3, 4, 4, 4.0, "ddim", "zero-shot", False,
                                                   api_name="/generate")
    assert Path(video).suffix == ".mp4" and {Path(f).suffix for f in files} == {".mp4", ".json"}
    assert record["seed"] == 3 and record["frames"] == 4 and record["mode"] == "zero-shot"
    sidecar = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())
    assert sidecar["prompt"] == PROMPT and sidecar["steps"] == 4
    assert preview is not None  # the last step's preview stays in the page


def test_generate_answers_bad_input_with_what_to_fix(client, tmp_path):
    def error(*args):
        with pytest.raises(Exception) as e:
            client.predict(*args, api_name="/generate")
        return str(e.value)

    assert "did you mean 'circle'" in error("a red circel", "", 0, 4, 2, 4.0, "ddim", "zero-shot", False)
    assert "the prompt is empty" in error("   ", "", 0, 4, 2, 4.0, "ddim", "zero-shot", False)
    assert "steps must be between 1 and 100" in error(PROMPT, "", 0, 4, 0, 4.0, "ddim", "zero-shot", False)
    assert "frames must be between 2 and 128" in error(PROMPT, "", 0, 300, 2, 4.0, "ddim", "zero-shot", False)
    assert "seed must be at least -1" in error(PROMPT, "", -5, 4, 2, 4.0, "ddim", "zero-shot", False)
    assert "no tuned model 'lora'" in error(PROMPT, "", 0, 4, 2, 4.0, "ddim", "lora", False)
    assert "not trained for the temporal pyramid" in error(PROMPT, "", 0, 4, 2, 4.0, "ddim", "zero-shot", True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "mode.json").write_text('{"mode": "temporal"}')
    assert "outside this studio's folders" in error(PROMPT, "", 0, 4, 2, 4.0, "ddim", str(tmp_path / "elsewhere"), False)
    assert client.predict(PROMPT, "", -1, 2, 1, 4.0, "ddim", "zero-shot", False, api_name="/generate")[2]["seed"] >= 0


def test_a_long_clip_from_an_uploaded_first_frame(client, tmp_path):
    """Generate's Long clips controls: a first frame uploaded, 12 frames in windows made one after another, at
    6 fps; the sidecar records them and restores all but the upload (a warning asks for it again)."""
    import imageio.v2 as iio
    from gradio_client import handle_file

    from engine.world import prompt_to_spec, render

    still = tmp_path / "still.png"
    frame = render(prompt_to_spec("a red square on a gray background", seed=2), size=64, fps=2.0, frames=1)[0]
    iio.imwrite(still, (frame.permute(1, 2, 0) * 255).round().byte().numpy())
    motion = ["as the prompt says", 1.0, "", "frame", False]
    video, files, record, _ = client.predict("a red square moving right on a gray background", "", 1, 12, 3, 4.0,
                                             "dpm++", "zero-shot", False, "keyframes", 20, *motion,
                                             handle_file(str(still)), "autoregressive", 3, 6, api_name="/generate")
    assert record["frames"] == 12 and record["fps"] == 6 and record["image"] and len(record["image_sha256"]) == 64
    assert (record["context_window"], record["context_overlap"], record["long_method"]) == (8, 3, "autoregressive")
    sidecar = next(f for f in files if f.endswith(".json"))
    restored = client.predict(handle_file(sidecar), api_name="/restore")
    assert restored[3] == 12 and list(restored[-6:-2]) == [None, "autoregressive", 3, 6.0]
    with pytest.raises(Exception, match="for keyframes alone"):
        client.predict("a red square moving right on a gray background", "", 1, 8, 3, 4.0, "dpm++", "zero-shot",
                       False, "interpolate", 2, *motion, handle_file(str(still)), "windows", 4, 2,
                       api_name="/generate")


def test_stop_ends_a_generation_with_a_message(client):
    job = client.submit(PROMPT, "", 0, 16, 100, 4.0, "ddim", "zero-shot", False, api_name="/generate")
    deadline = time.time() + 60
    while time.time() < deadline and not (job.status().progress_data or job.done()):
        time.sleep(0.1)
    client.predict(api_name="/stop")
    with pytest.raises(Exception, match="Stopped at step"):
        job.result(timeout=60)


def test_tune_then_generate_and_compare_with_it(client, tuned):
    record = client.predict(PROMPT, "", 1, 4, 2, 4.0, "ddim", tuned, False, api_name="/generate")[2]
    assert record["mode"] == "temporal" and record["tuned"] == tuned and "tuned" in record["model_hashes"]
    video, table, files, record, _ = client.predict(PROMPT, "", 1, 4, 2, 4.0, "ddim", ["zero-shot", tuned],
                                                    api_name="/compare")
    assert Path(video).suffix == ".mp4" and len(files) == 2 + 2 * 2
    assert record["ground_truth"] and record["variants"] == ["zero-shot", tuned]
    rows = table["data"]
    assert len(rows) == 2 and all(r[1].endswith("/4") and 0 <= r[3] <= 1 and r[4] > 0 for r in rows)


def test_compare_takes_two_to_four_models(client):
    with pytest.raises(Exception, match="choose two to four models"):
        client.predict(PROMPT, "", 0, 4, 2, 4.0, "ddim", ["zero-shot"], api_name="/compare")


def test_compare_of_a_prompt_outside_the_world_has_no_ground_truth(tmp_path):
    import torch

    from studio.context import Outputs, Studio
    from studio.scores import ground_truth, score

    assert ground_truth("a red circle and a blue star and a green ring", 0, torch.zeros(4, 3, 32, 32), 2.0) is None
    clips = [torch.rand(4, 3, 32, 32) for _ in range(2)]
    rows = score(Studio(Outputs(tmp_path)), "a red circle and a blue star on a black background", clips, None)
    assert [r["attributes right"] for r in rows] == ["–", "–"] and rows[0]["TCC"] is None


def test_tune_on_uploaded_clips(client, tmp_path):
    from gradio_client import handle_file

    from engine.io import write_video
    from engine.world import prompt_to_spec, render

    paths = []
    for seed in range(2):
        paths.append(write_video(tmp_path / f"clip{seed}.mp4", render(prompt_to_spec(PROMPT, seed), 48, 4.0, 12), 4.0))
    status, losses, folder, files = client.predict("simda", UPLOADED, [handle_file(str(p)) for p in paths], PROMPT,
                                                   2, 2, 1e-3, 0, api_name="/tune")
    assert status.startswith("**Done**") and len(losses["data"]) == 2
    mode = json.loads((Path(folder) / "mode.json").read_text())
    assert mode["mode"] == "simda" and mode["data"] == "clips" and mode["clip_files"] == ["clip0.mp4", "clip1.mp4"]
    with pytest.raises(Exception, match="upload at least one clip"):
        client.predict("simda", UPLOADED, None, PROMPT, 2, 2, 1e-3, 0, api_name="/tune")
    with pytest.raises(Exception, match="'hexagon'"):
        client.predict("simda", UPLOADED, [handle_file(str(paths[0]))], "a hexagon", 2, 2, 1e-3, 0, api_name="/tune")
    with pytest.raises(Exception, match="zero-shot is not in the list of choices"):
        client.predict("zero-shot", WORLD, None, "", 2, 2, 1e-3, 0, api_name="/tune")


def test_a_sidecar_restores_its_parameters(client, tuned, tmp_path):
    from gradio_client import handle_file

    files = client.predict(PROMPT, "blurry", 11, 4, 3, 2.5, "ddim", tuned, False, api_name="/generate")[1]
    sidecar = next(f for f in files if f.endswith(".json"))
    restored = client.predict(handle_file(sidecar), api_name="/restore")
    assert list(restored[:9]) == [PROMPT, "blurry", 11, 4, 3, 2.5, "ddim", tuned, False]
    compare_sidecar = client.predict(PROMPT, "", 5, 4, 2, 3.0, "ddim", ["zero-shot", tuned], api_name="/compare")[2][1]
    restored = client.predict(handle_file(compare_sidecar), api_name="/restore")
    assert restored[9:12] == (PROMPT, "", 5) and restored[16] == ["zero-shot", tuned]
    assert restored[45] == "models"  # Compare shows the models, not the interpolation methods
    from engine.sidecar import sidecar_path

    restored = client.predict(handle_file(str(sidecar_path(tuned))), api_name="/restore")  # the tune's own
    assert restored[-28:-20] == ("temporal", WORLD, {"__type__": "update"}, {"__type__": "update"}, 2, 1, 5e-4, 0)
    world = client.predict("a big yellow star spinning against a sunset backdrop", 1, 32, 4, 6, api_name="/render")[1]
    restored = client.predict(handle_file(world[1]), api_name="/restore")  # a World render's sidecar
    assert restored[-20:-15] == ("a big yellow star spinning against a sunset backdrop", 1, 32, 4.0, 6)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "upscale-bench", "prompt": PROMPT}))
    with pytest.raises(Exception, match="Tune and World sidecars can be restored"):
        client.predict(handle_file(str(bad)), api_name="/restore")


def test_history_lists_outputs_and_restores(tmp_path):
    import gradio as gr

    from studio.context import Outputs, Studio
    from studio.tabs.generate import generate
    from studio.tabs.history import restore, table

    studio = Studio(Outputs(tmp_path))
    *_, last = generate(studio, PROMPT, "", 2, 4, 2, 4.0, "ddim", "zero-shot", False, [])
    history = last[-1]
    assert table(history)[0][2:] == ["generate", PROMPT, "zero-shot", 2]
    assert len(history[0]["files"]) == 2 and Path(history[0]["shown"]).is_file()
    kind, *values = restore(studio, history[0]["record"])
    assert kind == "generate" and values[:9] == [PROMPT, "", 2, 4, 2, 4.0, "ddim", "zero-shot", False]
    assert values[-15:-9] == ["as the prompt says", 1.0, "", "frame", False, gr.skip()]  # the motion plan came from the prompt
    assert values[-6:-2] == [None, "windows", 4, 2.0]  # Long clips: no first frame, the default method, 2 fps
    assert values[-2:] == [0, 0]  # keyframes alone: no translation
    assert history[0]["record"]["plan"]["source"].startswith("prompt:")
    *_, last = generate(studio, PROMPT, "", 2, 4, 2, 4.0, "ddim", "zero-shot", False, history, motion=(
        "pan-left", 2.0, "", "noise", True))
    record = last[-1][-1]["record"]
    assert record["plan"]["source"] == "camera:pan-left" and record["motion_method"] == "noise" and record["cross_frame"]
    assert restore(studio, record)[-15:-9] == ("pan-left", 2.0, "", "noise", True, gr.skip())
    old = {k: v for k, v in record.items() if k not in ("motion", "speed", "motion_plan", "motion_method", "plan",
                                                         "cross_frame")}
    assert restore(studio, old)[-15:-9][0] == "none (the words alone)"  # sidecars before plans sampled without one
    # an uploaded clip's sidecar: its settings come back, the clip must be uploaded again; untrained models drop out
    studio = Studio(Outputs(tmp_path), {"interp_dir": str(tmp_path / "none")})
    kind, *values = restore(studio, {"kind": "interpolate", "input": "mine.mp4", "methods": ["group"], "steps": 7,
                                     "seed": 3})
    assert kind == "interpolate" and values[19:26] == [gr.skip()] * 4 + [[], 7, 3] and values[:19] == [gr.skip()] * 19
    kind, *values = restore(studio, {"kind": "tune", "mode": "temporal", "data": "clips", "caption": "a red circle",
                                     "clip_files": ["a.mp4"], "steps": 9, "batch_size": 2, "lr": 1e-3, "seed": 4})
    assert kind == "tune" and values[-28:-20] == ["temporal", "my clips, one caption", gr.skip(), "a red circle", 9,
                                                 2, 1e-3, 4]


def test_cost_table_comes_from_the_bench(tmp_path):
    from studio.tabs.tune import cost_chart, cost_rows

    rows = cost_rows()
    if not rows:
        pytest.skip("bench/results/cost.md is not here")
    assert {r[0] for r in rows} >= {"full", "temporal", "simda"} and all(r[1] >= 0 and r[3] > 0 for r in rows)
    assert Path(cost_chart(rows, tmp_path / "cost.png")).stat().st_size > 1000


def test_training_on_given_clips(tmp_path):
    import torch

    from engine.training.clips import clip_batches, fit_clip

    clip = fit_clip(torch.rand(12, 3, 40, 64), 32, 8)
    assert clip.shape == (3, 8, 32, 32)
    batch = clip_batches([clip, clip * 0.5], "a red circle", 3, seed=1)(0)
    assert batch["pixels"].shape == (3, 3, 8, 32, 32) and batch["pixels"].min() >= -1 and len(batch["captions"]) == 3
    assert torch.equal(batch["pixels"], clip_batches([clip, clip * 0.5], "a red circle", 3, seed=1)(0)["pixels"])
    with pytest.raises(ValueError, match="2 clips but 1 captions"):
        clip_batches([clip, clip], ["one"], 2)


@pytest.mark.parametrize("frames, method", [(8, "windows"), (12, "autoregressive")])
def test_generate_counts_its_steps_to_the_last_and_shows_the_last(tmp_path, frames, method):
    """Progress ends at 'step N of N' and counts every denoising step: the motion plan's own pass of frame 0 (5
    steps), then the clip's from where the frame method starts it (3 of 5), once a window when windows are made one
    after another; the last step's preview is always drawn."""
    from studio.context import Outputs, Studio
    from studio.work import generate_one

    studio = Studio(Outputs(tmp_path))
    seen = []
    generate_one(studio, studio.resolve(studio.default_key()), PROMPT, None, 0, frames, 5, 4.0, "dpm++",
                 emit=lambda kind, i, n, shown: seen.append((i, n, shown)), long={"long_method": method})
    last, total, shown = seen[-1]
    assert last == total == 5 + 3 * (1 if method == "windows" else 2) and shown is not None
    assert [i for i, _, _ in seen] == sorted(i for i, _, _ in seen)


def test_a_pyramid_generation_counts_its_steps_to_the_last(tmp_path):
    """Through the temporal pyramid along the prompt's plan: frame 0's pass, then the pyramid from where the plan
    enters it, counted ahead to the step."""
    from studio.context import Outputs, Studio
    from studio.work import generate_one

    studio = Studio(Outputs(tmp_path))
    seen, pyramid = [], next(v for v in studio.variants() if v.stages)  # the embedded pyramid-trained folder
    generate_one(studio, studio.resolve(pyramid.key, True), PROMPT, None, 0, 8, 6, 4.0, "ddim",
                 emit=lambda kind, i, n, shown: seen.append((i, n)))
    last, total = seen[-1]
    assert last == total > 6 and [i for i, _ in seen] == list(range(1, total + 1))


def test_step_previews_are_throttled_and_the_first_is_always_shown(tmp_path):
    import torch

    from studio.media import Previews

    previews = Previews(tmp_path / "p.png", every=60)
    latents = torch.zeros(1, 3, 4, 8, 8)
    assert previews(latents) == str(tmp_path / "p.png") and (tmp_path / "p.png").is_file()
    assert previews(latents) is None  # within a minute of the last one
    assert previews(latents, final=True) == str(tmp_path / "p.png")  # a pass's last step: always
    previews.last -= 61
    assert previews(latents) == str(tmp_path / "p.png")
    assert Previews(tmp_path / "q.png")(torch.zeros(1, 4, 4, 8, 8)) is None  # latents are not pictures


def test_studio_binds_to_loopback_by_default():
    import inspect

    from studio.app import launch

    assert inspect.signature(launch).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(launch).parameters["share"].default is False


def _shots() -> Path:
    folder = Path(os.environ.get("FLIPBOOK_SCREENSHOTS", ROOT / "runs" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _studio_page(p, url: str, height: int = 900):
    """The studio at `url` in Debian's Chromium, headless, with the flags this machine's closed network wants."""
    browser = p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
    page = browser.new_page(viewport={"width": 1280, "height": height})
    page.goto(url)
    return browser, page


def tune_in_page(page, steps: int):
    """The Tune tab: a `steps`-step fine-tune on world clips, batch 1, waited for."""
    page.get_by_role("tab", name="Tune").click()
    tab = page.locator("#tab-tune")
    tab.locator("#tune-steps input").fill(str(steps))
    tab.locator("#tune-batch input").fill("1")
    tab.get_by_role("button", name="Tune", exact=True).click()
    page.wait_for_function("document.querySelector('#tune-status').innerText.includes('Done')", timeout=120_000)


def _plays(page, scope: str, timeout: int = 60_000):
    page.wait_for_selector(f"{scope} video", timeout=timeout)
    page.wait_for_function("(scope) => { const v = document.querySelector(scope + ' video'); "
                           "return !!v && (v.currentTime > 0.2 || (v.readyState >= 2 && !v.paused)); }",
                           arg=scope, timeout=20_000)


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (scripts/test.sh installs it)")
def test_a_long_clip_from_a_first_frame_in_a_browser(studio, tmp_path):
    """Generate's Long clips: a picture uploaded as the first frame, 12 frames made window after window at 6 fps;
    the clip plays and its caption says how it was made."""
    import imageio.v2 as iio
    from playwright.sync_api import sync_playwright

    from engine.world import prompt_to_spec, render

    still = tmp_path / "still.png"
    frame = render(prompt_to_spec("a red square on a gray background", seed=2), size=64, fps=2.0, frames=1)[0]
    iio.imwrite(still, (frame.permute(1, 2, 0) * 255).round().byte().numpy())
    with sync_playwright() as p:
        browser, page = _studio_page(p, studio, 1400)
        tab = page.locator("#tab-generate")
        tab.get_by_label("Prompt", exact=True).fill("a red square moving right on a gray background")
        page.locator("#gen-long").get_by_text("Long clips and a first frame").click()
        page.locator("#gen-first-frame input[type=file]").set_input_files(str(still))
        tab.locator("#gen-frames input[type=number]").fill("12")
        tab.locator("#gen-steps input[type=number]").fill("6")
        page.locator("#gen-long-method").get_by_test_id("autoregressive-radio-label").click()
        page.locator("#gen-fps input[type=number]").fill("6")
        page.locator("#gen-fps input[type=number]").press("Enter")
        tab.get_by_role("button", name="Generate", exact=True).click()
        _plays(page, "#tab-generate", 120_000)
        page.wait_for_function("document.querySelector('#tab-generate').innerText.includes('from the uploaded first "
                               "frame')", timeout=10_000)
        text = tab.inner_text()
        assert "12 frames 32×32 at 6 fps" in text and "(autoregressive)" in text
        page.screenshot(path=str(_shots() / "generate-long.png"), full_page=True)
        browser.close()


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (scripts/test.sh installs it)")
def test_every_tab_in_a_browser(studio):
    from playwright.sync_api import sync_playwright

    shots = _shots()
    with sync_playwright() as p:
        browser, page = _studio_page(p, studio)

        # Generate: type a prompt, press Generate, the video appears and plays
        tab = page.locator("#tab-generate")
        tab.get_by_label("Prompt", exact=True).fill("a small cyan triangle bouncing on a checkerboard background")
        tab.locator("#gen-steps input[type=number]").fill("8")
        tab.locator("#gen-steps input[type=number]").press("Enter")
        tab.get_by_role("button", name="Generate", exact=True).click()
        _plays(page, "#tab-generate")
        page.wait_for_function("document.querySelector('#tab-generate').innerText.includes('seed 0')", timeout=10_000)
        page.screenshot(path=str(shots / "generate.png"), full_page=True)

        # Tune: a 2-step fine-tune on world clips; the live loss plot and the cost chart
        tune_in_page(page, 3)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shots / "tune.png"), full_page=True)

        # Compare: the tuned model against zero-shot, side by side with the ground truth and the metrics
        page.get_by_role("tab", name="Compare").click()
        tab = page.locator("#tab-compare")
        tab.locator("#cmp-steps input[type=number]").fill("8")
        tab.locator("#cmp-steps input[type=number]").press("Enter")
        tab.get_by_role("button", name="Compare", exact=True).click()
        _plays(page, "#tab-compare", 120_000)
        page.wait_for_function("document.querySelector('#cmp-table').innerText.includes('zero-shot')", timeout=10_000)
        width = page.evaluate("document.querySelector('#tab-compare video').videoWidth")
        assert width >= 3 * 192  # ground truth and two models, side by side
        page.screenshot(path=str(shots / "compare.png"), full_page=True)

        # World: a prompt's ground truth
        page.get_by_role("tab", name="World").click()
        tab = page.locator("#tab-world")
        tab.get_by_label("Prompt", exact=True).fill("a purple ring orbiting over an ocean background")
        tab.get_by_role("button", name="Render").click()
        _plays(page, "#tab-world")
        page.screenshot(path=str(shots / "world.png"), full_page=True)

        # History: this session's outputs; choosing one shows it
        page.get_by_role("tab", name="History").click()
        tab = page.locator("#tab-history")
        page.wait_for_function("document.querySelector('#tab-history').innerText.includes('compare')", timeout=10_000)
        tab.get_by_role("combobox", name="Output").click()
        page.get_by_role("option").first.click()
        _plays(page, "#tab-history")
        page.wait_for_timeout(500)  # the option list fades out
        page.screenshot(path=str(shots / "history.png"), full_page=True)

        # restoring the first output's parameters brings them back to Generate
        page.get_by_role("tab", name="Generate").click()
        page.locator("#tab-generate").get_by_label("Prompt", exact=True).fill("a star")
        page.get_by_role("tab", name="History").click()
        tab.get_by_role("button", name="Restore its parameters").click()
        page.wait_for_function("document.querySelector('#tab-generate') && "
                               "document.querySelector('#tab-generate').offsetParent !== null", timeout=10_000)
        prompt = page.locator("#tab-generate").get_by_label("Prompt", exact=True)
        page.wait_for_function("(el) => el.value.startsWith('a small cyan')", arg=prompt.element_handle(),
                               timeout=10_000)
        browser.close()


@pytest.mark.slow
@pytest.mark.alone  # scripts/test.sh runs it after the others, on an idle CPU
def test_cold_start_to_the_first_video(tmp_path):
    """Launch `flipbook studio` and time it to the first finished video with the default settings."""
    from gradio_client import Client

    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    load = os.getloadavg()[0]  # ≥ 1: another process already holds a core (the figure is for this CPU idle)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "studio", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = None
        while client is None:
            assert proc.poll() is None and time.perf_counter() - start < 120, "the studio did not start"
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            except Exception:
                time.sleep(0.2)
        video = client.predict(PROMPT, api_name="/generate")[0]  # defaults: 8 frames, 25 steps, dpm++
        seconds = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(30)
    assert Path(video).is_file()
    print(f"cold start to the first video: {seconds:.1f} s (load average {load:.1f} before the start)")
    (_shots() / "cold_start.txt").write_text(f"{seconds:.2f} s, load average {load:.2f}\n")
    # The product's target is 20 s on an idle 2-core CPU (measured 15–16 s with step previews throttled, 19–21 s
    # before). The assertion is a regression guard at 30 s, since CI runs this among other tests on a busy CPU.
    limit = float(os.environ.get("FLIPBOOK_COLD_START_LIMIT", 30))
    if seconds > limit and load >= 1:
        pytest.xfail(f"{seconds:.1f} s > {limit:g} s, but the CPU was busy (load average {load:.1f}) when it started")
    assert seconds <= limit


@pytest.fixture(scope="module")
def pyramid_studio(tmp_path_factory):
    """A studio whose modes folder holds one 2-stage pyramid-trained folder (2 training steps: the weights do not
    matter here, the record does)."""
    from engine.training.clips import world_batches
    from engine.tune import tune_mode
    from studio.context import Outputs, Studio

    root = tmp_path_factory.mktemp("pyramid")
    tune_mode("temporal", root / "modes" / "pyr", world_batches(1), 2, work_dir=root / "work",
              record={"form": "ddim", "pyramid": 2, "clip": {"size": 32, "fps": 4.0, "frames": 8}})
    return Studio(Outputs(root / "out"), {"modes": str(root / "modes")})


def test_a_pyramid_model_samples_with_and_without_its_pyramid(pyramid_studio):
    import gradio as gr

    from studio.tabs.compare import compare
    from studio.tabs.generate import generate, pyramid_state

    studio = pyramid_studio
    assert ("pyr (temporal) — 2-stage pyramid", "pyr+pyramid") in studio.choices(pyramid=True)
    assert pyramid_state(studio, "pyr").interactive and not pyramid_state(studio, "zero-shot").interactive
    *_, last = generate(studio, PROMPT, "", 0, 4, 4, 4.0, "ddim", "pyr", True, [])
    assert last[2]["pyramid"] == 2 and last[2]["fps"] == 4.0
    with pytest.raises(gr.Error, match="frames must be a multiple of 2"):
        list(generate(studio, PROMPT, "", 0, 5, 4, 4.0, "ddim", "pyr", True, []))
    *_, last = compare(studio, PROMPT, "", 0, 4, 4, 4.0, "ddim", ["pyr", "pyr+pyramid"], [])
    assert [m["model"] for m in last[3]["metrics"]] == ["pyr (temporal)", "pyr (temporal) — pyramid"]


def test_stop_ends_a_tune(pyramid_studio):
    import gradio as gr

    from studio.tabs.tune import WORLD, tune

    run = tune(pyramid_studio, "simda", WORLD, None, "", 20, 1, 1e-3, 0, [])
    status = next(run)[0]
    assert status.startswith("Training simda: step 1 of 20")
    pyramid_studio.stop("local:tune")
    with pytest.raises(gr.Error, match="Stopped at step 2 of 20"):
        list(run)


def test_a_step_preview_shows_at_most_eight_frames_first_to_last():
    from studio.media import PREVIEW_FRAMES, preview_strip

    frames = torch.linspace(-1, 1, 29).reshape(1, 1, 29, 1, 1).expand(1, 3, 29, 16, 16)
    strip = preview_strip(frames)
    scale = 96 // 16
    assert strip.shape == (96, PREVIEW_FRAMES * 16 * scale, 3)
    assert strip[0, 0, 0] == 0 and strip[0, -1, 0] == 255  # the first frame and the last
    assert preview_strip(frames[:, :, :4]).shape[1] == 4 * 16 * scale  # fewer frames: all of them
