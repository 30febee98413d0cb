"""Notebooks run top to bottom in a fresh kernel, and again, with the same numbers.

`run_course` executes each notebook in a new kernel, as a learner's "Restart and
run all" does. Two notebooks whose key numbers all come from training run twice,
in the fast profile, into the same output folder: the second run also proves
that the files the first one left there (executed notebooks, HTML, results/,
reports) do not break a rerun. With `set_seed` in each notebook, every recorded
number must come out exactly the same.

Notebooks 03 and 04 are not used: each records a ratio of two wall times
("KL sparsity penalty training-time overhead", unit "fraction";
"batch_jacobian / closed form time", unit "x"), which no seed can repeat.
"""

import json
from pathlib import Path

import pytest

from keras_ae.course.runner import run_course

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [
    ROOT / "notebooks" / "02_denoising_autoencoders.ipynb",
    ROOT / "notebooks" / "01_undercomplete_autoencoders.ipynb",
]
WALL_TIME_UNITS = ("s",)  # the only values a rerun may change


def repeatable_numbers(report):
    return [
        (item["notebook"], item["name"], item["unit"], item["note"], item["value"])
        for item in report["key_numbers"]
        if item["unit"] not in WALL_TIME_UNITS
    ]


@pytest.mark.slow
def test_two_fast_runs_into_one_folder_record_identical_numbers(tmp_path):
    output = tmp_path / "course"
    logs = []
    reports = [
        run_course(
            NOTEBOOKS,
            output,
            fast=True,
            dataset="mnist_5k",
            timeout=600,
            log=logs.append,
        )
        for _ in range(2)
    ]
    first, second = reports

    for report in reports:
        assert report["profile"] == "fast"
        assert [(e["name"], e["status"]) for e in report["notebooks"]] == [
            (path.name, "passed") for path in NOTEBOOKS
        ], logs
        assert report["failed"] == 0
    # The report files on disk are the second run's, not a mix of both.
    on_disk = json.loads((output / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(second))  # timings included
    assert on_disk["total_seconds"] != first["total_seconds"]

    numbers = repeatable_numbers(first)
    assert {notebook for notebook, *_ in numbers} == {p.stem for p in NOTEBOOKS}
    assert len(numbers) >= 20
    # Exact equality: a fixed seed, the same data and the same ops give the
    # same floats; a tolerance would hide an unseeded shuffle.
    assert repeatable_numbers(second) == numbers
    # Only wall times were left out, and the second run recorded no extra
    # (or missing) entries: the first run's results/ were not appended to.
    assert len(second["key_numbers"]) == len(first["key_numbers"])
    for notebook in NOTEBOOKS:
        results = json.loads((output / "results" / f"{notebook.stem}.json").read_text())
        assert results == [
            {key: item[key] for key in ("name", "value", "unit", "note")}
            for item in second["key_numbers"]
            if item["notebook"] == notebook.stem
        ]
