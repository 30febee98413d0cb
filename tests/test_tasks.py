"""Tests of tasks.py's `lab` command: the JupyterLab it opens starts and serves.

The server is started as `python3 tasks.py lab` starts it, on 127.0.0.1 only,
with a random token and no browser; the test asks its status API until it
answers (at most 90 s), checks that it serves the course's notebooks, then
stops it.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tasks  # noqa: E402


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read())


def test_lab_command_runs_jupyterlab_on_the_notebooks(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks, "run", lambda *args, **kwargs: calls.append(args) or 0)
    assert tasks.lab(["--no-browser"]) == 0
    (args,) = calls
    assert args[1:3] == ("-m", "jupyterlab")
    assert f"--notebook-dir={tasks.ROOT / 'notebooks'}" in args
    assert args[-1] == "--no-browser"


def test_jupyterlab_starts_serves_the_course_and_stops(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", f"--IdentityProvider.token={token}",
        f"--notebook-dir={ROOT / 'notebooks'}",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # as tasks.lab does
    environment = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    server = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "server.log").open("w"),
        env=environment,
    )
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status = _get(f"{base}/status?token={token}")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        log = (tmp_path / "server.log").read_text()
        assert status is not None, f"JupyterLab did not answer:\n{log[-2000:]}"
        assert "started" in status
        contents = _get(f"{base}/contents?token={token}")
        names = {item["name"] for item in contents["content"]}
        assert "00_setup_and_data.ipynb" in names
        with pytest.raises(urllib.error.HTTPError):  # the token is required
            _get(f"{base}/contents")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
