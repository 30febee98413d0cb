"""The repository's address lives in pyproject.toml; notebooks copy it from there."""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import keras_ae

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SCRIPT = ROOT / "scripts" / "sync_notebooks.py"
FORK_URL = "https://github.com/someone/course-fork"


def load_script():
    spec = importlib.util.spec_from_file_location("sync_notebooks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync = load_script()


def pyproject_repository():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["urls"]["Repository"]


def first_cell_source(path):
    return "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])


def test_pyproject_holds_the_github_repository():
    assert sync.repository_url() == pyproject_repository()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", pyproject_repository())


def test_package_constant_equals_pyproject():
    assert keras_ae.REPOSITORY_URL == pyproject_repository()


def test_check_passes_on_the_repository():
    assert len(NOTEBOOKS) >= 10
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == (
        f"{len(NOTEBOOKS)} notebooks agree with Repository = "
        f"{pyproject_repository()} in pyproject.toml\n"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_badge_opens_the_notebook_itself_and_install_uses_the_repository(path):
    url = pyproject_repository()
    owner_and_name = url.removeprefix("https://github.com/")
    links = re.findall(r'href="([^"]+)"', first_cell_source(path))
    assert links == [
        f"https://colab.research.google.com/github/{owner_and_name}/blob/main/"
        f"notebooks/{path.name}"
    ]
    setup = [
        "".join(cell["source"])
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]
        if cell["cell_type"] == "code" and "pip" in "".join(cell["source"])
    ]
    assert len(setup) == 1
    assert re.findall(r'"([^"]*git\+[^"]*)"', setup[0]) == [f"git+{url}"]


def copy_with_fork_url(tmp_path):
    """A copy of two notebooks and of pyproject.toml naming another repository."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for path in NOTEBOOKS[:2]:
        shutil.copy(path, notebooks / path.name)
    pyproject = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    pyproject.write_text(text.replace(pyproject_repository(), FORK_URL))
    return notebooks, pyproject


def changed_lines(before, after):
    pairs = zip(
        before.splitlines(keepends=True), after.splitlines(keepends=True), strict=True
    )
    return [(old, new) for old, new in pairs if old != new]


def test_changed_url_is_detected_and_fixed_touching_only_two_lines(tmp_path):
    notebooks, pyproject = copy_with_fork_url(tmp_path)
    originals = {p.name: p.read_bytes() for p in notebooks.glob("*.ipynb")}

    stale, errors = sync.sync_notebooks(notebooks, pyproject, write=False)
    assert errors == {}
    assert {p.name: c for p, c in stale.items()} == {
        name: ["badge link", "install line"] for name in originals
    }
    assert {p.name: p.read_bytes() for p in notebooks.glob("*.ipynb")} == originals

    stale, errors = sync.sync_notebooks(notebooks, pyproject, write=True)
    assert len(stale) == 2 and errors == {}
    for name, original in originals.items():
        fixed = (notebooks / name).read_bytes()
        assert len(fixed) == len(original) + 2 * (
            len(FORK_URL) - len(pyproject_repository())
        )
        assert fixed.endswith(b"}\n") == original.endswith(b"}\n")
        lines = changed_lines(original.decode(), fixed.decode())
        assert len(lines) == 2
        assert len(original.splitlines()) == len(fixed.splitlines())
        badge, install = (new for _, new in lines)
        assert (
            f"https://colab.research.google.com/github/someone/course-fork/blob/main/"
            f"notebooks/{name}" in badge
        )
        assert install == f'    "         \\"git+{FORK_URL}\\"]\\n",\n'
        # Parsed, the notebooks differ only in those two strings.
        restored = fixed.decode().replace(FORK_URL, pyproject_repository())
        restored = restored.replace("someone/course-fork", "keras-ae/keras-ae")
        assert json.loads(restored) == json.loads(original)

    assert sync.sync_notebooks(notebooks, pyproject, write=False) == ({}, {})


def test_check_command_names_the_stale_notebooks_and_exits_1(tmp_path):
    notebooks, pyproject = copy_with_fork_url(tmp_path)
    command = [
        sys.executable,
        str(SCRIPT),
        "--notebooks-dir",
        str(notebooks),
        "--pyproject",
        str(pyproject),
    ]
    check = subprocess.run([*command, "--check"], capture_output=True, text=True)
    assert check.returncode == 1
    for path in NOTEBOOKS[:2]:
        assert f"stale: {notebooks / path.name} (badge link, install line)" in (
            check.stdout
        )
    assert f"2 of 2 notebooks disagree with Repository = {FORK_URL}" in check.stdout

    fix = subprocess.run(command, capture_output=True, text=True)
    assert fix.returncode == 0, fix.stdout + fix.stderr
    again = subprocess.run([*command, "--check"], capture_output=True, text=True)
    assert again.returncode == 0
    assert "2 notebooks agree" in again.stdout


def test_renamed_copy_gets_a_badge_for_its_own_name(tmp_path):
    source = NOTEBOOKS[1]
    copy = tmp_path / "12_renamed.ipynb"
    shutil.copy(source, copy)
    url = pyproject_repository()
    assert sync.sync_notebook(copy, url, write=True) == ["badge link"]
    assert "notebooks/12_renamed.ipynb" in first_cell_source(copy)
    assert source.name not in copy.read_text()


def test_missing_badge_is_an_error_not_a_silent_pass(tmp_path):
    text = NOTEBOOKS[0].read_text(encoding="utf-8")
    badge = re.search(r"https://colab\.research\.google\.com/github/[^\\]+", text)
    broken = text.replace(badge.group(0), "")
    with pytest.raises(ValueError, match="Expected one badge link"):
        sync.sync_text(broken, NOTEBOOKS[0].name, pyproject_repository())
    with pytest.raises(ValueError, match="Expected the Repository URL"):
        sync.badge_link("https://gitlab.com/a/b", "x.ipynb")
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\nname = "x"\n\n[project.urls]\nHome = "https://x"\n')
    with pytest.raises(ValueError, match="Repository"):
        sync.repository_url(bad)


def test_py_to_notebook_writes_the_badge_and_install_from_pyproject(tmp_path):
    source = tmp_path / "lesson.py"
    source.write_text(
        "# %% [markdown]\n"
        "# # 42 · A lesson\n"
        "#\n"
        '# <a href="https://colab.research.google.com/github/old/place/blob/main/'
        'notebooks/old.ipynb" target="_parent">badge</a>\n'
        "\n"
        "# %%\n"
        'spec = "git+https://github.com/old/place"\n'
    )
    target = tmp_path / "42_lesson.ipynb"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "py_to_notebook.py"), source, target],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    cells = json.loads(target.read_text())["cells"]
    url = pyproject_repository()
    assert sync.badge_link(url, "42_lesson.ipynb") in "".join(cells[0]["source"])
    assert "".join(cells[1]["source"]) == f'spec = "git+{url}"'
    assert sync.sync_notebook(target, url, write=False) == []
