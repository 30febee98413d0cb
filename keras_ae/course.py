"""Runs the course's notebooks in order and writes a report.

`python -m keras_ae course --fast` executes every `notebooks/*.ipynb` with
nbclient, saves each executed notebook and an HTML copy under `build/course/`,
and writes `report.json` and `report.md` there: per notebook its status and wall
time, the run's profile, data set and devices, and the "key numbers" that the
notebooks recorded with `record_result`.

A failing notebook does not stop the run: its partial output is saved, the
failing cell is named in the report, and the command exits with status 1.

This module imports only the standard library at the top, so a notebook can
`from keras_ae.course import record_result` at no cost.
"""

import datetime
import fnmatch
import json
import os
import platform
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path

__all__ = [
    "record_result",
    "find_notebooks_dir",
    "select_notebooks",
    "run_course",
    "RESULTS_DIR_ENV",
]

PROFILE_ENV = "KERAS_AE_PROFILE"  # read by keras_ae.utils.profile()
DATASET_ENV = "KERAS_AE_DATASET"  # read by keras_ae.data.default_dataset()
# keras_ae.data.DEFAULT_DATASET, without importing Keras here (tested equal).
DEFAULT_DATASET = "mnist_5k"
RESULTS_DIR_ENV = "KERAS_AE_RESULTS_DIR"
NOTEBOOK_ENV = "KERAS_AE_NOTEBOOK"  # the running notebook's stem, for record_result
DEFAULT_CELL_TIMEOUT = 1800


def record_result(name, value, *, unit=None, note=None):
    """Records one key number of a notebook for the course report.

    Under the course runner (`python -m keras_ae course`), which sets
    `KERAS_AE_RESULTS_DIR`, this appends `{name, value, unit, note}` to
    `$KERAS_AE_RESULTS_DIR/<notebook stem>.json`. Anywhere else it does nothing.
    Either way it returns `value`, so a notebook can record and print in one line.

    Args:
        name: What the number is, e.g. `"test reconstruction MSE"`.
        value: A number (Python or NumPy scalar) or a short string.
        unit: Optional unit, e.g. `"s"` or `"per pixel"`.
        note: Optional short remark, e.g. `"code_size=32, 20 epochs"`.

    Returns:
        `value`, unchanged.

    Example:
        >>> mse = record_result("test MSE", float(np.mean((x_test - x_hat) ** 2)))
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"Expected name to be a non-empty string. Received: {name!r}")
    directory = os.environ.get(RESULTS_DIR_ENV)
    if not directory:
        return value
    stored = value.item() if hasattr(value, "item") else value
    if not isinstance(stored, (int, float, str)) or isinstance(stored, bool):
        raise ValueError(
            f"Expected value to be a number or a string. Received: value={value!r}"
        )
    path = Path(directory) / f"{os.environ.get(NOTEBOOK_ENV) or 'results'}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = json.loads(path.read_text()) if path.exists() else []
    entries.append({"name": name, "value": stored, "unit": unit, "note": note})
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(entries, indent=1))
    temporary.replace(path)  # atomic: the runner never reads half a file
    return value


def find_notebooks_dir(notebooks_dir=None):
    """Returns the folder of the course's notebooks.

    Args:
        notebooks_dir: Explicit folder; by default `notebooks/` in the current
            directory or one of its parents, else next to the installed package
            (a source checkout installed with `pip install -e .`).

    Returns:
        A `pathlib.Path` to an existing folder.
    """
    if notebooks_dir is not None:
        path = Path(notebooks_dir).expanduser().resolve()
        if not path.is_dir():
            raise ValueError(
                f"Expected notebooks_dir to be a folder. Received: {notebooks_dir!r}"
            )
        return path
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents, Path(__file__).resolve().parents[1]):
        if (folder / "notebooks").is_dir():
            return folder / "notebooks"
    raise ValueError(
        "Expected a notebooks/ folder in the current directory, its parents or "
        f"the repository of keras_ae. Received: current directory {cwd}; "
        "pass --notebooks-dir"
    )


def select_notebooks(notebooks_dir, patterns=None):
    """Returns the notebooks to run, sorted by file name.

    Args:
        notebooks_dir: Folder holding `*.ipynb` files.
        patterns: Optional shell patterns or plain substrings, e.g.
            `["02_*", "gan"]`; a notebook runs if any pattern matches its name.

    Returns:
        A list of `pathlib.Path`, possibly empty.
    """
    notebooks = sorted(Path(notebooks_dir).glob("*.ipynb"), key=lambda p: p.name)
    if not patterns:
        return notebooks

    def matches(path, pattern):
        if any(char in pattern for char in "*?["):
            return fnmatch.fnmatch(path.name, pattern) or fnmatch.fnmatch(
                path.stem, pattern
            )
        return pattern in path.name

    return [p for p in notebooks if any(matches(p, pat) for pat in patterns)]


def format_duration(seconds):
    """Formats seconds as "41.2 s", "1m20s" or "2h05m"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _estimate(seconds):
    """A rough remaining time: "40s", "3m", "1h10m"."""
    if seconds < 60:
        return f"{max(1, round(seconds))}s"
    if seconds < 3600:
        return f"{round(seconds / 60)}m"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours}h{minutes:02d}m"


def _device_summary():
    """Devices this machine offers, from TensorFlow's list of physical devices.

    Starts no accelerator and creates no strategy: each notebook chooses its own
    strategy with `keras_ae.devices.strategy()`.
    """
    try:
        from keras_ae import devices

        description = devices.describe_devices()
    except Exception as error:  # The report must not fail because of this line.
        return {"error": f"{type(error).__name__}: {error}"}
    keys = ("cpus", "cpu_cores", "gpus", "gpu_names", "tpus")
    summary = {key: description[key] for key in keys}
    parts = [f"{description['cpu_cores']} CPU cores"]
    if description["gpus"]:
        gpus = "1 GPU" if description["gpus"] == 1 else f"{description['gpus']} GPUs"
        parts.append(f"{gpus} ({', '.join(summary['gpu_names'])})")
    if description["tpus"]:
        parts.append(f"{description['tpus']} TPU chip(s)")
    summary["text"] = ", ".join(parts if len(parts) > 1 else parts + ["no GPU or TPU"])
    return summary


def _versions():
    versions = {"python": platform.python_version()}
    for package in ("keras", "tensorflow", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


class _Environment:
    """Sets environment variables for the kernels and restores them afterwards."""

    def __init__(self):
        self._saved = {}

    def set(self, name, value):
        self._saved.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def restore(self):
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# Unix socket paths hold at most 104 (macOS) to 108 (Linux) bytes; the kernel
# adds "-<port number>" to the prefix.
_MAX_SOCKET_PREFIX = 90


def _kernel_transport():
    """Kernel manager settings and a private folder for one kernel's sockets.

    IPC transport (Unix sockets in a fresh temporary folder) keeps the kernel
    off the network, so ipykernel has no "TCP without encryption" warning to
    print. The sockets' path prefix must be absolute (the kernel starts in the
    notebook's folder, the client stays in ours) and short enough for a socket
    path; where it would be too long (a long TMPDIR), and on Windows, which has
    no IPC transport, the kernel uses TCP on localhost as Jupyter does.
    """
    runtime = Path(tempfile.mkdtemp(prefix="keras-ae-kernel-"))
    prefix = runtime / "kernel"
    if os.name == "nt" or len(os.fsencode(prefix)) > _MAX_SOCKET_PREFIX:
        return {"transport": "tcp"}, runtime
    return {"transport": "ipc", "ip": str(prefix)}, runtime


def _execute_notebook(path, output_dir, timeout, kernel_name):
    """Executes one notebook; saves it and its HTML. Returns a report entry."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    notebook = nbformat.read(path, as_version=4)
    current = {"cell_index": None}

    def on_cell_start(cell, cell_index):
        current["cell_index"] = cell_index

    kernel_settings, runtime = _kernel_transport()
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=kernel_name,
        config=Config({"KernelManager": kernel_settings}),
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_start=on_cell_start,
    )
    entry = {"name": path.name, "status": "passed", "cell_index": None, "error": None}
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        entry["status"] = "failed"
        entry["error"] = f"{error.ename}: {error.evalue}".strip().splitlines()[0]
    except CellTimeoutError:
        entry["status"] = "timeout"
        entry["error"] = f"CellTimeoutError: cell ran longer than {timeout} s"
    except Exception as error:  # a dead kernel, a kernel that does not start, ...
        entry["status"] = "failed"
        message = (str(error).strip().splitlines() or [""])[0]
        entry["error"] = f"{type(error).__name__}: {message}"
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    entry["seconds"] = round(time.perf_counter() - start, 2)
    if entry["status"] != "passed":
        index = current["cell_index"]
        entry["cell_index"] = index
        if index is not None:
            source = notebook.cells[index].source.strip().splitlines()
            entry["cell_source"] = source[0] if source else ""
    nbformat.write(notebook, output_dir / path.name)
    entry["html"] = path.with_suffix(".html").name
    try:
        body, _ = HTMLExporter().from_notebook_node(notebook)
        (output_dir / entry["html"]).write_text(body, encoding="utf-8")
    except Exception as error:  # The executed .ipynb is saved; keep going.
        entry["html"] = None
        entry["html_error"] = f"{type(error).__name__}: {error}"
    return entry


def run_course(
    notebooks,
    output_dir,
    *,
    fast=False,
    dataset=None,
    timeout=DEFAULT_CELL_TIMEOUT,
    kernel_name="python3",
    log=print,
):
    """Executes notebooks in order and writes `report.json` and `report.md`.

    Args:
        notebooks: Paths of the notebooks, in the order to run them. Each runs
            with its own folder as the working directory.
        output_dir: Folder for the executed notebooks, their HTML copies, the
            recorded key numbers (`results/`) and the reports.
        fast: Whether to run under the fast profile (`KERAS_AE_PROFILE=fast`).
        dataset: Optional data set name passed as `KERAS_AE_DATASET`.
        timeout: Seconds one cell may run before the notebook counts as failed.
        kernel_name: Jupyter kernel to run the notebooks in.
        log: Function that prints a progress line.

    Returns:
        The report as a dict (what `report.json` holds); `report["failed"]` is
        the number of notebooks that did not pass.
    """
    notebooks = [Path(p).resolve() for p in notebooks]
    output_dir = Path(output_dir).resolve()
    results_dir = output_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    environment = _Environment()
    if fast:
        environment.set(PROFILE_ENV, "fast")
    if dataset:
        environment.set(DATASET_ENV, dataset)
    environment.set(RESULTS_DIR_ENV, str(results_dir))
    from keras_ae import utils

    report = {
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "profile": utils.profile(),
        "dataset": os.environ.get(DATASET_ENV) or DEFAULT_DATASET,
        "devices": _device_summary(),
        "versions": _versions(),
        "cell_timeout_seconds": timeout,
        "notebooks": [],
        "key_numbers": [],
    }
    log(f"Course run: profile {report['profile']}, {report['devices'].get('text')}")
    start = time.perf_counter()
    started_at = time.time()
    try:
        for number, path in enumerate(notebooks, start=1):
            environment.set(NOTEBOOK_ENV, path.stem)
            results_file = results_dir / f"{path.stem}.json"
            results_file.unlink(missing_ok=True)  # drop numbers of an earlier run
            prefix = f"[{number}/{len(notebooks)}] {path.name} ..."
            log(prefix)
            entry = _execute_notebook(path, output_dir, timeout, kernel_name)
            if results_file.exists():
                entry["results"] = json.loads(results_file.read_text())
            else:
                entry["results"] = []
            report["notebooks"].append(entry)
            report["key_numbers"] += [
                {"notebook": path.stem, **result} for result in entry["results"]
            ]
            elapsed = time.perf_counter() - start
            log(f"{prefix} {_progress(entry, elapsed, number, len(notebooks))}")
    finally:
        environment.restore()
    report["total_seconds"] = round(time.perf_counter() - start, 2)
    report["tables"] = _tables_written_since(results_dir, started_at)
    report["passed"] = sum(e["status"] == "passed" for e in report["notebooks"])
    report["failed"] = len(report["notebooks"]) - report["passed"]
    (output_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (output_dir / "report.md").write_text(report_markdown(report))
    log(_summary(report, output_dir))
    return report


def _tables_written_since(results_dir, started_at):
    """Tables (`results/NAME.md` and its `NAME.json`) the notebooks wrote in this
    run, such as notebook 08's `comparison`; {name: {"markdown", "rows"}}."""
    tables = {}
    for markdown in sorted(results_dir.glob("*.md")):
        if markdown.stat().st_mtime < started_at:
            continue  # left by an earlier run
        rows = None
        try:
            rows = json.loads(markdown.with_suffix(".json").read_text())
        except (OSError, ValueError):
            pass  # no rows, or unreadable ones: the Markdown table still counts
        tables[markdown.stem] = {
            "markdown": markdown.read_text(encoding="utf-8"),
            "rows": rows,
        }
    return tables


def _progress(entry, elapsed, number, total):
    if entry["status"] == "passed":
        outcome = f"done in {format_duration(entry['seconds'])}"
    else:
        outcome = (
            f"{entry['status'].upper()} after {format_duration(entry['seconds'])} "
            f"at cell {entry['cell_index']}: {entry['error']}"
        )
    remaining = (total - number) * elapsed / number
    left = f", about {_estimate(remaining)} left" if number < total else ""
    return f"{outcome} (elapsed {format_duration(elapsed)}{left})"


def _summary(report, output_dir):
    lines = [
        f"{report['passed']} of {len(report['notebooks'])} notebooks passed "
        f"in {format_duration(report['total_seconds'])}; report: "
        f"{output_dir / 'report.md'}"
    ]
    for entry in report["notebooks"]:
        if entry["status"] != "passed":
            lines.append(
                f"  {entry['status']}: {entry['name']} cell {entry['cell_index']}: "
                f"{entry['error']}"
            )
    return "\n".join(lines)


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _link(entry):
    return f"[{entry['name']}]({entry['html']})" if entry["html"] else entry["name"]


def _format_value(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def report_markdown(report):
    """Renders a report dict as Markdown (what `report.md` holds)."""
    devices = report["devices"]
    versions = ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v)
    lines = [
        "# Course run report",
        "",
        f"- Started: {report['started']}",
        f"- Profile: {report['profile']}",
        f"- Data set: {report['dataset'] or 'each notebook default'}",
        f"- Devices: {devices.get('text') or devices.get('error')}",
        f"- Versions: {versions}",
        f"- Total wall time: {format_duration(report['total_seconds'])}",
        f"- Result: {report['passed']} of {len(report['notebooks'])} notebooks passed",
        "",
        "| # | Notebook | Status | Wall time | Failure (0-based cell index) |",
        "|---|---|---|---|---|",
    ]
    for number, entry in enumerate(report["notebooks"], start=1):
        failure = ""
        if entry["status"] != "passed":
            failure = f"cell {entry['cell_index']}: {entry['error']}"
        lines.append(
            f"| {number} | {_link(entry)} | {entry['status']} | "
            f"{format_duration(entry['seconds'])} | {_cell(failure)} |"
        )
    lines += ["", "## Key numbers", ""]
    if report["key_numbers"]:
        lines += [
            "| Notebook | Quantity | Value | Unit | Note |",
            "|---|---|---|---|---|",
        ]
        for item in report["key_numbers"]:
            lines.append(
                f"| {item['notebook']} | {_cell(item['name'])} | "
                f"{_format_value(item['value'])} | {_cell(item['unit'] or '')} | "
                f"{_cell(item['note'] or '')} |"
            )
    else:
        lines.append("No notebook recorded a key number.")
    for name, table in report.get("tables", {}).items():
        lines += ["", f"## Table: {name}", "", table["markdown"].strip()]
    return "\n".join(lines) + "\n"
