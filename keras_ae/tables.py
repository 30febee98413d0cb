"""Tables of results, written as Markdown and JSON for the course report."""

import json
import math
import pathlib

import numpy as np

__all__ = ["to_markdown_table", "write_table"]


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _format_cell(value, spec):
    if value is None:
        return ""
    if spec is not None:
        text = format(value, spec)
    elif isinstance(value, (float, np.floating)):
        text = format(float(value), ".4g")
    elif isinstance(value, (bool, np.bool_)):
        text = str(bool(value))
    elif isinstance(value, np.integer):
        text = str(int(value))
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown_table(rows, columns, formats=None):
    """Formats rows of results as a Markdown (GitHub) table.

    Numbers are right-aligned, other columns left-aligned, and every column is
    padded to its widest cell so the text reads as a table too. Floats are
    written with 4 significant digits unless `formats` says otherwise; a
    missing or `None` value is an empty cell.

    Args:
        rows: A list of dicts, one per row.
        columns: The keys to show, in order: a list, or a dict from key to
            header text.
        formats: Optional dict from key to a format spec, e.g.
            `{"mse": ".4f", "psnr": ".1f"}`.

    Returns:
        The table as a string: header, separator and one line per row, without
        a final newline.

    Example:
        >>> print(to_markdown_table(
        ...     [{"model": "PCA", "mse": 0.01234}], {"model": "model", "mse": "MSE"}))
        | model |     MSE |
        | ----- | ------: |
        | PCA   | 0.01234 |
    """
    if not isinstance(rows, (dict, str, bytes)):
        rows = list(rows)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"Expected rows to be a list of dicts. Received: {rows!r}")
    if isinstance(columns, (str, bytes)) or not columns:
        raise ValueError(
            f"Expected columns to be a non-empty list or dict. Received: {columns!r}"
        )
    headers = dict(columns) if isinstance(columns, dict) else {c: c for c in columns}
    formats = formats or {}
    table = [[str(header) for header in headers.values()]]
    for row in rows:
        table.append([_format_cell(row.get(key), formats.get(key)) for key in headers])
    numeric = [
        all(_is_number(row.get(key)) for row in rows if row.get(key) is not None)
        and any(row.get(key) is not None for row in rows)
        for key in headers
    ]
    widths = [max(3, *(len(line[i]) for line in table)) for i in range(len(headers))]

    def line(cells):
        padded = [
            cell.rjust(width) if is_number else cell.ljust(width)
            for cell, width, is_number in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    separator = [
        "-" * (width - 1) + ":" if is_number else "-" * width
        for width, is_number in zip(widths, numeric, strict=True)
    ]
    return "\n".join([line(table[0]), line(separator), *map(line, table[1:])])


def _to_json(value):
    """NumPy values to Python ones; NaN and infinities to None (not JSON)."""
    if isinstance(value, dict):
        return {str(key): _to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_to_json(item) for item in value]
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(
        "Expected table values that JSON can hold (numbers, strings, lists, "
        f"arrays). Received: {value!r}"
    )


def write_table(rows, json_path, md_path, columns=None, formats=None):
    """Writes rows of results as JSON (all values) and as a Markdown table.

    The JSON file holds the list of rows with every key (NumPy values become
    plain numbers and lists; NaN and infinities become `null`); the Markdown
    file holds `to_markdown_table(rows, columns, formats)` and a final newline.
    Parent folders are created.

    Args:
        rows: A list of dicts, one per row.
        json_path: Path of the JSON file.
        md_path: Path of the Markdown file.
        columns: Keys to show in the Markdown table (list, or dict key ->
            header); `None` shows every key, in order of first appearance.
        formats: Optional dict from key to a format spec for the Markdown table.

    Returns:
        The Markdown table (a string).

    Example:
        >>> import tempfile
        >>> rows = [{"model": "PCA", "mse": 0.01234, "psnr": float("nan")}]
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     table = write_table(rows, f"{folder}/results.json",
        ...                         f"{folder}/results.md", formats={"mse": ".3f"})
        ...     print(pathlib.Path(folder, "results.json").read_text())
        [
          {
            "model": "PCA",
            "mse": 0.01234,
            "psnr": null
          }
        ]
        >>> print(table)
        | model |   mse | psnr |
        | ----- | ----: | ---: |
        | PCA   | 0.012 |  nan |
    """
    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    markdown = to_markdown_table(rows, columns, formats)
    data = json.dumps(_to_json(list(rows)), indent=2, allow_nan=False)
    for path, text in ((json_path, data), (md_path, markdown)):
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    return markdown
