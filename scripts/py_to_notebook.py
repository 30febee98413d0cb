"""Builds a notebook from a percent-format script (`# %%` code, `# %% [markdown]` text).

The course keeps its notebooks as .ipynb; this script is how they are written and
rewritten: `python scripts/py_to_notebook.py SOURCE.py notebooks/NAME.ipynb`.
Outputs are left empty: the course run fills them. The Colab badge link and the
install line of the source are rewritten from pyproject.toml's `Repository` URL,
as `scripts/sync_notebooks.py` does for the existing notebooks.
"""

import re
import sys
from pathlib import Path

import nbformat
import sync_notebooks  # the script next to this one


def cells_from_script(text):
    cells = []
    for chunk in re.split(r"^# %%", text, flags=re.M)[1:]:
        header, _, body = chunk.partition("\n")
        body = body.strip("\n")
        if "[markdown]" in header:
            lines = [re.sub(r"^# ?", "", line) for line in body.splitlines()]
            cells.append(nbformat.v4.new_markdown_cell("\n".join(lines)))
        else:
            cells.append(nbformat.v4.new_code_cell(body))
    return cells


def main(source, target):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells_from_script(open(source).read())
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index:02d}"
    notebook.metadata = {
        "kernelspec": {
            "display_name": "Python 3",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    nbformat.validate(notebook)
    text = nbformat.writes(notebook)
    text += "" if text.endswith("\n") else "\n"  # as nbformat.write ends files
    try:
        text, _ = sync_notebooks.sync_text(
            text, Path(target).name, sync_notebooks.repository_url()
        )
    except ValueError as error:  # no badge or install line to rewrite
        print(f"warning: {error}", file=sys.stderr)
    Path(target).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])
