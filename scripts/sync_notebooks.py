"""Keeps each notebook's Colab badge and install line in step with pyproject.toml.

The repository's address is written once, in `pyproject.toml`:

    [project.urls]
    Repository = "https://github.com/OWNER/NAME"

Every notebook repeats it twice, where a reader needs it: the "Open in Colab"
badge of its first cell links to
`https://colab.research.google.com/github/OWNER/NAME/blob/main/notebooks/<file>`,
and its setup cell runs `pip install "git+https://github.com/OWNER/NAME"` when
`keras_ae` is missing. This script rewrites those two strings from
pyproject.toml and leaves every other byte of each notebook as it is.

    python scripts/sync_notebooks.py           # rewrite the notebooks that are stale
    python scripts/sync_notebooks.py --check   # only report them; exit 1 if any

Standard library only (Python 3.11+, for tomllib), so it runs before anything
is installed.
"""

import argparse
import json
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"
PYPROJECT = ROOT / "pyproject.toml"
BRANCH = "main"  # the branch whose notebooks the badges open

# Patterns run on the notebook's raw JSON text, where a double quote inside a
# cell's source is written \". The badge link ends at the notebook's file name;
# the install spec is the Python string literal that holds "git+".
BADGE_PATTERN = re.compile(r"https://colab\.research\.google\.com/github/[^\"\\\s]+")
INSTALL_PATTERN = re.compile(r"(?<=\\\")[^\"\\]*git\+[^\"\\]*(?=\\\")")
GITHUB_PATTERN = re.compile(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?")


def repository_url(pyproject=PYPROJECT):
    """Returns `Repository` of pyproject.toml's `[project.urls]`.

    Args:
        pyproject: Path of the pyproject.toml to read.

    Returns:
        The URL, e.g. `"https://github.com/keras-ae/keras-ae"`.
    """
    project = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]
    url = project.get("urls", {}).get("Repository")
    if not url:
        raise ValueError(
            f"Expected a `Repository = ...` entry in [project.urls] of {pyproject}. "
            f"Received: [project.urls] = {project.get('urls')!r}"
        )
    _github_owner_and_name(url)
    return url


def _github_owner_and_name(url):
    match = GITHUB_PATTERN.fullmatch(url)
    if not match:
        raise ValueError(
            "Expected the Repository URL to be https://github.com/OWNER/NAME "
            f"(Colab opens notebooks from GitHub). Received: {url!r}"
        )
    return match.groups()


def badge_link(url, notebook_name):
    """Returns the Colab link that opens `notebooks/<notebook_name>` of `url`."""
    owner, name = _github_owner_and_name(url)
    return (
        f"https://colab.research.google.com/github/{owner}/{name}/blob/{BRANCH}/"
        f"notebooks/{notebook_name}"
    )


def install_spec(url):
    """Returns what the setup cell passes to `pip install` on Colab.

    No extras: the notebooks need only the package's own dependencies. The
    `course` extra (nbclient, nbconvert, ...) serves the headless course runner,
    not a notebook open in Colab, and Colab's TensorFlow and Keras already meet
    the package's version ranges, so pip keeps them.
    """
    return f"git+{url}"


def _json_string(text):
    return json.dumps(text, ensure_ascii=False)[1:-1]


def sync_text(text, notebook_name, url):
    """Rewrites the badge link and the install spec of one notebook's JSON text.

    Args:
        text: The notebook file's content.
        notebook_name: Its file name, e.g. `"01_undercomplete_autoencoders.ipynb"`.
        url: The repository URL (see `repository_url`).

    Returns:
        `(new_text, changes)`: `changes` names what differed, e.g.
        `["badge link", "install line"]`, empty when the text was up to date.

    Raises:
        ValueError: when the notebook does not hold exactly one badge link and
            one install spec, so there is nothing safe to rewrite.
    """
    changes = []
    for what, pattern, wanted in (
        ("badge link", BADGE_PATTERN, badge_link(url, notebook_name)),
        ("install line", INSTALL_PATTERN, install_spec(url)),
    ):
        found = pattern.findall(text)
        if len(found) != 1:
            raise ValueError(
                f"Expected one {what} in {notebook_name}. "
                f"Received: {len(found)} ({found!r})"
            )
        wanted = _json_string(wanted)
        if found[0] != wanted:
            text = pattern.sub(lambda _, wanted=wanted: wanted, text)
            changes.append(what)
    return text, changes


def sync_notebook(path, url, *, write=True):
    """Checks one notebook file and, if `write`, rewrites it when stale.

    Returns:
        The list of what was (or would be) changed; empty when up to date.
    """
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as file:  # keep line endings
        text = file.read()
    new_text, changes = sync_text(text, path.name, url)
    if changes and write:
        with open(path, "w", encoding="utf-8", newline="") as file:
            file.write(new_text)
    return changes


def sync_notebooks(notebooks_dir=NOTEBOOKS_DIR, pyproject=PYPROJECT, *, write=True):
    """Checks (and, if `write`, fixes) every `*.ipynb` of `notebooks_dir`.

    Returns:
        `(stale, errors)`: dicts from notebook path to the list of what was
        stale, and to the error that prevented checking it.
    """
    url = repository_url(pyproject)
    stale, errors = {}, {}
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        try:
            changes = sync_notebook(path, url, write=write)
        except ValueError as error:
            errors[path] = str(error)
            continue
        if changes:
            stale[path] = changes
    return stale, errors


def _shown(path):
    path = Path(path).resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="report stale notebooks; change nothing"
    )
    parser.add_argument("--notebooks-dir", type=Path, default=NOTEBOOKS_DIR)
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT)
    args = parser.parse_args(argv)

    url = repository_url(args.pyproject)
    stale, errors = sync_notebooks(
        args.notebooks_dir, args.pyproject, write=not args.check
    )
    verb = "stale" if args.check else "updated"
    for path, changes in stale.items():
        print(f"{verb}: {_shown(path)} ({', '.join(changes)})")
    for path, error in errors.items():
        print(f"error: {_shown(path)}: {error}")
    total = len(list(Path(args.notebooks_dir).glob("*.ipynb")))
    source = f"Repository = {url} in {_shown(args.pyproject)}"
    if args.check and stale:
        print(
            f"{len(stale)} of {total} notebooks disagree with {source}; "
            "run `python scripts/sync_notebooks.py` to fix them"
        )
    elif not errors:
        print(f"{total} notebooks agree with {source}")
    return 1 if errors or (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
