"""The studio as a newcomer meets it, in headless Chromium: an error keeps the last good output and says so once,
one progress bar a run, History holds every tab's output (World's too) and survives a reload of the page, and a
browser sees only the models it tuned unless the studio shares them."""
import os
from pathlib import Path

import pytest

from test_studio import CHROMIUM, _free_port, _plays, _shots, tune_in_page

pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (scripts/test.sh installs it)")
TOASTS = "document.querySelectorAll('.toast-body').length"


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from studio.app import Outputs, build_app

    app = build_app(Outputs(tmp_path_factory.mktemp("outputs")))
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", app.studio
    app.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        yield chromium
        chromium.close()


def _browse(browser, url: str):
    """A fresh browser (its own storage, as another person's would be) on the studio: (its context, its page)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    return context, page


def _generate(page, prompt: str, steps: int = 4):
    tab = page.locator("#tab-generate")
    tab.get_by_label("Prompt", exact=True).fill(prompt)
    tab.locator("#gen-steps input[type=number]").fill(str(steps))
    tab.locator("#gen-steps input[type=number]").press("Enter")
    tab.get_by_role("button", name="Generate", exact=True).click()


def _video_src(page) -> str:
    return page.evaluate("(document.querySelector('#tab-generate video') || {}).src || ''")


def test_an_error_keeps_the_last_video_and_says_so_once(studio, browser):
    url, _ = studio
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    _generate(page, "a red circle moving left on a black background")
    _plays(page, "#tab-generate")
    page.wait_for_function("document.querySelector('#tab-generate').innerText.includes('seed 0')", timeout=10_000)
    good = _video_src(page)
    caption = page.locator("#tab-generate").inner_text()
    _generate(page, "a red hexagon moving left")
    page.wait_for_function(f"{TOASTS} >= 1", timeout=30_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(_shots() / "generate-error.png"), full_page=True)
    assert page.evaluate(TOASTS) == 1 and "hexagon" in page.locator(".toast-body").inner_text()
    assert _video_src(page) == good  # the last good video stays, with its caption
    assert page.evaluate("document.querySelector('#tab-generate video').offsetParent !== null")
    assert "seed 0" in page.locator("#tab-generate").inner_text() and "seed 0" in caption
    badges = page.evaluate("[...document.querySelectorAll('#tab-generate .error')].filter(e => e.offsetParent)"
                           ".length")
    assert badges <= 1  # at most the step preview's
    page.close()


def test_one_progress_bar_a_run(studio, browser):
    url, _ = studio
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    _generate(page, "a blue square moving up on a gray background", steps=40)
    bars = "[...document.querySelectorAll('#tab-generate .progress-text, #tab-generate .meta-text')]" \
           ".filter(e => e.offsetParent).length"
    page.wait_for_function(f"{bars} >= 1", timeout=30_000)
    seen = max(page.evaluate(bars) for _ in range(5) if page.wait_for_timeout(200) is None)
    assert seen == 1
    _plays(page, "#tab-generate")
    page.close()


def test_history_holds_every_tab_and_survives_a_reload(studio, browser):
    url, _ = studio
    context, page = _browse(browser, url)
    _generate(page, "a green star rotating on a black background")
    _plays(page, "#tab-generate")
    page.get_by_role("tab", name="World").click()
    page.locator("#tab-world").get_by_role("button", name="Render").click()
    _plays(page, "#tab-world")
    page.get_by_role("tab", name="History").click()
    listed = "(k) => document.querySelector('#tab-history').innerText.includes(k)"
    page.wait_for_function(listed, arg="render", timeout=10_000)
    page.reload()
    page.get_by_role("tab", name="History").click()
    page.wait_for_function(listed, arg="green star", timeout=20_000)
    page.wait_for_function(listed, arg="render", timeout=5_000)
    page.screenshot(path=str(_shots() / "history-after-reload.png"), full_page=True)
    context.close()
    other, page = _browse(browser, url)  # another browser: its own, empty History
    page.get_by_role("tab", name="History").click()
    page.wait_for_timeout(1500)
    assert "green star" not in page.locator("#tab-history").inner_text()
    other.close()


def test_a_tuned_model_is_a_choice_only_for_the_browser_that_tuned_it(studio, browser):
    url, app_studio = studio
    tuner, page = _browse(browser, url)
    tune_in_page(page, 2)
    label = next(label for label, _ in app_studio.tuned.values())
    options = ("async () => { const box = document.querySelector('#tab-generate input[role=listbox], "
               "#tab-generate input[aria-label=\"Tuning mode\"]'); return box ? box.value : ''; }")
    page.get_by_role("tab", name="Generate").click()
    assert label.split(" (")[0] in page.evaluate(options)  # selected after tuning
    page.reload()
    choices = "(label) => [...document.querySelectorAll('[role=option]')].some(o => o.innerText.includes(label))"
    page.locator("#tab-generate").get_by_label("Tuning mode").click()
    page.wait_for_function(choices, arg=label.split(" (")[0], timeout=10_000)  # still there after a reload
    tuner.close()
    stranger, page = _browse(browser, url)
    page.locator("#tab-generate").get_by_label("Tuning mode").click()
    page.wait_for_selector("[role=option]", timeout=10_000)
    assert not page.evaluate(choices, label.split(" (")[0])
    stranger.close()


def test_download_names_say_which_model_made_them(studio):
    from gradio_client import Client

    client = Client(studio[0], verbose=False)
    prompt = "a red circle moving left on a black background"
    files = client.predict(prompt, "", 0, 4, 2, 4.0, "ddim", "zero-shot", False, api_name="/generate")[1]
    assert all(Path(f).name.startswith("generate-zero-shot-") for f in files)
    files = client.predict(prompt, "", 0, 4, 2, 4.0, "ddim", ["zero-shot", "ff-conv1d-attn1d-blocks"],
                           api_name="/compare")[2]
    assert any(Path(f).name.startswith("compare-zero-shot-vs-ff-conv1d-attn1d-blocks-") for f in files)
