"""The teaching notebooks: each executes top to bottom headless from its small `parameters` cell, checks its
hand derivations against the engine (at least three asserts in cells that call the engine), shows plots and
wraps a plain function in a widget; the committed files are what `notebooks/build.py` makes, without outputs."""
import ast
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import psutil
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


STALL = 60  # seconds in which the runner and its kernel used under a second of CPU: a hang, not a slow cell
# (hung, both idle in their event loops, they used 0.03 s in 20 s; a working kernel uses a core)


def cpu_seconds(proc: psutil.Process) -> float:
    """CPU time (user + system) of a process and all its children so far; 0 for those that have ended."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def kill_tree(proc: psutil.Process):
    """The runner and its kernel (a kernel outlives a runner killed alone)."""
    family = [*proc.children(recursive=True), proc]
    for p in family:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)


def run_once(command: list[str], env: dict, limit: float) -> tuple[int | None, str]:
    """Run `command`; (its return code, its stderr), or (None, why) when it hangs (it and its kernel use under a
    second of CPU in STALL seconds) or passes `limit` seconds, after killing it and its kernel."""
    with tempfile.TemporaryFile("w+") as err:
        proc = psutil.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        started = last_busy = time.time()
        used = 0.0
        while proc.poll() is None:
            time.sleep(2)
            now, seen = time.time(), cpu_seconds(proc)
            if seen > used + 1.0:
                used, last_busy = seen, now
            if now - last_busy > STALL or now - started > limit:
                kill_tree(proc)
                return None, f"under 1 s of CPU in {STALL} s" if now - last_busy > STALL else f"over {limit:g} s"
        err.seek(0)
        return proc.returncode, err.read()


def execute(name: str, out: Path, tries: int = 3) -> float:
    """Run a notebook in its own process (a kernel client inside the test process, after the studio tests' servers
    and event loops, has hung with both sides idle). Separate processes hang too now and then, both sides idle in
    their event loops (a lost kernel message; nbclient's issue 312 reports the same around widgets), so a run whose
    runner and kernel use under a second of CPU in STALL seconds is killed with its kernel and tried again, three tries in all."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",  # the kernel inherits these: one thread
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    command = [sys.executable, "-c", RUN, str(NOTEBOOKS / f"{name}.ipynb"), str(out), str(NOTEBOOKS)]
    for attempt in range(tries):
        started = time.time()
        code, stderr = run_once(command, env, limit=600)
        if code is None:
            print(f"{name}: {stderr} (try {attempt + 1}); trying again")
            continue
        assert code == 0, stderr[-3000:]
        return time.time() - started
    pytest.fail(f"{name}: the notebook did not finish in {tries} tries")


# The longest first (tests --durations: 03 about 130 s at one thread, 01 110, 04 85, 02 20, 00 7), so that two at a
# time finish together
RUN_ORDER = ["03_temporal_pyramid", "01_inflation", "04_long_clips", "02_latent_shift_attention", "00_index"]


@pytest.fixture(scope="module")
def headless_runs(request, tmp_path_factory):
    """Every selected notebook's headless run, started when the first is asked for: {name: future of its executed
    copy's path}. Two at a time, longest first (each kernel has one thread, so both cores work while the tests wait),
    or, in a pytest-xdist worker (another test process has the other core), one at a time in the tests' order, so
    that each test waits only for the notebooks before it."""
    chosen = {item.callspec.params["name"] for item in request.session.items
              if getattr(item, "originalname", "") == "test_notebook_executes_headless"}
    out = tmp_path_factory.mktemp("notebooks")  # the executed copies, for a look when something is off

    def run(name: str) -> Path:
        seconds = execute(name, out / f"{name}.ipynb")
        print(f"{name}: {seconds:.0f} s")
        return out / f"{name}.ipynb"

    alone = not os.environ.get("PYTEST_XDIST_WORKER")
    order = RUN_ORDER + [n for n in ALL if n not in RUN_ORDER] if alone else ALL
    with ThreadPoolExecutor(max_workers=2 if alone else 1) as pool:
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
