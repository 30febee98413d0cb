#!/usr/bin/env python3
"""The course's two commands, for a machine that has only Python 3.10+.

    python3 tasks.py course [--fast] [--dataset NAME] ...   # run every notebook
    python3 tasks.py lab [JUPYTERLAB OPTIONS]               # open the course
    python3 tasks.py test                                   # lint, tests, notebooks

Each creates the virtual environment `.venv` with the pinned versions of
requirements/ when it is missing or out of date, and reuses it otherwise.
Uses only the standard library, so it runs before anything is installed.
"""

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("KERAS_AE_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / "keras-ae-installed.sha256"
INPUTS = ("pyproject.toml", "requirements/ci.txt", "requirements/constraints.txt")
NOTEBOOK_TIMEOUT_S = 600  # per cell, fast profile


def log(message):
    print(f"[tasks] {message}", flush=True)


def run(*args, env=None):
    log(" ".join(str(a) for a in args))
    return subprocess.call([str(a) for a in args], cwd=ROOT, env=env)


def fingerprint():
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment():
    """Creates or updates .venv; returns without work when it is current."""
    if (
        STAMP.exists()
        and STAMP.read_text().strip() == fingerprint()
        and PYTHON.exists()
    ):
        log(f"environment {VENV} is up to date")
        return
    start = time.monotonic()
    if not PYTHON.exists():
        log(f"creating {VENV}")
        venv.create(VENV, with_pip=True)
    pip = [PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    steps = [
        [*pip, "--upgrade", "pip"],
        [*pip, "-r", "requirements/ci.txt", "-c", "requirements/constraints.txt"],
        [*pip, "--no-deps", "-e", "."],
    ]
    for step in steps:
        if run(*step) != 0:
            sys.exit(f"[tasks] installing failed: {' '.join(map(str, step))}")
    STAMP.write_text(fingerprint())
    log(f"environment ready in {time.monotonic() - start:.0f} s")


def course(args):
    return run(PYTHON, "-m", "keras_ae", "course", *args)


def lab(args):
    """Opens the course's notebooks in JupyterLab (installed in .venv)."""
    options = [f"--notebook-dir={ROOT / 'notebooks'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.append("--allow-root")  # a container's root user, as in CI
    return run(PYTHON, "-m", "jupyterlab", *options, *args)


def test(args):
    """Lint and format check, then unit tests and every notebook (fast profile)."""
    ruff = [PYTHON, "-m", "ruff"]
    if run(*ruff, "format", "--check", ".") or run(*ruff, "check", "."):
        log("lint failed: `ruff format . && ruff check --fix .` (in .venv) fixes most")
        return 1
    env = {**os.environ, "KERAS_AE_PROFILE": "fast", "MPLBACKEND": "Agg"}
    # keras_ae's docstring examples run as doctests (--doctest-modules); the
    # helper scripts that tests start in subprocesses are not modules to import.
    return run(
        PYTHON, "-m", "pytest", "tests", "notebooks", "keras_ae", "--nbmake",
        "--doctest-modules", "--ignore=tests/_multiworker_worker.py",
        "--ignore=tests/_load_and_predict.py",
        f"--nbmake-timeout={NOTEBOOK_TIMEOUT_S}", "--durations=10", *args, env=env,
    )  # fmt: skip


def main(argv):
    commands = {"course": course, "lab": lab, "test": test}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    start = time.monotonic()
    ensure_environment()
    code = commands[argv[0]](argv[1:])
    log(f"{argv[0]} finished with exit code {code} in {time.monotonic() - start:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
