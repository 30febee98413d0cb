"""Tests for the course runner (`python -m keras_ae course`) on tiny notebooks."""

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from keras_ae.__main__ import main
from keras_ae.course import runner

# Each cell records what the kernel saw, so the test checks the kernel's view.
PASSING_CELLS = [
    new_markdown_cell("# A notebook that passes"),
    new_code_cell(
        "import os\n"
        "from keras_ae.course.runner import record_result\n"
        "from keras_ae.utils import profile\n"
        "record_result('profile env', os.environ.get('KERAS_AE_PROFILE', 'unset'))\n"
        "record_result('profile', profile())\n"
        "record_result('dataset env', os.environ.get('KERAS_AE_DATASET', 'unset'))\n"
        "record_result('cwd', os.getcwd())"
    ),
    new_code_cell(
        "import numpy as np\n"
        "mse = record_result('test MSE', np.float32(0.25), unit='per pixel', "
        "note='tiny')\n"
        "print(mse)"
    ),
    new_code_cell(  # a table, as notebook 08 writes its comparison
        "import json, pathlib\n"
        "folder = pathlib.Path(os.environ['KERAS_AE_RESULTS_DIR'])\n"
        "table = '| model | mse |\\n|---|---|\\n| ae | 0.25 |\\n'\n"
        "(folder / 'tiny.md').write_text(table)\n"
        "(folder / 'tiny.json').write_text(json.dumps([{'model': 'ae', 'mse': 0.25}]))"
    ),
    new_code_cell(  # what TensorFlow's C++ start-up lines do: write to fd 2
        "os.write(2, b'C++ log line from the kernel\\n')"
    ),
]
FAILING_CELLS = [
    new_code_cell("x = 1"),
    new_markdown_cell("Cell 2 fails."),
    new_code_cell("raise ValueError('Expected x > 1. Received: x=1\\nmore detail')"),
    new_code_cell("print('after the failure')"),
]
SLOW_CELLS = [new_code_cell("import time"), new_code_cell("time.sleep(60)")]


@pytest.fixture(scope="module")
def notebooks_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("repo") / "notebooks"
    folder.mkdir()
    # Written out of order: the runner sorts by name.
    for name, cells in [
        ("03_slow.ipynb", SLOW_CELLS),
        ("02_fails.ipynb", FAILING_CELLS),
        ("01_passes.ipynb", PASSING_CELLS),
    ]:
        nbformat.write(new_notebook(cells=cells), folder / name)
    return folder


RUNNER_ENV = (
    "KERAS_AE_PROFILE",
    "KERAS_AE_DATASET",
    "KERAS_AE_RESULTS_DIR",
    "KERAS_AE_NOTEBOOK",
)


@pytest.fixture(scope="module")
def fast_run(notebooks_dir, tmp_path_factory):
    output = tmp_path_factory.mktemp("course")
    stale = output / "results" / "old.md"  # a table left by an earlier run
    stale.parent.mkdir()
    stale.write_text("| stale |\n")
    os.utime(stale, (0, 0))
    argv = ["course", "--fast", "--dataset", "tiny_digits"]
    argv += ["--notebooks-dir", str(notebooks_dir), "--output", str(output)]
    argv += ["--timeout", "3"]
    environment_before = {name: os.environ.get(name) for name in RUNNER_ENV}
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exit_code = main(argv)
    environment_after = {name: os.environ.get(name) for name in RUNNER_ENV}
    # The runner sets these for its kernels only, then restores them.
    assert environment_after == environment_before
    report = json.loads((output / "report.json").read_text())
    return exit_code, report, output, stdout.getvalue().splitlines()


def test_run_exits_non_zero_and_attempts_every_notebook(fast_run):
    exit_code, report, output, _ = fast_run
    assert exit_code == 1
    assert [entry["name"] for entry in report["notebooks"]] == [
        "01_passes.ipynb",
        "02_fails.ipynb",
        "03_slow.ipynb",
    ]
    assert [entry["status"] for entry in report["notebooks"]] == [
        "passed",
        "failed",
        "timeout",
    ]
    assert (report["passed"], report["failed"]) == (1, 2)
    for stem in ("01_passes", "02_fails", "03_slow"):
        assert (output / f"{stem}.ipynb").is_file()
        html = (output / f"{stem}.html").read_text()
        assert html.lstrip().lower().startswith("<!doctype html>")


def test_failure_is_located_and_partial_output_saved(fast_run):
    _, report, output, _ = fast_run
    failed = report["notebooks"][1]
    assert failed["cell_index"] == 2  # 0-based among all cells, markdown included
    assert failed["error"] == "ValueError: Expected x > 1. Received: x=1"
    executed = nbformat.read(output / "02_fails.ipynb", as_version=4)
    assert executed.cells[0].execution_count == 1
    assert executed.cells[2].outputs[0]["ename"] == "ValueError"
    assert executed.cells[3].outputs == []  # not run after the failure
    assert "Expected x &gt; 1" in (output / "02_fails.html").read_text()
    timed_out = report["notebooks"][2]
    assert timed_out["cell_index"] == 1
    assert timed_out["cell_source"] == "time.sleep(60)"
    assert 3 <= timed_out["seconds"] < 30


def test_kernel_saw_the_environment_and_results_were_gathered(fast_run, notebooks_dir):
    _, report, output, _ = fast_run
    assert report["profile"] == "fast" and report["dataset"] == "tiny_digits"
    recorded = {item["name"]: item for item in report["key_numbers"]}
    assert recorded["profile env"]["value"] == "fast"
    assert recorded["profile"]["value"] == "fast"
    assert recorded["dataset env"]["value"] == "tiny_digits"
    assert recorded["cwd"]["value"] == str(notebooks_dir.resolve())
    assert recorded["test MSE"] == {
        "notebook": "01_passes",
        "name": "test MSE",
        "value": 0.25,
        "unit": "per pixel",
        "note": "tiny",
    }
    assert report["notebooks"][0]["results"][-1]["value"] == 0.25
    markdown = (output / "report.md").read_text()
    assert "| 01_passes | test MSE | 0.25 | per pixel | tiny |" in markdown
    assert "| 2 | [02_fails.ipynb](02_fails.html) | failed |" in markdown
    assert "cell 2: ValueError: Expected x > 1. Received: x=1" in markdown
    assert report["tables"] == {
        "tiny": {
            "markdown": "| model | mse |\n|---|---|\n| ae | 0.25 |\n",
            "rows": [{"model": "ae", "mse": 0.25}],
        }
    }
    assert "## Table: tiny\n\n| model | mse |\n|---|---|\n| ae | 0.25 |" in markdown
    assert "stale" not in markdown


def test_kernel_stderr_goes_to_a_log_file_not_the_progress_lines(fast_run):
    _, report, output, lines = fast_run
    assert report["notebooks"][0]["stderr_log"] == "01_passes.stderr.log"
    log = (output / "01_passes.stderr.log").read_text()
    assert "C++ log line from the kernel" in log
    assert not any("C++ log line" in line for line in lines)


def test_index_page_links_every_notebook_and_shows_its_numbers(fast_run):
    _, report, output, _ = fast_run
    page = (output / "index.html").read_text()
    assert page.lower().startswith("<!doctype html>")
    links = re.findall(r'href="([^"]+)"', page)
    assert links == [
        "01_passes.html",
        "02_fails.html",
        "03_slow.html",
        "report.md",
        "report.json",
    ]
    for link in links:
        assert (output / link).is_file()
    assert "<li>test MSE: 0.25 per pixel (tiny)</li>" in page
    assert 'class="failed">failed at cell 2: ValueError: Expected x &gt; 1.' in page
    assert "<tr><td>ae</td><td>0.25</td></tr>" in page  # the notebook's table


def test_time_left_comes_from_expected_times_scaled_by_this_runs_speed():
    done = [{"name": "a.ipynb", "seconds": 20.0}, {"name": "x.ipynb", "seconds": 40.0}]
    expected = {"a.ipynb": 10.0, "b.ipynb": 30.0}
    remaining = [Path("b.ipynb"), Path("c.ipynb")]
    # This run took 2x a.ipynb's expected time, so b.ipynb's 30 s count 60 s;
    # c.ipynb has no expected time and counts as this run's mean, 30 s.
    assert runner._remaining_seconds(done, remaining, expected) == 90.0
    assert runner._remaining_seconds(done, remaining, {}) == 60.0
    assert runner._remaining_seconds(done, [], expected) == 0.0


def test_previous_and_published_times(fast_run, tmp_path):
    _, report, output, _ = fast_run
    assert runner.previous_seconds(output, "fast") == {
        "01_passes.ipynb": report["notebooks"][0]["seconds"]
    }
    assert runner.previous_seconds(output, "full") == {}  # another profile
    published = tmp_path / runner.PUBLISHED_SECONDS
    published.parent.mkdir(parents=True)
    published.write_text(json.dumps({"full": {"01.ipynb": 12.5}}))
    assert runner.published_seconds(tmp_path, "full") == {"01.ipynb": 12.5}
    assert runner.published_seconds(tmp_path, "fast") == {}
    assert runner.published_seconds(tmp_path / "nowhere", "full") == {}


def test_report_has_devices_timing_and_progress_lines(fast_run):
    _, report, _, lines = fast_run
    assert report["devices"]["cpu_cores"] == os.cpu_count()
    assert report["devices"]["cpus"] >= 1
    assert report["total_seconds"] >= sum(e["seconds"] for e in report["notebooks"])
    assert report["cell_timeout_seconds"] == 3
    progress = [line for line in lines if re.match(r"\[\d/3\] .* \.\.\. \S", line)]
    assert re.fullmatch(
        r"\[1/3\] 01_passes\.ipynb \.\.\. done in \d+\.\d s "
        r"\(elapsed \d+\.\d s, about \d+s left\)",
        progress[0],
    )
    assert re.fullmatch(
        r"\[2/3\] 02_fails\.ipynb \.\.\. FAILED after \d+\.\d s at cell 2: "
        r"ValueError: Expected x > 1\. Received: x=1 "
        r"\(elapsed \d+\.\d s, about \d+s left\)",
        progress[1],
    )
    assert re.fullmatch(
        r"\[3/3\] 03_slow\.ipynb \.\.\. TIMEOUT after \d+\.\d s at cell 1: "
        r"CellTimeoutError: cell ran longer than 3 s \(elapsed \d+\.\d s\)",
        progress[2],
    )  # the last notebook: no estimate of time left
    assert "1 of 3 notebooks passed" in lines[-3]
    assert lines[-2:] == [
        "  failed: 02_fails.ipynb cell 2: ValueError: Expected x > 1. Received: x=1",
        "  timeout: 03_slow.ipynb cell 1: CellTimeoutError: cell ran longer than 3 s",
    ]


def test_full_profile_and_pattern_selection(notebooks_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_AE_PROFILE", raising=False)
    monkeypatch.delenv("KERAS_AE_DATASET", raising=False)
    argv = ["course", "--notebooks-dir", str(notebooks_dir), "--output", str(tmp_path)]
    assert main([*argv, "--notebooks", "01_*"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["profile"] == "full" and report["dataset"] == "mnist_5k"
    recorded = {item["name"]: item["value"] for item in report["key_numbers"]}
    assert recorded["profile env"] == "unset"
    assert recorded["dataset env"] == "unset"
    assert [e["name"] for e in report["notebooks"]] == ["01_passes.ipynb"]


def test_select_notebooks_sorts_and_matches(notebooks_dir):
    names = [p.name for p in runner.select_notebooks(notebooks_dir)]
    assert names == ["01_passes.ipynb", "02_fails.ipynb", "03_slow.ipynb"]
    selected = runner.select_notebooks(notebooks_dir, ["03_*", "fails"])
    assert [p.name for p in selected] == ["02_fails.ipynb", "03_slow.ipynb"]
    assert runner.select_notebooks(notebooks_dir, ["nothing"]) == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["course", "--timeout", "-1"], "expected a whole number of seconds > 0"),
        (["course", "--timeout", "2.5"], "received '2.5'"),
        (["course", "--no-such-option"], "unrecognized arguments: --no-such-option"),
        (["fit"], "invalid choice: 'fit'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors_exit_with_status_2(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_no_matching_notebooks_is_a_usage_error(notebooks_dir, tmp_path, capsys):
    argv = ["course", "--notebooks-dir", str(notebooks_dir), "--notebooks", "zzz"]
    assert main([*argv, "--output", str(tmp_path)]) == 2
    assert "no notebooks matching ['zzz']" in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()


def test_record_result_outside_the_runner_only_returns(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_AE_RESULTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert runner.record_result("x", 1.5) == 1.5
    assert list(tmp_path.iterdir()) == []


def test_record_result_appends_to_the_notebook_file(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_AE_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("KERAS_AE_NOTEBOOK", "04_vae")
    runner.record_result("ELBO", -93.25, unit="nats")
    runner.record_result("epochs", 3)
    entries = json.loads((tmp_path / "04_vae.json").read_text())
    assert entries == [
        {"name": "ELBO", "value": -93.25, "unit": "nats", "note": None},
        {"name": "epochs", "value": 3, "unit": None, "note": None},
    ]
    with pytest.raises(ValueError, match=r"Expected value to be a number or a string"):
        runner.record_result("array", [1, 2])


def test_kernel_sockets_fall_back_to_tcp_under_a_long_tmpdir(tmp_path, monkeypatch):
    short_dir = tempfile.mkdtemp(dir="/tmp")  # pytest's tmp_path is too long
    monkeypatch.setattr(tempfile, "tempdir", short_dir)
    settings, runtime = runner._kernel_transport()
    assert settings == {"transport": "ipc", "ip": str(runtime / "kernel")}
    assert str(runtime.parent) == short_dir and os.path.isabs(settings["ip"])
    long_dir = tmp_path / ("x" * 100)
    long_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long_dir))
    settings, runtime = runner._kernel_transport()
    assert settings == {"transport": "tcp"} and runtime.parent == long_dir
    shutil.rmtree(short_dir)


def test_unreadable_table_rows_do_not_lose_the_report(tmp_path):
    (tmp_path / "table.md").write_text("| a |\n")
    (tmp_path / "table.json").write_text("{not json")
    tables = runner._tables_written_since(tmp_path, started_at=0)
    assert tables == {"table": {"markdown": "| a |\n", "rows": None}}
