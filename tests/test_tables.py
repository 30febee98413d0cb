"""Markdown and JSON tables."""

import json

import numpy as np
import pytest

from keras_ae import tables

ROWS = [
    {"model": "PCA", "mse": 0.012345, "psnr": 19.1234, "params": 520},
    {"model": "dense AE", "mse": np.float32(0.00875), "psnr": np.inf, "params": None},
    {"model": "a|b", "psnr": 21.0, "params": np.int64(12_000), "note": "x"},
]


def test_to_markdown_table_exact_text():
    text = tables.to_markdown_table(
        ROWS,
        {"model": "Model", "mse": "Test MSE", "psnr": "PSNR (dB)", "params": "n"},
        formats={"psnr": ".1f"},
    )
    assert text == (
        "| Model    | Test MSE | PSNR (dB) |     n |\n"
        "| -------- | -------: | --------: | ----: |\n"
        "| PCA      |  0.01235 |      19.1 |   520 |\n"
        "| dense AE |  0.00875 |       inf |       |\n"
        "| a\\|b     |          |      21.0 | 12000 |"
    )
    assert tables.to_markdown_table([{"a": True}], ["a"]) == (
        "| a    |\n| ---- |\n| True |"
    )


def test_write_table_writes_json_and_markdown(tmp_path):
    json_path = tmp_path / "results" / "table.json"
    md_path = tmp_path / "results" / "table.md"
    rows = [{"model": "AE", "mse": 0.5, "histogram": np.array([0.25, 0.75])}]
    rows.append({"model": "VAE", "mse": float("nan"), "histogram": [1, 0]})
    markdown = tables.write_table(rows, json_path, md_path, columns=["model", "mse"])
    assert (
        markdown == "| model | mse |\n| ----- | --: |\n| AE    | 0.5 |\n| VAE   | nan |"
    )
    assert md_path.read_text() == markdown + "\n"
    assert json.loads(json_path.read_text()) == [
        {"model": "AE", "mse": 0.5, "histogram": [0.25, 0.75]},
        {"model": "VAE", "mse": None, "histogram": [1, 0]},
    ]
    # Without columns, every key in order of first appearance.
    markdown = tables.write_table(ROWS[:1], json_path, md_path)
    assert markdown.splitlines()[0] == "| model |     mse |  psnr | params |"
    with pytest.raises(ValueError, match="JSON can hold"):
        tables.write_table([{"model": object()}], json_path, md_path)
