"""Screenshots of the notebooks run in JupyterLab (not a test): open each, Run All, move a widget, shoot.

Start JupyterLab first on copies of the notebooks (running them in place would save outputs into the repo):

    mkdir -p /tmp/lab && cp notebooks/*.ipynb /tmp/lab/
    mkdir -p SETTINGS/@jupyterlab/notebook-extension SETTINGS/@jupyterlab/apputils-extension
    echo '{"windowingMode": "none"}' > SETTINGS/@jupyterlab/notebook-extension/tracker.jupyterlab-settings
    echo '{"fetchNews": "false"}' > SETTINGS/@jupyterlab/apputils-extension/notification.jupyterlab-settings
    JUPYTERLAB_SETTINGS_DIR=SETTINGS jupyter lab --no-browser --port 8899 --ServerApp.token='' \
        --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=/tmp/lab --LabApp.expose_app_in_browser=True &
    python notebooks/screenshots/take.py index inflation latent pyramid

Drives Debian's chromium (/usr/bin/chromium) with Playwright; writes small PNGs beside this script.
"""
import io
import os
import sys
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

URL = "http://127.0.0.1:8899"
SAVE = str(Path(__file__).resolve().parent)


def kernel_status(page):
    return page.evaluate("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget; "
                         "return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel ? "
                         "w.sessionContext.session.kernel.status : null }")


def wait_idle(page, limit=900):
    time.sleep(1.5)
    for _ in range(limit * 2):
        if kernel_status(page) == "idle":
            return
        time.sleep(0.5)


def shot(page, name):
    png = page.screenshot()
    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    img.save(f"{SAVE}/{name}.png", optimize=True)
    print("saved", name, os.path.getsize(f"{SAVE}/{name}.png") // 1024, "KB")


def scroll_to(page, locator, block="center", offset=0):
    locator.evaluate(f"e => e.scrollIntoView({{block: '{block}'}})")
    if offset:
        page.evaluate(f"() => document.querySelector('.jp-WindowedPanel-outer').scrollBy(0, {offset})")
    time.sleep(0.8)


def open_and_run(page, name, wait_text):
    page.goto(f"{URL}/lab/tree/{name}.ipynb?reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
                           "window.jupyterapp.shell.currentWidget.content", timeout=120000)
    wait_idle(page, 120)
    page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")
    t0 = time.time()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    if wait_text:
        page.wait_for_selector(f"text={wait_text}", timeout=600000)
    wait_idle(page)
    print(name, f"ran in Lab in {time.time() - t0:.0f} s; errors:",
          page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count(),
          "images:", page.locator(".jp-OutputArea-output img").count(),
          "widgets:", page.locator(".widget-interact").count())


def nudge(page, widget, presses: int, name: str, offset=0):
    """Press a widget's first slider handle right `presses` times, wait for the kernel, shoot the widget."""
    handle = widget.locator(".noUi-handle").first
    handle.focus()
    for _ in range(presses):
        handle.press("ArrowRight")
    wait_idle(page, 60)
    scroll_to(page, widget, "end", offset=offset)
    shot(page, name)


def index(page):
    open_and_run(page, "00_index", None)
    page.evaluate("() => document.querySelector('.jp-WindowedPanel-outer').scrollTo(0, 0)")
    time.sleep(0.5)
    shot(page, "00_index")


def inflation(page):
    open_and_run(page, "01_inflation", "notebook ran in")
    imgs = page.locator(".jp-OutputArea-output img")
    scroll_to(page, imgs.nth(1), "end")
    shot(page, "01_inflation_zero_shot")
    scroll_to(page, imgs.nth(3), "end", offset=60)
    shot(page, "01_inflation_tuning")
    w = page.locator(".widget-interact").first
    w.locator("select").select_option(label="temporal, 40 steps")
    nudge(page, w, 5, "01_inflation_widget")


def latent_shift(page):
    open_and_run(page, "02_latent_shift_attention", "notebook ran in")
    imgs = page.locator(".jp-OutputArea-output img")
    scroll_to(page, imgs.nth(0), "end")
    shot(page, "02_latent_shift_flops")
    w = page.locator(".widget-interact").first
    w.locator("button", has_text="spatio-temporal").click()
    wait_idle(page, 60)
    nudge(page, w, 2, "02_latent_shift_widget")  # the frame slider


def pyramid(page):
    open_and_run(page, "03_temporal_pyramid", "notebook ran in")
    widgets = page.locator(".widget-interact")
    nudge(page, widgets.nth(0), 1, "03_pyramid_stage_windows", offset=60)  # K: 3 -> 4
    imgs = page.locator(".jp-OutputArea-output img")
    scroll_to(page, imgs.nth(3), "end")
    shot(page, "03_pyramid_covariances")
    w = widgets.nth(1)
    w.locator("button", has_text="ddim").click()
    wait_idle(page, 60)
    scroll_to(page, w, "end")
    shot(page, "03_pyramid_widget")
    scroll_to(page, imgs.last, "end", offset=80)
    shot(page, "03_pyramid_base")


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1300, "height": 950})
    for step in sys.argv[1:]:
        {"index": index, "inflation": inflation, "latent": latent_shift, "pyramid": pyramid}[step](page)
    browser.close()
