"""Builds a notebook from a percent-format script (`# %%` code, `# %% [markdown]` text).

The course keeps its notebooks as .ipynb; this script is how they are written and
rewritten: `python scripts/py_to_notebook.py SOURCE.py notebooks/NAME.ipynb`.
Outputs are left empty: the course run fills them.
"""

import re
import sys

import nbformat


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
    nbformat.write(notebook, target)


if __name__ == "__main__":
    main(*sys.argv[1:3])
