"""The teaching notebooks: each executes top to bottom headless from its small `parameters` cell, checks its
hand derivations against the engine (at least three asserts in cells that call the engine), shows plots and
wraps a plain function in a widget; the committed files are what `notebooks/build.py` makes, without outputs."""
import ast
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TEACHING = ["01_inflation", "02_latent_shift_attention", "03_temporal_pyramid", "04_long_clips"]
ALL = ["00_index", *TEACHING]


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def engine_names(nb) -> set[str]:
    """Names a notebook imports from the engine (`from engine.x import a, b as c`; `import engine`)."""
    names = set()
    for cell in code_cells(nb):
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "engine":
                names |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.asname or a.name for a in node.names if a.name.split(".")[0] == "engine"}
    return names


def engine_asserts(nb) -> list[str]:
    """Assert statements in code cells that call something imported from the engine (or use its results)."""
    names = engine_names(nb)
    found = []
    for cell in code_cells(nb):
        tree = ast.parse(cell.source)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        if used & names:
            found += [ast.get_source_segment(cell.source, n) for n in ast.walk(tree) if isinstance(n, ast.Assert)]
    return found


def test_the_index_links_every_teaching_notebook():
    text = "\n".join(c.source for c in read("00_index").cells)
    for name in TEACHING:
        assert f"({name}.ipynb)" in text


@pytest.mark.parametrize("name", ALL)
def test_committed_notebooks_are_built_and_stripped(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build", NOTEBOOKS / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    committed, fresh = read(name), build.build(name)
    assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], \
        f"notebooks/{name}.ipynb is out of date: run python notebooks/build.py"
    assert all(not c.get("outputs") for c in code_cells(committed)), "commit notebooks without outputs"
    assert (NOTEBOOKS / f"{name}.ipynb").stat().st_size < 300_000


@pytest.mark.parametrize("name", TEACHING)
def test_teaching_notebooks_have_parameters_engine_asserts_and_widgets(name):
    nb = read(name)
    first = code_cells(nb)[0]
    assert "parameters" in first.metadata.get("tags", []), "the first code cell must be tagged `parameters`"
    assert "THREADS" in first.source, "the parameters cell sets the CPU threads"
    asserts = engine_asserts(nb)
    assert len(asserts) >= 3, f"{name}: only {len(asserts)} asserts against the engine: {asserts}"
    source = "\n".join(c.source for c in code_cells(nb))
    assert "widgets.interactive(" in source, "a widget wraps a plain function"
    wrapped = re.findall(r"widgets\.interactive\(\s*(\w+)", source)
    for fn in wrapped:  # ... which the headless run also calls
        assert re.search(rf"^{fn}\(", source, re.M) or re.search(rf"^\w[\w, ]* = {fn}\(", source, re.M), \
            f"{name}: the widget's function {fn} is never called outside the widget"


RUN = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, sys.argv[2])
"""


def execute(name: str, out: Path, tries: int = 3) -> float:
    """Run a notebook in its own process (a kernel client inside the test process, after the studio tests' servers
    and event loops, has hung with both sides idle); a run that hangs is killed and tried again. Separate processes
    have hung too, both sides idle in their event loops (a lost kernel message; twice in a row once, on a CPU busy
    with another job), so a notebook gets three tries."""
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",  # the kernel inherits these: one thread
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    for attempt in range(tries):
        started = time.time()
        try:
            done = subprocess.run([sys.executable, "-c", RUN, str(NOTEBOOKS / f"{name}.ipynb"), str(out),
                                   str(NOTEBOOKS)], env=env, capture_output=True, text=True, timeout=420)
        except subprocess.TimeoutExpired:
            print(f"{name}: no answer in 420 s (try {attempt + 1})")
            continue
        assert done.returncode == 0, done.stderr[-3000:]
        return time.time() - started
    pytest.fail(f"{name}: the notebook did not finish in {tries} tries of 420 s")


# The longest first (tests --durations: 01 about 170 s at one thread, 03 130, 04 85, 02 20, 00 7), so that two at a
# time finish together
RUN_ORDER = ["01_inflation", "03_temporal_pyramid", "04_long_clips", "02_latent_shift_attention", "00_index"]


@pytest.fixture(scope="module")
def headless_runs(request, tmp_path_factory):
    """Every selected notebook's headless run, started when the first is asked for and run two at a time (each
    kernel has one thread, so both cores work while the tests wait; one at a time in a pytest-xdist worker): {name: future of its executed copy's path}."""
    chosen = {item.callspec.params["name"] for item in request.session.items
              if getattr(item, "originalname", "") == "test_notebook_executes_headless"}
    out = tmp_path_factory.mktemp("notebooks")  # the executed copies, for a look when something is off

    def run(name: str) -> Path:
        seconds = execute(name, out / f"{name}.ipynb")
        print(f"{name}: {seconds:.0f} s")
        return out / f"{name}.ipynb"

    # two kernels at a time, unless pytest-xdist already runs another test process beside this one
    with ThreadPoolExecutor(max_workers=1 if os.environ.get("PYTEST_XDIST_WORKER") else 2) as pool:
        order = RUN_ORDER + [n for n in ALL if n not in RUN_ORDER]
        yield {name: pool.submit(run, name) for name in order if name in chosen}


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
def test_notebook_executes_headless(name, headless_runs):
    nb = nbformat.read(headless_runs[name].result(), as_version=4)
    outputs = [o for c in code_cells(nb) for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    if name in TEACHING:
        kinds = {k for o in outputs for k in o.get("data", {})}
        assert "image/png" in kinds, "plots must show"
        assert "application/vnd.jupyter.widget-view+json" in kinds, "widgets must show"


def test_renoise_coefficients_meet_the_moment_conditions():
    """engine.diffusion.pyramid.renoise_coefficients (added for notebook 3): c·a_e = a_s', c²b_e² + d² = b_s'²,
    c²b_e² + ρd² = 0 at every stage boundary, ρ = −1 where the next stage starts at exactly half the SNR."""
    from engine.diffusion.pyramid import FlowForm, renoise_coefficients, stages

    form = FlowForm()
    plan = stages(form, 3)
    for prev, nxt in zip(plan, plan[1:]):
        c, d, rho = renoise_coefficients(form, prev, nxt)
        (a_e, b_e), (a_s, b_s) = form.ab(prev.end), form.ab(nxt.start)
        assert c * a_e == pytest.approx(float(a_s), abs=1e-6)
        assert (c * b_e) ** 2 + d**2 == pytest.approx(float(b_s) ** 2, abs=1e-6)
        assert (c * b_e) ** 2 + rho * d**2 == pytest.approx(0, abs=1e-6)
        assert rho == pytest.approx(-1, abs=1e-5)
    with pytest.raises(ValueError, match="half the signal-to-noise"):
        plain = stages(form, 3, corrected=False)
        renoise_coefficients(form, plain[0], plain[1])
