"""scripts/publish_results.py: the README's results come from a course run."""

import importlib.util
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "publish_results", ROOT / "scripts" / "publish_results.py"
)
publish_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(publish_results)

ROWS = [
    {"model": "pca", "mse": 0.024613, "probe_codes": 0.9, "auroc": 0.99046},
    {
        "model": "vae",
        "mse": 0.0362,
        "frechet_distance": 24.304,
        "num_covered": 10.0,
        "sample_ms": 0.0512,
    },
    {"model": "dense_gan", "mse": None, "frechet_distance": 5.6949},
]


def _fake_run(tmp_path, profile="full", failed=0):
    build = tmp_path / "build"
    (build / "results").mkdir(parents=True)
    report = {
        "started": "2000-01-01T00:00:00+00:00",
        "profile": profile,
        "dataset": None,
        "devices": {"text": "2 CPU cores, no GPU or TPU"},
        "total_seconds": 754.4,
        "failed": failed,
        "notebooks": [
            {"name": "00_setup.ipynb", "status": "passed", "seconds": 16.1},
            {
                "name": "08_gans_vs_autoencoders.ipynb",
                "status": "failed" if failed else "passed",
                "seconds": 231.0,
            },
        ],
        "key_numbers": [
            {"notebook": "08_x", "name": "a|b", "value": 0.123456, "unit": None,
             "note": "n"},
        ],
    }  # fmt: skip
    (build / "report.json").write_text(json.dumps(report))
    (build / "results" / "comparison.json").write_text(json.dumps(ROWS))
    (build / "results" / "comparison.md").write_text("| table |\n")
    (build / "results" / "samples.png").write_bytes(b"\x89PNG fake")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "README.md").write_text(
        f"# title\n\nbefore\n\n{publish_results.START}\nold\n{publish_results.END}\n"
        "\nafter\n"
    )
    return build, root


def test_compact_table_formats_and_leaves_gaps():
    lines = publish_results.compact_table(ROWS).splitlines()
    assert lines[0].startswith("| model | test MSE | linear probe")
    assert lines[2] == "| pca | 0.0246 | 0.900 | 0.990 |  |  |  |"
    assert lines[3] == "| vae | 0.0362 |  |  | 24.30 | 10 of 10 | 0.051 |"
    assert lines[4] == "| dense_gan |  |  |  | 5.69 |  |  |"


def test_publish_replaces_only_the_marked_block_and_is_idempotent(tmp_path):
    build, root = _fake_run(tmp_path)
    changed = publish_results.publish(build, root=root)
    readme = (root / "README.md").read_text()
    assert readme.startswith("# title\n\nbefore\n\n")
    assert readme.endswith(f"{publish_results.END}\n\nafter\n")
    assert "old" not in readme
    assert "profile full" in readme and "2 notebooks in 12 min 34 s" in readme
    assert publish_results.compact_table(ROWS) in readme
    results = root / "docs" / "results"
    assert (results / "samples.png").read_bytes() == b"\x89PNG fake"
    assert json.loads((results / "comparison.json").read_text()) == ROWS
    course_run = (results / "course_run.md").read_text()
    assert "| 08_gans_vs_autoencoders.ipynb | 3 min 51 s |" in course_run
    assert "| 08_x | a\\|b | 0.1235 |  | n |" in course_run
    assert len(changed) == 6
    times = json.loads((results / "notebook_seconds.json").read_text())
    assert times == {
        "full": {"00_setup.ipynb": 16.1, "08_gans_vs_autoencoders.ipynb": 231.0}
    }
    assert publish_results.publish(build, root=root, check=True) == []


def test_times_of_a_fast_run_keep_the_full_ones(tmp_path):
    build, root = _fake_run(tmp_path)
    publish_results.publish(build, root=root)
    fast_build, _ = _fake_run(tmp_path / "fast", profile="fast", failed=1)
    report = json.loads((fast_build / "report.json").read_text())
    publish_results.record_times(report, root=root)
    times = json.loads((root / publish_results.TIMES).read_text())
    assert times["full"]["08_gans_vs_autoencoders.ipynb"] == 231.0
    assert times["fast"] == {"00_setup.ipynb": 16.1}  # the failed one is left out


@pytest.mark.parametrize(
    "profile, failed, message",
    [
        ("fast", 0, "'fast' profile"),
        ("full", 1, "failed notebooks: 08_gans_vs_autoencoders.ipynb"),
    ],
)
def test_refuses_fast_or_failed_runs(tmp_path, profile, failed, message):
    build, root = _fake_run(tmp_path, profile=profile, failed=failed)
    with pytest.raises(publish_results.PublishError, match=message):
        publish_results.publish(build, root=root)
    assert "old" in (root / "README.md").read_text()


def test_missing_run_is_one_line_error(tmp_path, capsys):
    assert publish_results.main([str(tmp_path / "nowhere")]) == 1
    assert capsys.readouterr().err.startswith("error: no ")


def test_committed_readme_table_matches_committed_results():
    """README's table was written from docs/results/comparison.json, unedited."""
    rows = json.loads((ROOT / "docs/results/comparison.json").read_text())
    readme = (ROOT / "README.md").read_text()
    assert publish_results.compact_table(rows) in readme
    assert (ROOT / "docs/results/samples.png").read_bytes()[:4] == b"\x89PNG"


def test_check_mode_reports_a_stale_readme(tmp_path):
    build, root = _fake_run(tmp_path)
    publish_results.publish(build, root=root)
    (build / "results" / "comparison.json").write_text(json.dumps(ROWS[:1]))
    changed = publish_results.publish(build, root=root, check=True)
    assert root / "README.md" in changed


def test_refuses_results_left_by_an_earlier_run(tmp_path):
    build, root = _fake_run(tmp_path)
    os.utime(build / "results" / "samples.png", (0, 0))
    with pytest.raises(publish_results.PublishError, match="older than the run"):
        publish_results.publish(build, root=root)


def test_refuses_a_run_without_the_comparison_notebook(tmp_path):
    build, root = _fake_run(tmp_path)
    report = json.loads((build / "report.json").read_text())
    report["notebooks"] = report["notebooks"][:1]
    (build / "report.json").write_text(json.dumps(report))
    with pytest.raises(publish_results.PublishError, match="did not include 08_"):
        publish_results.publish(build, root=root)
