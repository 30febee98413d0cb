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
import html
import json
import os
import platform
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path

__all__ = [
    "PROFILE_ENV",
    "DATASET_ENV",
    "DEFAULT_DATASET",
    "RESULTS_DIR_ENV",
    "NOTEBOOK_ENV",
    "DEFAULT_CELL_TIMEOUT",
    "record_result",
    "find_notebooks_dir",
    "select_notebooks",
    "format_duration",
    "run_course",
    "previous_seconds",
    "PUBLISHED_SECONDS",
    "published_seconds",
    "report_markdown",
    "index_html",
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
        >>> record_result("test MSE", 0.0123, unit="per pixel")  # outside: no file
        0.0123
        >>> from unittest import mock
        >>> folder = tempfile.mkdtemp()
        >>> runner_env = {RESULTS_DIR_ENV: folder, NOTEBOOK_ENV: "01_intro"}
        >>> with mock.patch.dict(os.environ, runner_env):  # as the runner sets it
        ...     record_result("test MSE", 0.0123, unit="per pixel")
        0.0123
        >>> json.loads(Path(folder, "01_intro.json").read_text())
        [{'name': 'test MSE', 'value': 0.0123, 'unit': 'per pixel', 'note': None}]
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
    # The kernel's own stderr (TensorFlow's C++ log lines, say) goes to a file
    # next to the executed notebook, not between the runner's progress lines.
    stderr_path = output_dir / f"{path.stem}.stderr.log"
    stderr_file = stderr_path.open("w", encoding="utf-8")
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
        client.execute(stderr=stderr_file)
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
        stderr_file.close()
        shutil.rmtree(runtime, ignore_errors=True)
    entry["seconds"] = round(time.perf_counter() - start, 2)
    entry["stderr_log"] = stderr_path.name
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
    expected_seconds=None,
):
    """Executes notebooks in order and writes `report.json`, `report.md`, `index.html`.

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
        expected_seconds: Optional `{notebook file name: seconds}` measured in
            an earlier run of the same profile, for the estimate of the time
            left; default: the times in `report.json` of an earlier run of the
            same profile in `output_dir`, if any.

    Returns:
        The report as a dict (what `report.json` holds); `report["failed"]` is
        the number of notebooks that did not pass.
    """
    notebooks = [Path(p).resolve() for p in notebooks]
    output_dir = Path(output_dir).resolve()
    results_dir = output_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    if expected_seconds is None:
        expected_seconds = previous_seconds(output_dir, "fast" if fast else None)
    environment = _Environment()
    if fast:
        environment.set(PROFILE_ENV, "fast")
    if dataset:
        environment.set(DATASET_ENV, dataset)
    environment.set(RESULTS_DIR_ENV, str(results_dir))
    if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        # TensorFlow's info lines logged at run time (its errors still show).
        environment.set("TF_CPP_MIN_LOG_LEVEL", "1")
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
            left = _remaining_seconds(
                report["notebooks"], notebooks[number:], expected_seconds
            )
            log(f"{prefix} {_progress(entry, elapsed, left)}")
    finally:
        environment.restore()
    report["total_seconds"] = round(time.perf_counter() - start, 2)
    report["tables"] = _tables_written_since(results_dir, started_at)
    report["passed"] = sum(e["status"] == "passed" for e in report["notebooks"])
    report["failed"] = len(report["notebooks"]) - report["passed"]
    (output_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (output_dir / "report.md").write_text(report_markdown(report))
    (output_dir / "index.html").write_text(index_html(report), encoding="utf-8")
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


def previous_seconds(output_dir, profile=None):
    """Per-notebook wall times of the last run in `output_dir`, if of `profile`.

    Args:
        output_dir: A course output folder (holding `report.json`).
        profile: `"fast"` or `"full"`; None means the profile of this process
            (`keras_ae.utils.profile()`).

    Returns:
        `{notebook file name: seconds}` of the notebooks that passed, or `{}`.
    """
    from keras_ae import utils

    profile = profile or utils.profile()
    try:
        report = json.loads((Path(output_dir) / "report.json").read_text())
    except (OSError, ValueError):
        return {}
    if report.get("profile") != profile:
        return {}
    return {
        entry["name"]: float(entry["seconds"])
        for entry in report.get("notebooks", [])
        if entry.get("status") == "passed"
    }


PUBLISHED_SECONDS = Path("docs/results/notebook_seconds.json")


def published_seconds(repository, profile):
    """Per-notebook wall times published with the course's results.

    `scripts/publish_results.py` writes them to `docs/results/notebook_seconds.json`
    (`{profile: {notebook file name: seconds}}`) from a course run.

    Returns:
        `{notebook file name: seconds}` for `profile`, or `{}`.
    """
    try:
        published = json.loads((Path(repository) / PUBLISHED_SECONDS).read_text())
    except (OSError, ValueError):
        return {}
    times = published.get(profile, {}) if isinstance(published, dict) else {}
    return {name: float(seconds) for name, seconds in times.items()}


def _remaining_seconds(done, remaining, expected):
    """Estimate of the time the `remaining` notebooks take.

    Notebooks with an expected time count with it, scaled by how this run's
    finished notebooks compared with their own expected times (a slower or
    busier machine); the others count with this run's mean time per notebook.
    """
    if not remaining:
        return 0.0
    expected = expected or {}
    known = [e for e in done if e["name"] in expected and expected[e["name"]] > 0]
    speed = 1.0
    if known:
        speed = sum(e["seconds"] for e in known) / sum(
            expected[e["name"]] for e in known
        )
    mean = sum(e["seconds"] for e in done) / len(done) if done else 0.0
    return sum(
        expected[p.name] * speed if expected.get(p.name, 0) > 0 else mean
        for p in remaining
    )


def _progress(entry, elapsed, remaining):
    if entry["status"] == "passed":
        outcome = f"done in {format_duration(entry['seconds'])}"
    else:
        outcome = (
            f"{entry['status'].upper()} after {format_duration(entry['seconds'])} "
            f"at cell {entry['cell_index']}: {entry['error']}"
        )
    left = f", about {_estimate(remaining)} left" if remaining > 0 else ""
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


_PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
td.number { text-align: right; }
.passed { color: #1a7f37; } .failed, .timeout { color: #cf222e; }
ul { margin: 0; padding-left: 1.2em; }
"""


def _markdown_table_html(markdown):
    """A Markdown table (`| a | b |` rows, a `|---|` rule) as an HTML table."""
    rows = [
        [html.escape(cell.strip()) for cell in line.strip().strip("|").split("|")]
        for line in markdown.strip().splitlines()
        if line.strip().startswith("|")
    ]
    rows = [row for row in rows if not all(set(c) <= set("-: ") for c in row)]
    if not rows:
        return f"<pre>{html.escape(markdown)}</pre>"
    head = "".join(f"<th>{cell}</th>" for cell in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
        for row in rows[1:]
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def index_html(report):
    """Renders a report dict as the course's start page (what `index.html` holds).

    One row per notebook: a link to its executed HTML copy (figures inline),
    its status, wall time and key numbers; then the tables the notebooks wrote
    and links to `report.md` and `report.json`.
    """
    devices = report["devices"]
    versions = ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v)
    facts = [
        ("Started", report["started"]),
        ("Profile", report["profile"]),
        ("Data set", report["dataset"] or "each notebook's default"),
        ("Devices", devices.get("text") or devices.get("error")),
        ("Versions", versions),
        ("Total wall time", format_duration(report["total_seconds"])),
        ("Result", f"{report['passed']} of {len(report['notebooks'])} passed"),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>keras-ae: executed course</title>",
        f"<style>{_PAGE_STYLE}</style></head><body>",
        "<h1>keras-ae: the executed course</h1>",
        "<ul>",
        *(f"<li>{name}: {html.escape(str(value))}</li>" for name, value in facts),
        "</ul>",
        "<table><tr><th>#</th><th>Notebook</th><th>Status</th><th>Wall time</th>"
        "<th>Key numbers</th></tr>",
    ]
    for number, entry in enumerate(report["notebooks"], start=1):
        name = html.escape(entry["name"])
        link = (
            f'<a href="{html.escape(entry["html"])}">{name}</a>'
            if entry.get("html")
            else name
        )
        status = html.escape(entry["status"])
        if entry["status"] != "passed":
            status += html.escape(f" at cell {entry['cell_index']}: {entry['error']}")
        numbers = "".join(
            "<li>"
            + html.escape(
                f"{item['name']}: {_format_value(item['value'])}"
                + (f" {item['unit']}" if item.get("unit") else "")
                + (f" ({item['note']})" if item.get("note") else "")
            )
            + "</li>"
            for item in entry.get("results", [])
        )
        parts.append(
            f"<tr><td>{number}</td><td>{link}</td>"
            f'<td class="{html.escape(entry["status"])}">{status}</td>'
            f'<td class="number">{format_duration(entry["seconds"])}</td>'
            f"<td><ul>{numbers}</ul></td></tr>"
        )
    parts.append("</table>")
    for name, table in report.get("tables", {}).items():
        parts += [f"<h2>Table: {html.escape(name)}</h2>"]
        parts.append(_markdown_table_html(table["markdown"]))
    parts += [
        '<p>The same report as <a href="report.md">Markdown</a> and '
        '<a href="report.json">JSON</a>.</p>',
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
