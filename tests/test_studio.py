"""The studio through its API (gradio_client) and in headless Chromium (Playwright)."""
import os
import shutil
import socket
import time
from pathlib import Path

import pytest


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


def test_render_through_the_api(studio):
    from gradio_client import Client

    client = Client(studio, verbose=False)
    video, files, record = client.predict("a big yellow star spinning against a sunset backdrop", 1, 64, 8, 16,
                                          api_name="/render")
    assert Path(video).suffix == ".mp4" and len(files) == 2
    assert record["spec"]["objects"][0]["shape"] == "star" and record["frames"] == 16


def test_bad_prompt_is_a_clear_error_and_the_next_request_works(studio):
    from gradio_client import Client

    client = Client(studio, verbose=False)
    with pytest.raises(Exception, match="unknown words: 'hexagon'"):
        client.predict("a hexagon", 0, 64, 8, 16, api_name="/render")
    with pytest.raises(Exception, match="frames must be between|greater than maximum value 64"):
        client.predict("a star", 0, 64, 8, 500, api_name="/render")
    assert client.predict("a star", 0, 32, 8, 4, api_name="/render")[2]["frames"] == 4


def test_generate_through_the_api(studio):
    from gradio_client import Client

    client = Client(studio, verbose=False)
    video, files, record = client.predict("a red circle moving left on a black background", "", 3, 4, 4, 4.0,
                                          "ddim", "zero-shot", api_name="/generate")
    assert Path(video).suffix == ".mp4" and {Path(f).suffix for f in files} == {".mp4", ".json"}
    assert record["seed"] == 3 and record["frames"] == 4 and record["mode"] == "zero-shot"
    with pytest.raises(Exception, match="unknown words: 'hexagon'"):
        client.predict("a hexagon", "", 0, 4, 4, 4.0, "ddim", "zero-shot", api_name="/generate")


def test_studio_binds_to_loopback_by_default():
    import inspect

    from studio.app import launch

    assert inspect.signature(launch).parameters["host"].default == "127.0.0.1"


@pytest.mark.skipif(not shutil.which("chromium") and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (scripts/test.sh installs it)")
def test_world_tab_in_a_browser(studio, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(studio)
        page.get_by_label("Prompt", exact=True).fill("a small cyan triangle bouncing on a checkerboard background")
        page.get_by_role("button", name="Render").click()
        page.wait_for_selector("video", timeout=30_000)
        page.wait_for_function("document.querySelector('video').currentTime > 0.2", timeout=15_000)
        page.wait_for_function("document.body.innerText.includes('triangle')", timeout=10_000)
        assert page.evaluate("!document.querySelector('video').paused")
        shots = Path(__file__).resolve().parents[1] / "runs" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "world.png"), full_page=True)
        browser.close()
