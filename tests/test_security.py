"""Security: weights load from safetensors only (a pickle is refused, never unpickled); uploads are limited in size
and type and land in the studio's own private temp folder; no request string becomes a path outside that folder;
the studio binds to loopback by default, opens no share link, and takes an optional login."""
from __future__ import annotations

import json
import os
import pickle
import re
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
SOURCES = ["engine", "studio", "bench", "scripts", "notebooks"]


class Trap:
    """Unpickling this creates the file it names."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _source_lines():
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                yield f"{path.relative_to(ROOT)}:{n}", line


def test_no_code_unpickles():
    """torch.load only with weights_only=True; no pickle, dill, joblib or allow_pickle; from_pretrained with
    use_safetensors=True (tokenizers and schedulers read JSON and text)."""
    bad = []
    for where, line in _source_lines():
        code = line.split("#")[0]
        if "torch.load(" in code and "weights_only=True" not in code:
            bad.append((where, line))
        if re.search(r"\bimport (c?pickle|dill|joblib)\b|\bpickle\.loads?\(|allow_pickle=True|use_safetensors=False",
                     code):
            bad.append((where, line))
        if ".from_pretrained(" in code and not re.search(r"use_safetensors=True|Tokenizer|Scheduler|\*\*kwargs", code):
            bad.append((where, line))
    assert not bad, bad


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "UNPICKLED"
    yield path
    assert not path.exists(), "a pickle was unpickled"


def test_pickled_weights_are_refused_everywhere_weights_load(base_dir, tmp_path, marker):
    from engine.models.base import load_base
    from engine.tuning import load_tuned
    from engine.pipelines.edit import InversionCache
    from engine.training.checkpoint import load_checkpoint, save_checkpoint
    from engine.validate import read_safetensors

    trap = pickle.dumps({"w": Trap(marker)})
    # a raw pickle, and torch.save's zip of pickles, named .safetensors
    writers = (("raw", lambda p: p.write_bytes(trap)), ("torch", lambda p: torch.save({"w": Trap(marker)}, p)))
    for name, write in writers:
        path = tmp_path / f"{name}.safetensors"
        write(path)
        with pytest.raises(ValueError, match="not a safetensors file.*safetensors only"):
            read_safetensors(path)
    # a base whose UNet weights are a pickle (.bin): diffusers is told safetensors only
    base = tmp_path / "bin-base"
    shutil.copytree(base_dir, base)
    (base / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    torch.save({"w": Trap(marker)}, base / "unet" / "diffusion_pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="safetensors"):
        load_base(base)
    # a tuned folder with pickled weights beside its mode.json
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    (tuned / "mode.json").write_text(json.dumps({"mode": "temporal"}))
    torch.save({"w": Trap(marker)}, tuned / "tuned.pt")
    with pytest.raises(FileNotFoundError, match="tuned.pt is pickle weights, which Flipbook never loads"):
        load_tuned(load_base(base_dir).unet, tuned)
    # a checkpoint whose optimizer state is a pickle with code in it (an older Flipbook's optimizer.pt): never read,
    # the weights resume with a fresh optimizer state and a warning says so
    model = torch.nn.Linear(2, 2)
    save_checkpoint(tmp_path / "ckpt", {"model": model}, torch.optim.AdamW(model.parameters()), {"step": 1})
    (tmp_path / "ckpt" / "optimizer.safetensors").unlink()
    torch.save({"state": Trap(marker)}, tmp_path / "ckpt" / "optimizer.pt")
    with pytest.warns(UserWarning, match="optimizer.pt is a pickle"):
        assert load_checkpoint(tmp_path / "ckpt", {"model": model}, torch.optim.AdamW(model.parameters())) == {"step": 1}
    # ... and optimizer.safetensors replaced by that pickle is refused as what it is
    (tmp_path / "ckpt" / "optimizer.pt").rename(tmp_path / "ckpt" / "optimizer.safetensors")
    with pytest.raises(ValueError, match="not a safetensors file"):
        load_checkpoint(tmp_path / "ckpt", {"model": model}, torch.optim.AdamW(model.parameters()))
    # a cached inversion replaced by a pickle is a cache miss
    cache = InversionCache(tmp_path / "cache")
    cache.path("k").parent.mkdir(parents=True)
    cache.path("k").write_bytes(trap)
    assert cache.get("k") is None


def test_a_pickled_judge_is_refused_by_the_cli(tmp_path, capsys, marker):
    from engine.metrics.judge import ASSET
    from studio.cli import main

    judge = tmp_path / "judge"
    shutil.copytree(ASSET, judge)
    for f in judge.glob("*.safetensors"):
        f.unlink()
    torch.save({"w": Trap(marker)}, judge / "diffusion_pytorch_model.bin")
    clips = tmp_path / "clips"
    clips.mkdir()
    assert main(["render", "--prompt", PROMPT, "--size", "32", "--frames", "8", "--fps", "2",
                 "--out", str(clips / "a.mp4")]) == 0
    (tmp_path / "p.txt").write_text(f"a.mp4\t{PROMPT}\n")
    capsys.readouterr()
    assert main(["eval", "--videos", str(clips), "--prompts", str(tmp_path / "p.txt"), "--judge", str(judge)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "safetensors" in err.strip().splitlines()[-1]


def test_outputs_are_named_by_the_studio_never_by_a_request(tmp_path):
    from studio.context import Outputs, Studio

    outputs = Outputs(tmp_path / "out")
    for kind in ("../../etc/x", "a/b", "..", "/abs", ""):
        with pytest.raises(ValueError, match="never a path"):
            outputs.new(kind)
    with pytest.raises(ValueError, match="never a path"):
        outputs.new("generate", "/../../x")
    studio = Studio(outputs)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "mode.json").write_text('{"mode": "temporal"}')
    for key in ("../../etc", str(tmp_path / "elsewhere"), str(outputs.root / ".." / "elsewhere"), "~/x", "/etc/passwd"):
        with pytest.raises(ValueError, match="no tuned model|outside this studio's folders"):
            studio.resolve(key)


def test_the_studio_command_defaults_to_loopback_without_a_share_link():
    from studio.cli import build_parser

    args = build_parser().parse_args(["studio"])
    assert args.host == "127.0.0.1" and args.share is False and args.auth is None
    assert (args.queue_size, args.max_sessions, args.max_upload_mb) == (32, 64, None)  # None: the app's own limit
    from studio.app import MAX_UPLOAD_MB

    assert MAX_UPLOAD_MB == 32  # what the README promises Edit takes


def test_a_malformed_auth_is_refused_before_the_server_starts(capsys):
    from studio.cli import main

    assert main(["studio", "--auth", "no-colon", "--port", "1"]) == 2
    assert "--auth takes USER:PASSWORD" in capsys.readouterr().err


def test_readme_documents_security():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Security"):]
    for words in ("127.0.0.1", "--host", "--auth", "--share", "safetensors", "--max-upload-mb", "private temporary"):
        assert words in section, words


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _other_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (None if it has none)."""
    import psutil

    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                return a.address
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`flipbook studio --auth user:secret --max-upload-mb 1` with its own TMPDIR: (url, outputs root, TMPDIR)."""
    from gradio_client import Client

    tmp = tmp_path_factory.mktemp("studio-tmp")
    log = tmp.parent / "studio.log"
    port = _free_port()
    env = {**os.environ, "TMPDIR": str(tmp), "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1"}
    env.pop("GRADIO_TEMP_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "studio", "--port", str(port), "--auth", "user:secret",
                             "--max-upload-mb", "1"], cwd=ROOT, env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)
    url, start = f"http://127.0.0.1:{port}/", time.perf_counter()
    try:
        while True:
            assert proc.poll() is None and time.perf_counter() - start < 180, log.read_text()[-2000:]
            try:
                Client(url, auth=("user", "secret"), verbose=False)
                break
            except Exception:
                time.sleep(0.3)
        root = Path(re.search(r"outputs in (\S+)\)", log.read_text()).group(1))
        yield url, port, root, tmp
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.slow
def test_the_running_studio(server, tmp_path):
    from gradio_client import Client, handle_file

    url, port, root, tmp = server
    # loopback only: the port answers on 127.0.0.1, not on the machine's other address
    other = _other_address()
    if other is not None:
        with pytest.raises(OSError):
            socket.create_connection((other, port), timeout=3).close()
    # a login is required
    with pytest.raises(Exception):
        Client(url, verbose=False).predict(PROMPT, 0, 16, 2, 2, api_name="/render")
    client = Client(url, auth=("user", "secret"), verbose=False)
    # outputs and uploads live in the studio's private folder under TMPDIR
    assert root.is_relative_to(tmp) and root.stat().st_mode & 0o077 == 0
    record = client.predict(PROMPT, "", 3, 2, 1, 4.0, "ddim", "zero-shot", False, api_name="/generate")[2]
    sidecar = tmp_path / "mine.json"
    sidecar.write_text(json.dumps(record))
    assert client.predict(handle_file(str(sidecar)), api_name="/restore")[0] == PROMPT
    assert [p for p in root.rglob("mine.json")], "the uploaded sidecar is not in the studio's folder"
    # uploads: too large, or of the wrong type, are refused
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"kind": "generate", "pad": "x" * 1_500_000}))
    with pytest.raises(Exception, match="(?i)size|large") as too_big:
        client.predict(handle_file(str(big)), api_name="/restore")
    (tmp_path / "x.exe").write_bytes(b"MZ")
    with pytest.raises(Exception, match="Invalid file type") as wrong_type:
        client.predict(handle_file(str(tmp_path / "x.exe")), api_name="/restore")
    # a request cannot name a file of the server's own: only uploads are read
    # (raw HTTP: gradio_client would upload a local file of that name, this machine being the server too)
    import httpx

    secret = next((ROOT / "assets" / "modes").glob("*/mode.json"))  # a JSON file of the server's, not an upload
    body = {"data": [{"path": str(secret), "meta": {"_type": "gradio.FileData"}}]}
    event = httpx.post(url + "gradio_api/call/restore", json=body, cookies=client.cookies, timeout=60).json()
    with httpx.stream("GET", url + f"gradio_api/call/restore/{event['event_id']}", cookies=client.cookies,
                      timeout=60) as stream:
        answer = "\n".join(stream.iter_lines())
    assert "event: error" in answer and "not a Flipbook sidecar" not in answer, answer
    server_file = answer.split("data:")[-1].strip()
    # the size limit holds on the server too, not only in gradio_client
    raw = httpx.post(url + "gradio_api/upload", files={"files": ("big.json", big.read_bytes())}, cookies=client.cookies,
                     timeout=60)
    assert raw.status_code in (400, 413), (raw.status_code, raw.text[:200])
    print(f"loopback only (refused on {other}); too big: {str(too_big.value)[:120]!r}; wrong type: "
          f"{str(wrong_type.value)[:80]!r}; a server path: {server_file[:120]!r}")
    # hostile strings: refused, and nothing is written outside the studio's folder
    for args, api in [((PROMPT, "", 0, 2, 1, 4.0, "ddim", "../../../../tmp/evil", False), "/generate"),
                      (("../../etc/passwd", 0, 16, 2, 2), "/render"),
                      (("../../x", "world clips (train split)", None, "", 1, 1, 1e-3, 0), "/tune")]:
        with pytest.raises(Exception):
            client.predict(*args, api_name=api)
    outside = [p for p in tmp.rglob("*") if p.is_file() and not p.is_relative_to(root)]
    assert not outside, outside
